"""MemoryService: store, read, change and remove memories; stats."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.agents import canonicalize_agent_type, validate_agent_name
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType
from nexus_memory.domain.jsonsafe import check_metadata, clean_text, sanitize
from nexus_memory.domain.models import CognitiveMetadata, Memory, MemoryFilter, NewMemory, StoreOutcome
from nexus_memory.domain.redaction import redact_text, redact_value
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.errors import InvalidInput, NotFound
from nexus_memory.services.events import MEMORY_CREATED, MEMORY_DELETED, MEMORY_UPDATED, EventBus
from nexus_memory.storage.base import Store

if TYPE_CHECKING:
    from nexus_memory.domain.records import NamespaceStats
    from nexus_memory.services.reports import NamespaceSummary

MAX_CONTENT_CHARS = 200_000
MAX_CONTEXT_CHARS = 50_000
MAX_LABELS = 64
MAX_SESSION_KEY_CHARS = 512
#: Ids and offsets are SQLite/PostgreSQL 64-bit integers.
MAX_ID = 2**63 - 1
#: Confidence of a memory stored on purpose by a person or an agent tool call.
EXPLICIT_CONFIDENCE = 0.9


@dataclass(frozen=True, slots=True)
class StoreRequest:
    content: str
    agent: str | None = None
    category: MemoryCategory | str = MemoryCategory.GENERAL
    labels: Sequence[str] = ()
    lane: MemoryLaneType | str | None = None
    metadata: Mapping[str, Any] | None = None
    session_key: str | None = None
    context: str | None = None
    level: CognitiveLevel = CognitiveLevel.EXPLICIT
    confidence: float | None = None
    source_stage: str = "direct"
    observer: str | None = None
    subject: str | None = None


def clean_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Trimmed, redacted labels (a label is indexed and shown like content)."""
    out = []
    for raw in labels:
        label = clean_text(str(raw)).strip()
        if not label:
            continue
        if len(label) > 100:
            raise InvalidInput(f"the label '{label[:30]}...' is longer than 100 characters", hint="shorten it")
        out.append(redact_text(label))
    if len(out) > MAX_LABELS:
        raise InvalidInput(f"{len(out)} labels given", hint=f"use at most {MAX_LABELS}")
    return tuple(out)


def clean_session_key(key: str | None) -> str | None:
    """A session key as stored: redacted (keys are derived from tool session ids), at most 512 characters."""
    if key is None:
        return None
    key = clean_text(str(key)).strip()
    if len(key) > MAX_SESSION_KEY_CHARS:
        raise InvalidInput(f"the session key is {len(key)} characters long",
                           hint=f"use at most {MAX_SESSION_KEY_CHARS} characters")
    return redact_text(key) or None


def clean_context(context: str | None) -> str | None:
    if not context:
        return None
    if len(context) > MAX_CONTEXT_CHARS:
        raise InvalidInput(f"the context is {len(context)} characters long",
                           hint=f"keep retrieval context under {MAX_CONTEXT_CHARS} characters")
    return redact_text(clean_text(context)) or None


#: Called with memories that were just created or whose text changed (e.g. to embed them).
#: Must not raise: the memories are already stored.
Indexer = Callable[[Sequence[Memory]], None]


