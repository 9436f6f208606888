"""Secrets are redacted before anything is stored; redaction is idempotent."""

from __future__ import annotations

import pytest

from nexus_memory.domain.redaction import REDACTED, redact_text, redact_value

SECRET_CASES = [
    ("key sk-ant-abcdefghijklmnopqrstuvwx done", "key [REDACTED] done"),
    ("export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz12", "export OPENAI_API_KEY=[REDACTED]"),
    ("password: hunter22", "password: [REDACTED]"),
    ('{"client_secret": "abcdef123456"}', '{"client_secret": "[REDACTED]"}'),
    ("postgres://bob:s3cretpw@db:5432/x", "postgres://bob:[REDACTED]@db:5432/x"),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "Authorization: Bearer [REDACTED]"),
    ("<private>my secret</private> visible", "[REDACTED] visible"),
    ("aws AKIAABCDEFGHIJKLMNOP key", "aws [REDACTED] key"),
    ("gh token ghp_" + "a" * 36, "gh token [REDACTED]"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[REDACTED]"),
    ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "jwt [REDACTED]"),
]


@pytest.mark.parametrize(("text", "expected"), SECRET_CASES)
def test_redacts(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(redact_text(text)) == expected


@pytest.mark.parametrize("text", [
    "plain text about tokens and passwords",
    "token=abc",  # too short to be a credential
    "The database is PostgreSQL 15 on port 5432",
    "",
])
def test_leaves_ordinary_text(text: str) -> None:
    assert redact_text(text) == text


def test_redact_value_walks_json() -> None:
    value = {"api_key": "x", "nested": ["password=supersecret", ("sk-ant-" + "b" * 20,)], "n": 3, "ok": None}
    out = redact_value(value)
    assert out["nested"][0] == f"password={REDACTED}"
    assert out["nested"][1] == (REDACTED,)
    assert out["n"] == 3 and out["ok"] is None and "api_key" in out


def test_fast_path_never_skips_a_secret() -> None:
    """The literal pre-check must hold for everything a pattern would change."""
    import random

    from nexus_memory.domain import redaction

    rng = random.Random(5)
    pieces = [t for t, _ in SECRET_CASES] + ["plain words", "more text here", "12345", "a=b", " ", "\n",
                                             "Token", "PASSWORD=abcdefgh", "x://u:p@h", "KEY: value123"]
    for _ in range(2000):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        assert redaction.redact_text(text) == redaction._redact_all(text)
    for text, expected in SECRET_CASES:
        assert redaction._MAY_HOLD_SECRET.search(text), text
        assert redaction.redact_text(text) == expected
