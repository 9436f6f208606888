"""The seed's derive_session_key, bit for bit, against vectors computed by the original."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexus_memory.domain.agents import canonicalize_agent_type, normalize_project_path
from nexus_memory.domain.sessions import derive_session_key, fx_hash64, sanitize_component

VECTORS = Path(__file__).resolve().parents[1] / "data" / "session_key_vectors.json"
CASES = json.loads(VECTORS.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["expected"][:40] for c in CASES])
def test_every_seed_vector(case: dict[str, str | None]) -> None:
    agent = case["agent_type"]
    assert agent is not None
    assert derive_session_key(agent, case["session_key"], case["cwd"]) == case["expected"]
    assert canonicalize_agent_type(agent) == case["canonical_agent"]
    assert sanitize_component(agent) == case["sanitized_agent"]


def test_vectors_cover_every_branch() -> None:
    expected = [c["expected"] for c in CASES]
    assert any(e.startswith("derived-") and len(e) == len("derived-claude-code-") + 16 for e in expected)
    assert any(e.count("-") >= 2 and len(e) == len("derived-") + 16 + 1 + 16 for e in expected)
    assert any(not e.startswith("derived-") for e in expected)


def test_explicit_key_is_returned_unchanged() -> None:
    assert derive_session_key("claude", " keep me ", "/x") == " keep me "


def test_fx_hash_is_stable_and_wraps() -> None:
    assert fx_hash64("") == 0
    assert fx_hash64("a") == ord("a")
    # two chunks: h = (a * K + b) mod 2**64
    k = 0x517CC1B727220A95
    first = int.from_bytes(b"abcdefgh", "little")
    second = int.from_bytes(b"i".ljust(8, b"\0"), "little")
    assert fx_hash64("abcdefghi") == ((first * k) + second) % 2**64


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/a//b///c/", "/a/b/c"), ("/", "/"), ("//", "/"), ("rel/dir/", "rel/dir"), ("", "")],
)
def test_normalize_project_path(raw: str, expected: str) -> None:
    assert normalize_project_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("Claude", "claude-code"), ("claude_code", "claude-code"), ("PiMono", "pi-mono"), ("OMP", "oh-my-pi"),
     ("factory", "droid"), ("Gemini-CLI", "gemini"), ("qwen-code", "qwen"), ("cursor-agent", "cursor"),
     ("copilot-cli", "copilot"), ("opencode", "opencode"), ("SomethingElse", "somethingelse")],
)
def test_canonicalize_is_idempotent(raw: str, canonical: str) -> None:
    assert canonicalize_agent_type(raw) == canonical
    assert canonicalize_agent_type(canonical) == canonical
