"""Rules every backend shares: content identity, label merging, query text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.hashing import sha1_hex
from nexus_memory.domain.models import CognitiveMetadata, NewMemory, TextHit, is_raw_activity

if TYPE_CHECKING:  # built on first use (domain/records.py)
    from nexus_memory.domain.records import MemoryPatch

__all__ = ["sha1_hex"]  # re-exported: the storage layer's content identity


def content_hash(content: str) -> str:
    """Identity of content for dedup: trimmed and case-folded, then SHA-1."""
    return sha1_hex(content.strip().casefold())


def merge_labels(existing: Iterable[str], incoming: Iterable[str]) -> list[str]:
    """Case-insensitive union keeping the first spelling and the existing order."""
    out: list[str] = []
    seen: set[str] = set()
    for label in [*existing, *incoming]:
        key = label.casefold()
        if label and key not in seen:
            seen.add(key)
            out.append(label)
    return out


def merge_session_keys(metadata: Mapping[str, Any], keys: Iterable[str | None]) -> dict[str, Any]:
    """Add session keys to `metadata.cognitive.session_keys` (a copy is returned)."""
    cog = CognitiveMetadata.from_metadata(metadata)
    if cog is None:
        return dict(metadata)
    changed = False
    for key in keys:
        if key and key not in cog.session_keys:
            cog.session_keys.append(key)
            changed = True
    return cog.merge_into(metadata) if changed else dict(metadata)


_BOOKKEEPING_KEYS = ("runtime", "session_lifecycle")


def derived_columns(labels: Iterable[str], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Columns copied out of labels and metadata for indexed filters: level, session_key, is_raw,
    is_bookkeeping (runtime markers and session boundaries: records of the session, not memories),
    project (the repository key or project root a hook or stage recorded) and the reinforcement and
    contradiction counts (the orders of those names sort them)."""
    labels_t = tuple(labels)
    cog = CognitiveMetadata.from_metadata(metadata)
    level = cog.level.value if cog else "raw"
    session_key = cog.session_key if cog else None
    if not session_key:
        for key in ("raw_activity", *_BOOKKEEPING_KEYS):
            section = metadata.get(key)
            if isinstance(section, Mapping) and section.get("derived_session_key"):
                session_key = str(section["derived_session_key"])
                break
    bookkeeping = any(isinstance(metadata.get(k), Mapping) for k in _BOOKKEEPING_KEYS) or any(
        str(label).lower() in ("runtime", "session-boundary") for label in labels_t)
    hook = metadata.get("hook")
    project = (hook.get("project_id") or hook.get("project_root")) if isinstance(hook, Mapping) else None
    return {"level": level, "session_key": session_key, "is_raw": is_raw_activity(labels_t, metadata),
            "is_bookkeeping": bookkeeping, "project": str(project)[:1000] if project else None,
            "times_reinforced": _count(cog.times_reinforced if cog else 0),
            "times_contradicted": _count(cog.times_contradicted if cog else 0)}


def _count(value: int) -> int:
    """A count as its INTEGER column holds it (PostgreSQL's is 32-bit)."""
    return max(0, min(int(value), 2**31 - 1))


def patch_columns(
    labels: list[str], metadata: dict[str, Any], session_key: str | None, patch: MemoryPatch
) -> dict[str, Any]:
    """Column -> new value for `patch` over a row with these labels, metadata and session key.

    Values are plain Python (labels a list, metadata a dict, flags bool); each backend
    encodes them for its driver. `updated_at` is the caller's.
    """
    from nexus_memory.errors import InvalidInput

    sets: dict[str, Any] = {}
    new_labels = labels if patch.labels is None else merge_labels([], patch.labels)
    new_metadata = metadata if patch.metadata is None else dict(patch.metadata)
    if patch.content is not None:
        if not patch.content.strip():
            raise InvalidInput("the memory content is empty", hint="pass some text")
        sets["content"] = patch.content
        sets["content_hash"] = content_hash(patch.content)
    if patch.category is not None:
        sets["category"] = patch.category.value
    if patch.clear_lane:
        sets["memory_lane_type"] = None
    elif patch.memory_lane_type is not None:
        sets["memory_lane_type"] = patch.memory_lane_type.value
    if patch.context is not None:
        sets["context"] = patch.context or None
    if patch.labels is not None:
        sets["labels"] = new_labels
    if patch.metadata is not None:
        sets["metadata"] = new_metadata
    if patch.labels is not None or patch.metadata is not None:
        derived = derived_columns(new_labels, new_metadata)
        derived["session_key"] = derived["session_key"] or session_key
        sets.update(derived)
    if patch.is_active is not None:
        sets["is_active"] = patch.is_active
    if patch.is_archived is not None:
        sets["is_archived"] = patch.is_archived
    return sets


