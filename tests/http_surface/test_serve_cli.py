"""`nexus serve` and `nexus mcp` as a user runs them: a real process, a real port."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx

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
