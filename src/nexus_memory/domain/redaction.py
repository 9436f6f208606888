"""Secret redaction, applied before anything is stored (content, context, metadata).

Patterns cover the common credential shapes; `<private>...</private>` spans are
removed whole. Redaction is idempotent: redacting twice changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"


def _src(pattern: str, flags: int = 0) -> tuple[str, int]:
    return pattern, flags


# (name, (pattern, flags)); compiled on first use: most text never needs them (see below).
_SOURCES: list[tuple[str, tuple[str, int]]] = [
    ("private_block", _src(r"<private>.*?(?:</private>|$)", re.S | re.I)),
    ("private_key", _src(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S)),
    ("anthropic_key", _src(r"\bsk-ant-[A-Za-z0-9_\-]{16,}")),
    ("openai_key", _src(r"\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_\-]{20,}")),
    ("github_token", _src(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("aws_access_key", _src(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("google_api_key", _src(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("slack_token", _src(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("stripe_key", _src(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    # tokens of tools agents often run (GitLab, npm, PyPI, Hugging Face)
    ("tool_token", _src(r"\b(?:glpat-[A-Za-z0-9_\-]{20,}|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_\-]{50,}"
                        r"|hf_[A-Za-z0-9]{30,})")),
    ("basic_auth", _src(r"(?i)\b(basic)\s+[A-Za-z0-9+/]{12,}={0,2}")),
    ("jwt", _src(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    ("bearer", _src(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*")),
    # scheme://user:password@host -> keep scheme, user and host
    ("url_password", _src(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]+):([^\s@/]+)@")),
    # key = value / key: value / "key": "value" for secret-looking names
    ("assignment", _src(
        r"(?i)(\b[\w.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|"
        r"private[_\-]?key|client[_\-]?secret|auth)[\w.\-]*[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}{]{6,})")),
]


# Values the assignment rule must leave alone: already redacted, or an auth scheme
# whose token the bearer rule has handled ("Authorization: Bearer [REDACTED]").
_KEEP_VALUES = frozenset({REDACTED, "Bearer", "bearer", "BEARER"})


# Every pattern above needs one of these literals; text without any of them has nothing to
# redact, so one search replaces thirteen substitutions on the common path (bulk stores).
_MAY_HOLD_SECRET = re.compile(
    r"<private|-----BEGIN|sk-|gh[pousr]_|github_pat_|AKIA|ASIA|AIza|xox|_live_|_test_|eyJ|bearer|://"
    r"|pass|pwd|secret|token|key|auth|basic|glpat-|npm_|pypi-|hf_",
    re.I,
)


def redact_text(text: str) -> str:
    if not text or not _MAY_HOLD_SECRET.search(text):
        return text
    return _redact_all(text)


_COMPILED: list[tuple[str, re.Pattern[str]]] = []


def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    if not _COMPILED:
        _COMPILED.extend((name, re.compile(src, flags)) for name, (src, flags) in _SOURCES)
    return _COMPILED


def _redact_all(text: str) -> str:
    out = text
    for name, pattern in _patterns():
        if name in ("bearer", "basic_auth"):
            out = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}", out)
        elif name == "url_password":
            out = pattern.sub(lambda m: f"{m.group(1)}:{REDACTED}@", out)
        elif name == "assignment":
            out = pattern.sub(lambda m: m.group(1) + (m.group(2) if m.group(2) in _KEEP_VALUES else REDACTED), out)
        else:
            out = pattern.sub(REDACTED, out)
    return out


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dict keys are kept)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value
