"""Import Nexus export records into a store: idempotent, batched, resumable.

* A memory already present (same namespace, creation time and content: its uid)
  is left alone, so importing a file twice changes nothing.
* Otherwise it is stored with its original id when that id is free, else with a
  new one; relations, evidence, digests and lineage pointers in metadata follow
  the id map. Active duplicates merge through the store's own dedup.
* Memories go in with `store_many`, one transaction per batch: an interrupted
  import leaves whole batches behind and can simply be run again.
* Every record is redacted (content, context, labels, session keys, metadata) and its
  metadata checked, whatever the caller asked: nothing reaches the store unredacted.
* A malformed record is reported with its line number and skipped, or stops the
  import when `strict`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nexus_memory.domain.jsonsafe import check_metadata, clean_text, sanitize
from nexus_memory.domain.models import (
    Evidence,
    Memory,
    MemoryFilter,
    MemoryPatch,
    MemoryRelation,
    NewMemory,
    SessionDigest,
)
from nexus_memory.domain.redaction import redact_text, redact_value
from nexus_memory.errors import Conflict, InvalidInput
from nexus_memory.services.portability.records import (
    FORMAT,
    VERSION,
    BadRecord,
    canonical_namespace,
    memory_uid,
    need,
    new_memory_from,
    opt_int,
    remap_metadata,
    vectors_from,
    when,
)
from nexus_memory.storage.base import Store, VectorIndex

#: (line number, the parsed record or why the line is unreadable, bytes read so far)
Item = tuple[int, "dict[str, Any] | str", int]


@dataclass
class ImportReport:
    lines: int = 0
    namespaces: int = 0
    created: int = 0
    merged: int = 0
    unchanged: int = 0
    relations: int = 0
    evidence: int = 0
    digests: int = 0
    vectors: int = 0
    unresolved: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    complete: bool = False  # the `end` record was read
    expected: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    id_map: dict[int, int] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "namespaces": self.namespaces, "created": self.created, "merged": self.merged,
            "unchanged": self.unchanged, "relations": self.relations, "evidence": self.evidence,
            "digests": self.digests, "vectors": self.vectors, "unresolved_links": self.unresolved,
            "skipped": [{"line": n, "reason": r} for n, r in self.skipped], "complete": self.complete,
            "expected": self.expected,
        }


def read_jsonl(path: Path) -> Iterator[Item]:
    """Lines of a JSON Lines file: parsed objects, or the reason a line is unreadable."""
    pos = 0
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            pos += len(raw)
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield n, "not UTF-8 text", pos
                continue
            except json.JSONDecodeError as exc:
                yield n, f"not valid JSON ({exc.msg} at column {exc.colno})", pos
                continue
            yield n, value if isinstance(value, dict) else "not a JSON object", pos


class Importer:
    def __init__(self, store: Store, *, strict: bool = False, batch_size: int = 500, redact: bool = True,
                 progress: Callable[[ImportReport], None] | None = None, unit: str = "line") -> None:
        self.store = store
        self.unit = unit
        self.strict = strict
        self.batch_size = batch_size
        #: Kept for callers; redaction always runs: a file never decides what reaches the store.
        self.redact = True
        self.progress = progress
        self.report = ImportReport()
        self._memories: list[tuple[int, dict[str, Any]]] = []
        self._evidence: list[tuple[int, dict[str, Any]]] = []
        self._ns_ids: dict[str, int] = {}
        #: (target id, metadata as in the file, metadata as stored) of memories with id pointers
        self._pointers: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    # driving --------------------------------------------------------------------
    def run(self, items: Iterable[Item], *, require_header: bool = True) -> ImportReport:
        first = True
        for line, rec, pos in items:
            self.report.lines = line
            self.report.bytes_read = pos
            if isinstance(rec, str):
                self._bad(line, rec)
                continue
            if first:
                first = False
                if rec.get("type") == "header":
                    self._check_header(line, rec)
                    continue
                if require_header:
                    raise InvalidInput(
                        f"line {line} is not a Nexus export header (format '{FORMAT}')",
                        hint="export with `nexus export`; for the MCP memory server's memory.jsonl use "
                             "`nexus import --format mcp-memory`",
                    )
            self._record(line, rec)
        self._flush_memories()
        self._flush_evidence()
        self._fix_forward_pointers()
        self._tick()
        return self.report

    def _fix_forward_pointers(self) -> None:
        """Rewrite lineage pointers to memories that were read after the memory holding them."""
        for target, original, stored in self._pointers:
            fixed = remap_metadata(original, self.report.id_map)
            if fixed != stored:
                self.store.update(target, MemoryPatch(metadata=fixed))
        self._pointers = []

    def _check_header(self, line: int, rec: dict[str, Any]) -> None:
        if rec.get("format") != FORMAT:
            raise InvalidInput(f"line {line}: not a Nexus export (format {rec.get('format')!r})",
                               hint=f"expected format '{FORMAT}'")
        version = rec.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise InvalidInput(f"line {line}: export format version {version!r} is newer than this Nexus reads "
                               f"({VERSION})", hint="upgrade nexus-memory on this machine")

    def _record(self, line: int, rec: dict[str, Any]) -> None:
        kind = rec.get("type")
        if kind == "memory":
            self._memories.append((line, rec))
            if len(self._memories) >= self.batch_size:
                self._flush_memories()
            return
        self._flush_memories()  # links refer to memories read before them
        try:
            if kind == "namespace":
                self._namespace(rec)
            elif kind == "relation":
                self._relation(rec)
            elif kind == "evidence":
                self._evidence.append((line, rec))
                if len(self._evidence) >= self.batch_size:
                    self._flush_evidence()
            elif kind == "digest":
                self._digest(rec)
            elif kind == "end":
                self._flush_evidence()
                counts = rec.get("counts")
                self.report.expected = dict(counts) if isinstance(counts, dict) else {}
                self.report.complete = True
            elif kind == "header":
                raise BadRecord("a second header")
            else:
                raise BadRecord(f"unknown record type {kind!r}")
        except BadRecord as exc:
            self._bad(line, str(exc))

    def _bad(self, line: int, reason: str) -> None:
        if self.strict:
            raise InvalidInput(f"{self.unit} {line}: {reason}",
                               hint=f"fix or remove that {self.unit}, or import without --strict")
        self.report.skipped.append((line, reason))

    def _tick(self) -> None:
        if self.progress:
            self.progress(self.report)

    # records --------------------------------------------------------------------
    def _ns_id(self, name: str, agent_type: str | None = None) -> int:
        if name not in self._ns_ids:
            existing = self.store.get_namespace(name)
            ns = existing or self.store.ensure_namespace(name, agent_type or name)
            if existing is None:
                self.report.namespaces += 1
            self._ns_ids[name] = ns.id
        return self._ns_ids[name]

    def _namespace(self, rec: dict[str, Any]) -> None:
        name = canonical_namespace(rec, "name")
        self._ns_id(name, name)

    def _mapped(self, rec: dict[str, Any], key: str) -> int | None:
        src = need(rec, key, int)
        return self.report.id_map.get(src)

    def _relation(self, rec: dict[str, Any]) -> None:
        src, dst = self._mapped(rec, "source_memory_id"), self._mapped(rec, "target_memory_id")
        if src is None or dst is None:
            self.report.unresolved += 1
            return
        strength = rec.get("strength", 1.0)
        metadata = rec.get("metadata")
        self.store.add_relation(MemoryRelation(
            source_memory_id=src, target_memory_id=dst, relation_type=str(need(rec, "relation_type", str)),
            strength=float(strength) if isinstance(strength, int | float) else 1.0,
            metadata=redact_value(sanitize(metadata)) if isinstance(metadata, dict) else None,
            created_at=when(rec, "created_at"),
        ))
        self.report.relations += 1

    def _flush_evidence(self) -> None:
        rows: list[Evidence] = []
        for line, rec in self._evidence:
            try:
                derived, source = self._mapped(rec, "derived_memory_id"), self._mapped(rec, "source_memory_id")
                role = str(need(rec, "evidence_role", str))
                created = when(rec, "created_at")
            except BadRecord as exc:
                self._bad(line, str(exc))
                continue
            if derived is None or source is None:
                self.report.unresolved += 1
                continue
            rows.append(Evidence(derived_memory_id=derived, source_memory_id=source, evidence_role=role,
                                 created_at=created))
        self._evidence = []
        if rows:
            self.store.add_evidence(rows)
            self.report.evidence += len(rows)

    def _digest(self, rec: dict[str, Any]) -> None:
        memory_id = self._mapped(rec, "memory_id")
        if memory_id is None:
            self.report.unresolved += 1
            return
        start, end = opt_int(rec, "start_memory_id"), opt_int(rec, "end_memory_id")
        kind = need(rec, "digest_kind", str)
        if kind not in ("short", "long"):
            raise BadRecord(f"digest_kind must be short or long, got {kind!r}")
        ids = self.report.id_map
        self.store.upsert_digest(SessionDigest(
            namespace_id=self._ns_id(canonical_namespace(rec)), session_key=str(need(rec, "session_key", str)),
            digest_kind=kind, memory_id=memory_id,
            start_memory_id=ids.get(start, start) if start is not None else None,
            end_memory_id=ids.get(end, end) if end is not None else None,
            token_count=opt_int(rec, "token_count") or 0, created_at=when(rec, "created_at"),
        ))
        self.report.digests += 1

    # memories -------------------------------------------------------------------
    def _flush_memories(self) -> None:
        if not self._memories:
            return
        batch, self._memories = self._memories, []
        parsed: list[tuple[int | None, NewMemory, str, list[tuple[str, str, list[float]]]]] = []
        for line, rec in batch:
            try:
                new = new_memory_from(rec, memory_id=None)
                src_id = opt_int(rec, "id")
                vectors = vectors_from(rec)
            except BadRecord as exc:
                self._bad(line, str(exc))
                continue
            try:
                new = _redacted(new)
            except InvalidInput as exc:
                self._bad(line, exc.message)
                continue
            assert new.created_at is not None
            parsed.append((src_id, new, memory_uid(new.agent, new.created_at, new.content), vectors))
        if not parsed:
            return
        by_id = {m.id: m for m in self.store.get_many([p[0] for p in parsed if p[0] is not None])}
        present = self._present_uids(parsed)
        for src_id, _, uid, _ in parsed:
            same = by_id.get(src_id) if src_id is not None else None
            if same is not None and _uid(same) == uid:
                present[uid] = same.id
        todo: list[tuple[int | None, NewMemory, list[tuple[str, str, list[float]]], dict[str, Any]]] = []
        for src_id, new, uid, vectors in parsed:
            if uid in present:
                self.report.unchanged += 1
                if src_id is not None:
                    self.report.id_map[src_id] = present[uid]
                continue
            keep_id = src_id if src_id is not None and src_id not in by_id else None
            original = new.metadata  # pointers are always mapped from the file's ids, never twice
            new = replace(new, id=keep_id, metadata=remap_metadata(original, self.report.id_map))
            todo.append((src_id, new, vectors, original))
        if todo:
            outcomes = self._store_todo(todo)
            per_model: dict[str, list[tuple[int, str, list[float]]]] = {}
            for (src_id, _, vectors, _), outcome in zip(todo, outcomes, strict=True):
                if src_id is not None:
                    self.report.id_map[src_id] = outcome.memory.id
                if outcome.created:
                    self.report.created += 1
                    for model, kind, vec in vectors:
                        per_model.setdefault(model, []).append((outcome.memory.id, kind, vec))
                else:
                    self.report.merged += 1
            for (_, new, _, original), outcome in zip(todo, outcomes, strict=True):
                if not outcome.created or not _has_pointers(original):
                    continue
                # pointers to memories of this same batch are known only now; pointers to
                # memories further down the file only at the end (see `_fix_forward_pointers`)
                fixed = remap_metadata(original, self.report.id_map)
                if fixed != new.metadata:
                    self.store.update(outcome.memory.id, MemoryPatch(metadata=fixed))
                self._pointers.append((outcome.memory.id, original, fixed))
            if per_model and isinstance(self.store, VectorIndex):
                for model, rows in per_model.items():
                    self.report.vectors += self.store.upsert_vectors(model, rows)
        self._tick()

    def _store_todo(self, todo: list[Any]) -> list[Any]:
        """store_many, taking fresh ids for original ids another writer took since `_flush_memories`
        looked (an import beside a running `nexus store` loop): the store refuses a taken id with a
        Conflict inside its write transaction, and the batch is tried again."""
        for attempt in range(5):
            try:
                return self.store.store_many([t[1] for t in todo])
            except Conflict:
                if attempt == 4:
                    raise
                wanted = [t[1].id for t in todo if t[1].id is not None]
                taken = {m.id for m in self.store.get_many(wanted)} if wanted else set()
                if not taken:
                    raise
                todo[:] = [(src, replace(new, id=None) if new.id in taken else new, vec, orig)
                           for src, new, vec, orig in todo]
        raise AssertionError("unreachable")

    def _present_uids(self, parsed: list[tuple[int | None, NewMemory, str, Any]]) -> dict[str, int]:
        """uid -> id of batch memories already in the store, found by namespace and time window."""
        found: dict[str, int] = {}
        by_ns: dict[str, list[NewMemory]] = {}
        for _, new, _, _ in parsed:
            by_ns.setdefault(new.agent, []).append(new)
        for ns, news in by_ns.items():
            if self.store.get_namespace(ns) is None:
                continue
            times = [n.created_at for n in news if n.created_at is not None]
            limit = 4 * len(news) + 100
            window = self.store.list_memories(
                MemoryFilter(agents=(ns,), since=min(times), until=max(times), include_raw=True, include_bookkeeping=True,
                             include_archived=True, include_inactive=True), limit=limit, order="oldest"
            )
            if len(window) >= limit:  # a crowded window: look each one up exactly
                window = [m for n in news for m in self.store.list_memories(
                    MemoryFilter(agents=(ns,), since=n.created_at, until=n.created_at, include_raw=True, include_bookkeeping=True,
                             include_archived=True, include_inactive=True), limit=50)]
            found.update((_uid(m), m.id) for m in window)
        return found


def _redacted(new: NewMemory) -> NewMemory:
    """What the store may keep of a record: secrets redacted in every field (whatever the file
    claims about itself), metadata checked like any other (NaN, depth, size), lone surrogates replaced."""
    return replace(
        new, content=redact_text(clean_text(new.content)), metadata=redact_value(check_metadata(new.metadata)),
        context=redact_text(clean_text(new.context)) if new.context else None,
        labels=tuple(redact_text(clean_text(label)) for label in new.labels),
        session_key=redact_text(clean_text(new.session_key)) if new.session_key else None,
    )


def _has_pointers(metadata: dict[str, Any]) -> bool:
    cog, dist = metadata.get("cognitive"), metadata.get("distillation")
    return bool(isinstance(cog, dict) and cog.get("source_memory_ids")) or (
        isinstance(dist, dict) and dist.get("summary_memory_id") is not None)


def _uid(m: Memory) -> str:
    assert m.created_at is not None
    return memory_uid(m.agent or "", m.created_at, m.content)
