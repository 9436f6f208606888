"""JSON that people and tools hand us, made fit to store.

Python's `json` reads `NaN` and `Infinity`, nests as deep as the interpreter lets it, and keeps
lone surrogates (`"\\ud800"`) in strings. SQLite's JSON functions refuse the first (it then looks
like a corrupt file), every recursive walk (redaction, deep copies) dies on the second, and the
UTF-8 encoder refuses the third. So user JSON is checked once where it enters the services, with
an error that names the problem (`check_metadata`), and hook payloads, which are never refused
(hooks fail open), are made safe instead (`sanitize`). Both walks are iterative, so a hostile
depth cannot exhaust the stack while it is being measured.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from nexus_memory.errors import InvalidInput

#: Deepest metadata object accepted (a hook payload's own nesting is kept below this by `sanitize`).
MAX_DEPTH = 32
#: Largest metadata accepted, as characters of compact JSON (a memory's content may hold 200,000).
MAX_METADATA_CHARS = 100_000
TOO_DEEP = "[nested too deep]"

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the common case costs one encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _describe_float(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def check_metadata(value: Any, what: str = "metadata") -> dict[str, Any]:
    """A JSON-ready copy of the metadata object `value`, or InvalidInput saying what is wrong.

    Lone surrogates are replaced (the text is kept); NaN/Infinity, depth past MAX_DEPTH, keys that
    are not strings and size past MAX_METADATA_CHARS are refused.
    """
    if not isinstance(value, Mapping):
        raise InvalidInput(f"invalid {what}: it must be a JSON object", hint='for example {"source": "notes"}')
    root: dict[str, Any] = {}
    # (source container, target container, depth, path)
    stack: list[tuple[Any, Any, int, str]] = [(value, root, 1, "")]
    while stack:
        src, dst, depth, path = stack.pop()
        items = src.items() if isinstance(src, Mapping) else enumerate(src)
        for key, item in items:
            if isinstance(src, Mapping) and not isinstance(key, str):
                raise InvalidInput(f"invalid {what}: the key {key!r} at {path or 'the top'} is not a string",
                                   hint="use text keys")
            where = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
            where = where.lstrip(".")
            if isinstance(key, str):
                key = clean_text(key)
            if isinstance(item, float) and not math.isfinite(item):
                raise InvalidInput(f"invalid {what}: {_describe_float(item)} is not JSON (at {where})",
                                   hint="use null, a number or a string such as \"NaN\"")
            if isinstance(item, str):
                item = clean_text(item)
            elif isinstance(item, Mapping | list | tuple):
                if depth >= MAX_DEPTH:
                    raise InvalidInput(f"invalid {what}: nested deeper than {MAX_DEPTH} levels (at {where})",
                                       hint="flatten it")
                child: Any = {} if isinstance(item, Mapping) else [None] * len(item)
                stack.append((item, child, depth + 1, where))
                item = child
            dst[key] = item
    size = len(json.dumps(root, ensure_ascii=False, separators=(",", ":"), default=str))
    if size > MAX_METADATA_CHARS:
        raise InvalidInput(f"invalid {what}: {size} characters of JSON",
                           hint=f"keep it under {MAX_METADATA_CHARS} characters; store large text as content")
    return root


def sanitize(value: Any, *, max_depth: int = 24, max_chars: int | None = None) -> Any:
    """A copy of any parsed JSON value that every writer accepts: non-finite numbers become their
    names as strings, lone surrogates U+FFFD, keys strings, anything past `max_depth` the string
    TOO_DEEP, and (with `max_chars`) each string at most that long. For payloads that must be
    kept whatever they hold (hook events)."""

    def scalar(item: Any) -> Any:
        if isinstance(item, str):
            text = clean_text(item) if max_chars is None or len(item) <= max_chars else \
                clean_text(item[:max_chars]) + " …[truncated]"
            return text
        if isinstance(item, float) and not math.isfinite(item):
            return _describe_float(item)
        if item is None or isinstance(item, bool | int | float):
            return item
        return clean_text(str(item))

    if not isinstance(value, Mapping | list | tuple):
        return scalar(value)
    root: Any = {} if isinstance(value, Mapping) else []
    stack: list[tuple[Any, Any, int]] = [(value, root, 1)]
    while stack:
        src, dst, depth = stack.pop()
        items = src.items() if isinstance(src, Mapping) else enumerate(src)
        for key, item in items:
            if isinstance(item, Mapping | list | tuple):
                if depth >= max_depth:
                    out: Any = TOO_DEEP
                else:
                    out = {} if isinstance(item, Mapping) else []
                    stack.append((item, out, depth + 1))
            else:
                out = scalar(item)
            if isinstance(dst, dict):
                dst[scalar(key) if isinstance(key, str) else str(key)] = out
            else:
                dst.append(out)
    return root
