"""SHA digests without `hashlib` on the hook path.

`import hashlib` loads OpenSSL (~2.5 ms of every cold hook start); CPython's own SHA modules
(`_sha1`, and `_sha256` before 3.12 / `_sha2` from 3.12) give the same digests for a fraction of that.
Other interpreters fall back to `hashlib`.
"""

from __future__ import annotations

from typing import Any

try:
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1 as _sha1


def _load_sha256() -> Any:
    import importlib

    for module in ("_sha256", "_sha2"):  # CPython <= 3.11, CPython >= 3.12
        try:
            return importlib.import_module(module).sha256
        except (ImportError, AttributeError):  # pragma: no cover - depends on the interpreter
            continue
    import hashlib  # pragma: no cover

    return hashlib.sha256  # pragma: no cover


_sha256 = _load_sha256()


def sha1_hex(text: str) -> str:
    return str(_sha1(text.encode("utf-8")).hexdigest())


def sha256_hex(data: str | bytes) -> str:
    return str(_sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest())
