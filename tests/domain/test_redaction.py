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


def test_idempotent_on_random_mixtures() -> None:
    """Redacting twice changes nothing, whatever pieces meet (the rules run one after another)."""
    import random

    from tests.security.secret_corpus import corpus

    rng = random.Random(5)
    pieces = [t for t, _ in SECRET_CASES] + [t for _, t, _ in corpus()] + [
        "plain words", "more text here", "12345", "a=b", " ", "\n", "Token", "PASSWORD=abcdefgh", "x://u:p@h",
        "KEY: value123", "aws", ";", "--", "curl -u", "mysql -p"]
    for _ in range(1500):
        text = rng.choice(["", " ", "\n", "=", ":"]).join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        once = redact_text(text)
        assert redact_text(once) == once, text


# Shapes the issue found stored verbatim (fake values, built here).
ISSUE_SHAPES = [
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF" + "x" * 60 + "\n-----END PGP PRIVATE KEY BLOCK-----",
    "https://hooks.slack.com/services/T0000FAKE/B0000FAKE/" + "Fake" * 6,
    "SG." + "f" * 22 + "." + "k" * 43,
    "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + "QUJD" * 22 + ";EndpointSuffix=core.windows.net",
    "AWS secret for prod: wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY001",
    "DB_PASS=Sh0rtPw",
    "mysql -u root -pFakePw99 app",
    'password: "correct horse battery staple"',
    "password=p@ss@w0rd",
    "postgres://app:p@ss@w0rd@db:5432/x",
    "pwd=ab1",
]


@pytest.mark.parametrize("text", ISSUE_SHAPES)
def test_issue_shapes_are_redacted(text: str) -> None:
    out = redact_text(text)
    assert REDACTED in out
    for secret in ("lQOYBF", "Fake" * 6, "k" * 43, "QUJD" * 22, "bPxRfiCYFAKEKEY001", "Sh0rtPw", "FakePw99",
                   "battery staple", "p@ss@w0rd", "ab1"):
        assert secret not in out


@pytest.mark.parametrize("text", [
    "first pass: check the parser",          # prose
    "bypass=True",                           # not a password name
    "OLDPWD=/home/me/src PWD=/home/me",      # the shell's directories
    "token = next_token(stream)",            # code
    "password: HiddenText | None = None",    # a type annotation
    "password = args.password",              # a variable
    "commit 3f785a1c9d2b4e6f8a0b1c2d3e4f5a6b7c8d9e0f",
    "id 123e4567-e89b-12d3-a456-426614174000",
    '"integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="',
    "max_tokens: 4096",
    "the --password option asks for it",
])
def test_ordinary_code_and_prose_are_kept(text: str) -> None:
    assert redact_text(text) == text


def test_secret_named_json_keys_lose_their_values() -> None:
    out = redact_value({"db_password": "x1", "apiKey": "abcdefghij12", "session_key": "claude-code:abc",
                        "token_count": "12", "nested": {"client_secret": "s"}, "ghp_" + "a" * 36: 1})
    assert out["db_password"] == REDACTED and out["apiKey"] == REDACTED
    assert out["nested"]["client_secret"] == REDACTED
    assert out["session_key"] == "claude-code:abc" and out["token_count"] == "12"
    assert REDACTED in out  # a secret used as a key is redacted too


def test_hostile_text_costs_linear_time() -> None:
    """Long runs that almost match must not backtrack for ever (the test's timeout is the check)."""
    for text in ("a-" * 50_000, "password" * 20_000, "x" * 100_000 + "=", "sk-" + "a-" * 40_000,
                 "://" + ":" * 100_000, "aws " + "A" * 100_000, "-----BEGIN RSA PRIVATE KEY-----" * 2000):
        redact_text(text)
