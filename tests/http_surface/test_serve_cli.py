"""`nexus serve` and `nexus mcp` as a user runs them: a real process, a real port."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import nexus_executable, run_nexus
from tests.servekit import free_port


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([nexus_executable(), "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    return proc, first


def _wait_healthy(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url + "api/v1/health", headers=headers, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_serve_prints_the_dashboard_url_and_serves_it() -> None:
    port = free_port()
    proc, first = _start("--port", str(port))
    try:
        assert first.strip() == f"Nexus Memory dashboard: http://127.0.0.1:{port}/"
        r = _wait_healthy(f"http://127.0.0.1:{port}/")
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        _stop(proc)


def test_beyond_loopback_a_token_is_generated_and_required() -> None:
    port = free_port()
    proc, first = _start("--host", "0.0.0.0", "--port", str(port), "--json")
    try:
        info = json.loads(first + "".join(proc.stdout.readline() for _ in range(6)))  # type: ignore[union-attr]
        assert info["token_required"] is True and len(info["token"]) >= 24
        url = f"http://127.0.0.1:{port}/"
        assert _wait_healthy(url).status_code == 401
        ok = httpx.get(url + "api/v1/health", headers={"authorization": f"Bearer {info['token']}"})
        assert ok.status_code == 200
    finally:
        _stop(proc)


def test_busy_port_is_a_one_line_error() -> None:
    port = free_port()
    proc, _ = _start("--port", str(port))
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/")
        second = run_nexus("serve", "--port", str(port), timeout=30)
        assert second.returncode == 1
        assert "cannot listen on 127.0.0.1" in second.stderr and "--port" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        _stop(proc)


def test_help_stays_light() -> None:
    code = ("import sys; from nexus_memory.cli.main import build_parser; build_parser(); "
            "heavy = [m for m in ('fastapi', 'uvicorn', 'mcp', 'starlette') if m in sys.modules]; print(heavy)")
    out = subprocess.run([os.path.join(os.path.dirname(nexus_executable()), "python"), "-c", code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "--transport" in run_nexus("serve", "--help").stdout


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path) as fh:
        return [int(p) for p in fh.read().split()]


def test_serve_embeds_and_dreams_in_a_worker_process_that_ends_with_it() -> None:
    port = free_port()
    env = {**os.environ, "NEXUS_EMBEDDING_BACKEND": "onnx"}
    proc = subprocess.Popen([nexus_executable(), "serve", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        health = _wait_healthy(url)
        assert health.headers["server-timing"].startswith("app;dur=")
        workers = _children(proc.pid)
        assert len(workers) == 1
        with open(f"/proc/{workers[0]}/cmdline") as fh:
            assert "worker" in fh.read().split("\0")
        # No search yet, but the server loads the model while it starts: on a new machine that
        # prepares and records the int8 kernel (the worker has nothing to embed, so it is not it).
        models = Path(os.environ["NEXUS_HOME"]) / "state" / "models"
        deadline = time.monotonic() + 60
        while not list(models.glob("minilm-int8-*.json")):
            assert time.monotonic() < deadline, "the server did not preload the embedding model"
            time.sleep(0.2)
        assert json.loads(next(models.glob("minilm-int8-*.json")).read_text())["kernel"] in ("int8", "fp32")
        created = httpx.post(url + "api/v1/memories", json={"content": "the nightly backup runs at 02:00 UTC"})
        assert created.status_code == 201
        memory_id = created.json()["id"]
        # The store returned before any embedding; the worker process adds the vector moments later.
        deadline = time.monotonic() + 60
        hits: list[int] = []
        while time.monotonic() < deadline and memory_id not in hits:
            found = httpx.post(url + "api/v1/memories/search",
                               json={"query": "when is the database backed up", "mode": "vector"}, timeout=30)
            assert found.status_code == 200, found.text
            hits = [h["memory"]["id"] for h in found.json()["results"]]
            time.sleep(0.2)
        assert memory_id in hits
        deadline = time.monotonic() + 20
        while (worker := httpx.get(url + "api/v1/cognition/overview").json()["worker"]) is None:
            assert time.monotonic() < deadline, "the worker process never reported its cognition status"
            time.sleep(0.2)
        assert worker["running"] is True and worker["errors"] == []
    finally:
        _stop(proc)
    with pytest.raises(ProcessLookupError):
        os.kill(workers[0], 0)
