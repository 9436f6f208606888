"""Session keys, bit-identical to the seed's `derive_session_key`.

Keys over 128 characters are shortened with the seed's FxHash-style 64-bit
hash, which (unlike Rust's DefaultHasher) is stable across builds and
languages, so a key derived by Python equals the one Rust derived.
"""

from __future__ import annotations

from nexus_memory.domain.agents import canonicalize_agent_type, normalize_project_path

_MASK = (1 << 64) - 1
_FX_SEED = 0x517CC1B727220A95
MAX_KEY_LEN = 128


def fx_hash64(text: str) -> int:
    """h = h * K + le_u64(chunk) (wrapping) over 8-byte chunks, zero padded."""
    data = text.encode("utf-8")
    h = 0
    for i in range(0, len(data), 8):
        chunk = data[i : i + 8].ljust(8, b"\x00")
        h = (h * _FX_SEED + int.from_bytes(chunk, "little")) & _MASK
    return h


def sanitize_component(value: str) -> str:
    """Keep ASCII letters, digits, `-`, `_`, `.`; every other character becomes `_`."""
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in value)


def derive_session_key(agent_type: str, session_key: str | None = None, cwd: str | None = None) -> str:
    """The explicit key when it is not blank, else a key derived from agent and cwd."""
    if session_key is not None and session_key.strip():
        return session_key
    canonical_agent = canonicalize_agent_type(agent_type)
    scope = normalize_project_path(cwd) if cwd is not None and cwd.strip() else "unknown-cwd"
    agent = sanitize_component(canonical_agent)
    path = sanitize_component(scope)
    derived = f"derived-{agent}-{path}"
    if len(derived) <= MAX_KEY_LEN:
        return derived
    path_hash = fx_hash64(path)
    # "derived-" (8) + agent + "-" (1) + 16 hex = 25 + len(agent)
    if 25 + len(agent) <= MAX_KEY_LEN:
        return f"derived-{agent}-{path_hash:016x}"
    return f"derived-{fx_hash64(agent):016x}-{path_hash:016x}"