class MemoryService:
    def __init__(self, store: Store, *, events: EventBus | None = None, default_agent: str = "default",
                 clock: Clock = utcnow, indexer: Indexer | None = None) -> None:
        self.db = store
        self.events = events or EventBus()
        self.default_agent = canonicalize_agent_type(default_agent)
        self.clock = clock
        self.indexer = indexer

    # writes -------------------------------------------------------------------
    def build(self, req: StoreRequest) -> NewMemory:
        """Validate, canonicalise, redact and attach cognitive metadata."""
        content = clean_text(req.content if isinstance(req.content, str) else str(req.content))
        if not content.strip():
            raise InvalidInput("the memory content is empty", hint="pass the text with --content or on stdin")
        if len(content) > MAX_CONTENT_CHARS:
            raise InvalidInput(
                f"the content is {len(content)} characters long",
                hint=f"store at most {MAX_CONTENT_CHARS} characters per memory; split it",
            )
        agent = validate_agent_name(req.agent or self.default_agent)
        category = MemoryCategory.parse(req.category)
        lane = MemoryLaneType.parse(req.lane) if req.lane else None
        metadata = dict(redact_value(check_metadata(req.metadata))) if req.metadata is not None else {}
        session_key = clean_session_key(req.session_key)
        existing = CognitiveMetadata.from_metadata(metadata)
        if existing is None:
            cog = CognitiveMetadata.new(
                req.level, req.observer or agent, req.subject or agent, session_key, req.source_stage
            )
            cog.confidence = req.confidence if req.confidence is not None else (
                EXPLICIT_CONFIDENCE if req.level is CognitiveLevel.EXPLICIT else None
            )
            cog.derived_at = self.clock()
            cog.generated_by = req.source_stage
            metadata = cog.merge_into(metadata)
        elif session_key and session_key not in existing.session_keys:
            existing.session_keys.append(session_key)
            existing.session_key = existing.session_key or session_key
            metadata = existing.merge_into(metadata)
        if req.confidence is not None and not 0.0 <= req.confidence <= 1.0:
            raise InvalidInput(f"confidence {req.confidence} is out of range", hint="use a number from 0 to 1")
        return NewMemory(
            agent=agent,
            content=redact_text(content).strip(),
            category=category,
            memory_lane_type=lane,
            labels=clean_labels(req.labels),
            metadata=metadata,
            context=clean_context(req.context),
            session_key=session_key,
        )

    def store(self, req: StoreRequest) -> StoreOutcome:
        outcome = self.db.store(self.build(req))
        self._index([outcome])
        self._publish(outcome)
        return outcome

    def store_many(self, reqs: Sequence[StoreRequest]) -> list[StoreOutcome]:
        outcomes = self.db.store_many([self.build(r) for r in reqs])
        self._index(outcomes)
        for outcome in outcomes:
            self._publish(outcome)
        return outcomes

    def _index(self, outcomes: Sequence[StoreOutcome]) -> None:
        if self.indexer is not None:
            created = [o.memory for o in outcomes if o.created]
            if created:
                self.indexer(created)

    def store_derived(self, req: StoreRequest, sources: Sequence[int], role: str) -> StoreOutcome:
        """Store a memory made from others and link its sources (lineage) in one transaction."""
        outcome = self.db.store_with_lineage(self.build(req), list(sources), role)
        self._index([outcome])
        self._publish(outcome)
        return outcome

    def store_prepared(self, new: NewMemory) -> StoreOutcome:
        """For stages that build NewMemory themselves; agent is canonicalised, text redacted, metadata made
        storable (these are our own values: repaired, never refused)."""
        prepared = NewMemory(
            agent=canonicalize_agent_type(new.agent), content=redact_text(clean_text(new.content)),
            category=new.category, memory_lane_type=new.memory_lane_type, labels=clean_labels(new.labels),
            metadata=redact_value(sanitize(new.metadata, max_depth=32)),
            context=redact_text(clean_text(new.context)) if new.context else None,
            session_key=redact_text(clean_text(new.session_key)) if new.session_key else None,
            created_at=new.created_at, is_active=new.is_active,
            is_archived=new.is_archived, id=new.id,
        )
        outcome = self.db.store(prepared)
        self._index([outcome])
        self._publish(outcome)
        return outcome

    def _publish(self, outcome: StoreOutcome) -> None:
        self.events.publish(
            MEMORY_CREATED if outcome.created else MEMORY_UPDATED,
            {"memory": outcome.memory.to_dict(), "merged": not outcome.created},
        )

    def update(
        self,
        memory_id: int,
        *,
        content: str | None = None,
        category: MemoryCategory | str | None = None,
        lane: MemoryLaneType | str | None = None,
        labels: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_active: bool | None = None,
        is_archived: bool | None = None,
    ) -> Memory:
        from nexus_memory.domain.records import MemoryPatch

        self.get(memory_id)
        if content is not None and len(content) > MAX_CONTENT_CHARS:
            raise InvalidInput("the content is too long", hint=f"at most {MAX_CONTENT_CHARS} characters")
        patch = MemoryPatch(
            content=redact_text(clean_text(content)).strip() if content is not None else None,
            category=MemoryCategory.parse(category) if category is not None else None,
            memory_lane_type=MemoryLaneType.parse(lane) if lane else None,
            clear_lane=lane == "",
            labels=clean_labels(labels) if labels is not None else None,
            metadata=redact_value(check_metadata(metadata)) if metadata is not None else None,
            is_active=is_active,
            is_archived=is_archived,
        )
        memory = self.db.update(memory_id, patch)
        if patch.content is not None and self.indexer is not None:
            self.indexer([memory])  # the store dropped the stale vectors
        self.events.publish(MEMORY_UPDATED, {"memory": memory.to_dict()})
        return memory

    def forget(self, memory_id: int) -> Memory:
        """Soft delete: inactive and archived, still in the database and its lineage."""
        return self.update(memory_id, is_active=False, is_archived=True)

    def delete(self, memory_id: int) -> None:
        memory = self.get(memory_id)
        self.db.delete(memory_id)
        self.events.publish(MEMORY_DELETED, {"id": memory_id, "agent_type": memory.agent})

    # reads --------------------------------------------------------------------
    def get(self, memory_id: int, *, touch: bool = False) -> Memory:
        if not 0 < int(memory_id) <= MAX_ID:
            raise NotFound(f"memory {str(memory_id)[:24]} does not exist",
                           hint="memory ids are whole numbers from 1; find them with `nexus list` or `nexus search`")
        memory = self.db.get(int(memory_id))
        if memory is None:
            raise NotFound(f"memory {memory_id} does not exist", hint="find ids with `nexus list` or `nexus search`")
        if touch:
            self.db.touch([memory.id])
        return memory

    def list_memories(self, flt: MemoryFilter | None = None, *, limit: int = 50, offset: int = 0,
             order: str = "newest") -> list[Memory]:
        if limit < 1 or limit > 10_000:
            raise InvalidInput(f"limit {limit} is out of range", hint="use 1 to 10000")
        if not 0 <= offset <= MAX_ID:
            raise InvalidInput(f"offset {str(offset)[:24]} is out of range", hint="use 0 or more, below 2^63")
        return self.db.list_memories(flt or MemoryFilter(), limit=limit, offset=offset, order=order)

    def count(self, flt: MemoryFilter | None = None) -> int:
        return self.db.count(flt or MemoryFilter())

    def stats(self, agents: Sequence[str] | None = None) -> list[NamespaceStats]:
        names = [canonicalize_agent_type(a) for a in agents] if agents else None
        return self.db.stats(names)

    def namespaces(self) -> list[NamespaceSummary]:
        from nexus_memory.services.reports import NamespaceSummary

        stats = {s.namespace_name: s for s in self.db.stats()}
        out = []
        for ns in self.db.list_namespaces():
            st = stats.get(ns.name)
            out.append(NamespaceSummary(ns, st.active_memories if st else 0))
        return out
