"""Runtime markers: session-category memories recording lifecycle events (seed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory
from nexus_memory.domain.models import CognitiveMetadata, JSONDict, NewMemory
from nexus_memory.domain.sessions import derive_session_key
from nexus_memory.domain.timeutil import to_iso


@dataclass(frozen=True, slots=True)
class RuntimeMarker:
    agent_type: str
    session_key: str | None
    cwd: str | None
    event: str
    detail: str
    agent_namespace: str
    project_name: str | None = None


def marker_memory(marker: RuntimeMarker, now: datetime) -> NewMemory:
    """The seed's marker: content format, `metadata.runtime`, merged cognitive metadata, labels."""
    session_tag = derive_session_key(marker.agent_type, marker.session_key, marker.cwd)
    content = (
        f"Runtime {marker.event.replace('_', ' ')} for {marker.agent_type} "
        f"[session:{session_tag}] ({marker.detail})"
    )
    runtime: JSONDict = {
        "event": marker.event,
        "detail": marker.detail,
        "session_key": marker.session_key,
        "derived_session_key": session_tag,
        "cwd": marker.cwd,
        "agent_type": marker.agent_type,
        "agent_namespace": marker.agent_namespace,
        "captured_at": to_iso(now),
    }
    cognitive = CognitiveMetadata.new(
        CognitiveLevel.EXPLICIT, marker.agent_type, marker.agent_type, session_tag, "runtime_controller"
    )
    cognitive.confidence = 1.0
    cognitive.times_reinforced = 0
    cognitive.times_contradicted = 0
    cognitive.derived_at = now
    cognitive.generated_by = "runtime_controller"
    base: JSONDict = {"runtime": runtime}
    if marker.project_name:
        # Beside, not inside, `runtime`: that object keeps exactly the seed's fields.
        base["project"] = {"name": marker.project_name}
    metadata = cognitive.merge_into(base)
    return NewMemory(
        agent=marker.agent_namespace,
        content=content,
        category=MemoryCategory.SESSION,
        labels=("runtime", "session", marker.event),
        metadata=metadata,
        session_key=session_tag,
        created_at=now,
    )