def session_keys_of(new: NewMemory) -> list[str]:
    cog = CognitiveMetadata.from_metadata(new.metadata)
    keys = list(cog.session_keys) if cog else []
    if new.session_key and new.session_key not in keys:
        keys.append(new.session_key)
    return keys


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads_obj(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def loads_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


# Words too common to help a full-text match; dropping them keeps OR queries
# fast and BM25 focused. Only used when something else is left.
STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "up", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your"]
)

_TOKEN = re.compile(r"\w+", re.UNICODE)


def query_terms(query: str, *, max_terms: int = 32) -> list[str]:
    """Distinct lowercased word tokens of a query, stop words removed where possible."""
    tokens = [t.lower() for t in _TOKEN.findall(query)]
    seen: set[str] = set()
    uniq = [t for t in tokens if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]
    content = [t for t in uniq if t not in STOP_WORDS]
    return (content or uniq)[:max_terms]


def fts5_match(query: str) -> str | None:
    """An FTS5 MATCH expression: every term quoted (no syntax injection), OR-joined."""
    terms = query_terms(query)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def planned_search(
    query: str, limit: int, budget: int, *,
    plan: Callable[[list[str], int], tuple[list[str], list[str]]],
    rank: Callable[[list[str]], list[TextHit]],
    fill: Callable[[list[str], list[TextHit]], list[TextHit]],
) -> list[TextHit]:
    """The bounded full-text plan both backends follow (docs/architecture.md, "Full-text search"):
    `plan` splits the query's terms into rare and common ones (`split_terms`), `rank` ranks the
    rare ones exactly, and `fill` tops a short list up with the newest matches of the common ones."""
    terms = query_terms(query)
    if not terms or limit < 1:
        return []
    ranked, common = plan(terms, budget)
    hits = rank(ranked) if ranked else []
    if common and len(hits) < limit:
        hits += fill(common, hits)
    return hits


def split_terms(frequencies: list[tuple[str, int]], budget: int) -> tuple[list[str], list[str]]:
    """Full-text query plan shared by the backends: (terms ranked exactly, common terms).

    `frequencies` are (term, document frequency counted up to `common_cap(budget) + 1`)
    in query order. Rarest first, terms are ranked while their frequencies add up to at
    most `budget`; terms above the cap or past the budget are common (filled by recency);
    absent terms are dropped.
    """
    cap = common_cap(budget)
    ranked: list[str] = []
    common: list[str] = []
    total = 0
    for df, _, term in sorted((df, i, t) for i, (t, df) in enumerate(frequencies)):
        if df == 0:
            continue
        if df <= cap and total + df <= budget:
            ranked.append(term)
            total += df
        else:
            common.append(term)
    return ranked, common


def common_cap(budget: int) -> int:
    """A term in more rows than this is common; counting stops just past it."""
    return max(16, budget // 4)


def fill_scores(after_scores: list[float], count: int) -> list[float]:
    """Scores for `count` recency fill-ins: below every ranked hit, newest first, positive."""
    floor = min(after_scores, default=1.0)
    step = floor / (count + 1) if floor > 0 else 1e-9
    return [step * (count - i) for i in range(count)]
