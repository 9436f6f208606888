"""Issue 15, part 3: every secret shape of the corpus, through every channel, then a scan of every file.

Channels: content, context, labels, session keys and metadata (values and secret-named keys) through
the CLI, REST and MCP; hook prompts, tool input, tool output, errors, session ids and transcripts
through the real hook entry point; `nexus import` in all three formats, and the `Importer` called
with `redact=False`; an export written under the state folder. Then every file under NEXUS_HOME
(data, state, logs, spool, exports, runtime state) and every file name is scanned for every secret
body (case-insensitively: the full-text index keeps lower-cased words). One hit fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.redaction import redact_text
from tests.conftest import nexus_executable, run_nexus
from tests.security.secret_corpus import SHAPES, Shape, corpus
from tests.servekit import LiveServer


def _short(text: str) -> bool:
    return len(text) <= 100 and "," not in text and "\n" not in text


def _scan(root: Path, secrets: list[tuple[Shape, str]]) -> list[str]:
    hits: list[str] = []
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root)).lower()
        data = path.read_bytes().lower() if path.is_file() else b""
        for shape, body in secrets:
            needle = body.lower()
            if needle in name or needle.encode() in data:
                hits.append(f"{shape.name}: {path.relative_to(root)}")
    return hits


def _cli_channels(items: list[tuple[Shape, str, str]]) -> None:
    texts = [text for _, text, _ in items]
    metadata = {"notes": texts, "nested": {"fields": {f"{s.name.replace('-', '_')}_password": body
                                                      for s, _, body in items}}}
    labels = [arg for _, text, _ in items if _short(text) for arg in ("-l", text)][:120]
    proc = run_nexus("store", "-m", "\n\n".join(texts), "--context", "\n".join(texts)[:40_000],
                     "--metadata-json", json.dumps(metadata), *labels, "--category", "facts")
    assert proc.returncode == 0, proc.stderr
    rest = [arg for _, text, _ in items if _short(text) for arg in ("-l", text)][120:]
    if rest:
        assert run_nexus("store", "-m", "more labels", *rest).returncode == 0
    for _, text, _ in items:
        if _short(text):
            proc = run_nexus("store", "-m", "session key channel", "--session-key", text)
            assert proc.returncode == 0, proc.stderr


def _rest_channels(app: App, items: list[tuple[Shape, str, str]]) -> None:
    with LiveServer(app) as server:
        for shape, text, body in items:
            record = {"content": f"REST {shape.name}: {text}", "metadata": {"raw": text, "apiKey": body},
                      "labels": [text] if _short(text) else [], "session_key": text if _short(text) else None}
            r = httpx.post(server.url + "/api/v1/memories", json=record, timeout=30)
            assert r.status_code == 201, r.text
            put = httpx.put(f"{server.url}/api/v1/memories/{r.json()['id']}",
                            json={"content": f"updated {shape.name}: {text}", "metadata": {"token": body}}, timeout=30)
            assert put.status_code == 200, put.text


def _mcp_channel(items: list[tuple[Shape, str, str]]) -> None:
    from mcp import Client, StdioServerParameters

    async def go() -> None:
        params = StdioServerParameters(command=nexus_executable(), args=["mcp"], env=dict(os.environ))
        async with Client(params, read_timeout_seconds=60) as client:
            for shape, text, body in items:
                result = await client.call_tool("store_memory", {
                    "content": f"MCP {shape.name}: {text}", "labels": [text] if _short(text) else [],
                    "metadata": {"raw": text, "client_secret": body}})
                assert not result.is_error, result.content[0].text

    asyncio.run(go())


def _hook(event: str, payload: dict[str, Any], cwd: Path) -> None:
    proc = subprocess.run([nexus_executable(), "hook", "claude-code", event, "--sync"], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def _hook_channels(items: list[tuple[Shape, str, str]], tmp: Path) -> None:
    texts = [text for _, text, _ in items]
    joined = "\n".join(texts)
    transcript = tmp / "transcript.jsonl"
    with transcript.open("w") as fh:
        for text in texts:
            fh.write(json.dumps({"type": "user", "message": {"role": "user", "content": f"use {text}"}}) + "\n")
            fh.write(json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [
                {"type": "text", "text": f"done with {text}"}]}}) + "\n")
    base = {"session_id": "corpus-session", "cwd": str(tmp), "transcript_path": str(transcript)}
    _hook("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"}, tmp)
    _hook("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit", "prompt": joined}, tmp)
    _hook("PostToolUse", {**base, "hook_event_name": "PostToolUse", "tool_name": "Bash",
                          "tool_input": {"command": joined, "env": {"API_TOKEN": texts[0]}},
                          "tool_response": {"stdout": joined, "stderr": joined}}, tmp)
    _hook("PostToolUseFailure", {**base, "hook_event_name": "PostToolUseFailure", "tool_name": "Bash",
                                 "tool_input": {"command": "deploy"}, "error": joined}, tmp)
    for _, text, _ in [item for item in items if _short(item[1])][::3]:  # a sample: each call is a process
        if _short(text):
            _hook("PostToolUse", {"session_id": text, "cwd": str(tmp), "hook_event_name": "PostToolUse",
                                  "tool_name": "Read", "tool_input": {"file_path": "/etc/hosts"},
                                  "tool_response": "127.0.0.1 localhost"}, tmp)
    _hook("Stop", {**base, "hook_event_name": "Stop", "last_assistant_message": joined}, tmp)
    _hook("SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "exit"}, tmp)


def _import_channels(items: list[tuple[Shape, str, str]], tmp: Path) -> None:
    from nexus_memory.services.portability.importer import Importer, read_jsonl

    header = {"type": "header", "format": "nexus-memory-export", "version": 1}
    records = [header] + [{
        "type": "memory", "id": 90_000 + i, "namespace": "importer", "content": f"imported {shape.name}: {text}",
        "context": text, "labels": [text] if _short(text) else ["import"], "session_key": text if _short(text) else None,
        "metadata": {"raw": text, "db_password": body}, "created_at": f"2026-01-01T00:00:{i % 60:02d}.000000Z",
    } for i, (shape, text, body) in enumerate(items)] + [{"type": "end", "counts": {}}]
    nexus_file = tmp / "export.jsonl"
    nexus_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    from nexus_memory.services.portability.records import FORMAT

    assert FORMAT == "nexus-memory-export"
    proc = run_nexus("import", str(nexus_file), "--quiet")
    assert proc.returncode == 0, proc.stderr
    # the same records, straight through the Importer with redaction "off": redacted all the same
    other = [dict(r, namespace="importer-api") if r["type"] == "memory" else r for r in records]
    api_file = tmp / "export-api.jsonl"
    api_file.write_text("".join(json.dumps(r) + "\n" for r in other))
    app = build_app(load_settings())
    try:
        report = Importer(app.store, redact=False).run(read_jsonl(api_file))
        assert report.created == len(items), report.to_dict()
    finally:
        app.close()
    mcp_file = tmp / "memory.jsonl"
    mcp_file.write_text("".join(json.dumps({"type": "entity", "name": text if _short(text) else shape.name,
                                            "entityType": "credential", "observations": [text]}) + "\n"
                                for shape, text, _ in items))
    proc = run_nexus("import", str(mcp_file), "--format", "mcp-memory", "--quiet")
    assert proc.returncode == 0, proc.stderr
    md = tmp / "CLAUDE.md"
    md.write_text("# Secrets we must not keep\n" + "".join(f"- {text.replace(chr(10), ' ')}\n" for _, text, _ in items))
    proc = run_nexus("import", str(md), "--format", "instructions", "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_no_secret_body_reaches_any_stored_file(app: App, nexus_home: Path, tmp_path: Path) -> None:
    items = corpus()
    assert len(items) >= 60 and len({s.name for s in SHAPES}) == len(SHAPES)
    assert all(body in text for _, text, body in items)
    _cli_channels(items)
    _rest_channels(app, items)
    _mcp_channel(items)
    _hook_channels(items, tmp_path)
    _import_channels(items, tmp_path)
    assert run_nexus("export", "-o", str(nexus_home / "export-after.jsonl")).returncode == 0
    app.close()
    stored = build_app(load_settings())
    try:
        count = stored.memories.count(__import__("nexus_memory").MemoryFilter(include_raw=True))
    finally:
        stored.close()
    assert count > 4 * len(items)  # every channel stored something
    hits = _scan(nexus_home, [(shape, body) for shape, _, body in items])
    assert hits == [], "\n".join(hits)


def test_the_corpus_is_redacted_shape_by_shape() -> None:
    """The same check without the plumbing, so a miss names its shape directly."""
    missed = [shape.name for shape, text, body in corpus() if body in redact_text(text)]
    assert missed == []
