"""Tolerant JSON parsing of model output: fences, prose around the object, field aliases.

Upstream's enrichment broke for weeks because a model answered `accepted_memories`
instead of `memories` (reference 12, defect 1); aliases are normalised here once.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)

#: alias -> canonical key, applied at every level of the parsed value.
KEY_ALIASES = {
    "accepted_memories": "memories",
    "acceptedMemories": "memories",
    "accepted": "memories",
    "memory": "memory_text",
    "text": "memory_text",
    "observation_list": "observations",
    "derived_observations": "observations",
    "short_digest": "short",
    "long_digest": "long",
    "short_summary": "short",
    "long_summary": "long",
    "memoryLaneType": "memory_lane_type",
    "lane": "memory_lane_type",
}


class JSONParseError(ValueError):
    pass


def _balanced_object(text: str) -> str | None:
    """The first balanced {...} or [...] in text, respecting strings."""
    for opener, closer in (("{", "}"), ("[", "]")):
        start = text.find(opener)
        while start != -1:
            depth = 0
            in_str = False
            escape = False
            for i in range(start, len(text)):
                ch = text[i]
                if in_str:
                    if escape:
                        escape = False
                    elif ch == "\\":
                        escape = True
                    elif ch == '"':
                        in_str = False
                    continue
                if ch == '"':
                    in_str = True
                elif ch == opener:
                    depth += 1
                elif ch == closer:
                    depth -= 1
                    if depth == 0:
                        return text[start : i + 1]
            start = text.find(opener, start + 1)
    return None


def _normalise(value: Any, parent: str | None = None) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            k = str(k)
            key: str = KEY_ALIASES.get(k, k)
            # `memory` is an alias of memory_text inside an item, not of the top-level list.
            if k == "memory" and isinstance(v, list):
                key = "memories"
            if key in out and k != key:
                continue
            out[key] = _normalise(v, key)
        return out
    if isinstance(value, list):
        return [_normalise(v, parent) for v in value]
    return value


def parse_json_response(text: str) -> Any:
    """Parse a model's JSON answer; raise JSONParseError when nothing usable is there."""
    if text is None:
        raise JSONParseError("empty response")
    candidates: list[str] = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    found = _balanced_object(text)
    if found:
        candidates.append(found)
    for cand in candidates:
        if not cand:
            continue
        try:
            return _normalise(json.loads(cand))
        except ValueError:
            # Trailing commas are a common slip.
            try:
                return _normalise(json.loads(re.sub(r",\s*([}\]])", r"\1", cand)))
            except ValueError:
                continue
    raise JSONParseError("no JSON object found in the model's answer")


def parse_json_object(text: str) -> dict[str, Any]:
    value = parse_json_response(text)
    if isinstance(value, list):
        # A bare list of items: treat as the memories/observations list.
        return {"items": value}
    if not isinstance(value, dict):
        raise JSONParseError("the model's answer is not a JSON object")
    return value
