"""Re-checking every code anchor of a project in bulk: `nexus verify` and the session-start sweep.

Each memory of the project that names code is re-checked against the working tree it is asked in
(project/scope.py): states are stored, renamed files are followed and moved spans found again
(the repair), and the memories of branches whose work is not part of this one are left alone
(their code is not in this working tree, so checking it here would call it deleted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nexus_memory.domain import code as rules
from nexus_memory.domain.models import MemoryFilter

if TYPE_CHECKING:
    from nexus_memory.project import ProjectIdentity
    from nexus_memory.project.scope import CodeScope
    from nexus_memory.storage.base import Store

PAGE = 500


@dataclass
class VerifyReport:
    project: str
    checked: int = 0
    updated: int = 0
    other_branch: int = 0
    states: dict[str, int] = field(default_factory=dict)
    #: (memory id, state, what changed, first words) of every memory whose code is not verified.
    flagged: list[tuple[int, str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "checked": self.checked, "updated": self.updated,
                "other_branch": self.other_branch, "states": dict(self.states),
                "flagged": [{"id": i, "state": s, "changes": c, "content": t} for i, s, c, t in self.flagged]}


def verify(store: Store, project: ProjectIdentity, scope: CodeScope, *, write: bool = True,
           limit: int | None = None, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Re-check the anchors of `project`'s memories (newest first, at most `limit`)."""
    from nexus_memory.services.recall import kind_of

    keys = project.scope_keys()
    flt = MemoryFilter(projects=keys)
    total = store.count(flt)
    if limit is not None:
        total = min(total, limit)
    report = VerifyReport(project.id)
    seen = 0
    offset = 0
    while seen < total:
        page = store.list_memories(flt, limit=min(PAGE, total - seen), offset=offset, order="newest")
        if not page:
            break
        offset += len(page)
        updates: list[tuple[int, dict[str, Any]]] = []
        for m in page:
            seen += 1
            if not rules.anchors_of(m.metadata):
                continue
            if not scope.visible(m, kind_of(m)):
                report.other_branch += 1
                continue
            checked = scope.check(m)
            if checked is None:
                continue
            section, changed = checked
            report.checked += 1
            state = str(section.get("state") or rules.UNKNOWN)
            report.states[state] = report.states.get(state, 0) + 1
            if state != rules.VERIFIED:
                report.flagged.append((m.id, state, "; ".join(str(c) for c in section.get("changes") or ()),
                                       " ".join(m.content.split())[:80]))
            if changed:
                updates.append((m.id, {**m.metadata, "code": section}))
        if updates and write:
            store.update_metadata_many(updates)
            report.updated += len(updates)
        if progress is not None:
            progress(seen, total)
    scope.save()
    return report
