"""Importers for other tools' memory files.

* The MCP reference memory server's `memory.jsonl`: entity lines
  {"type": "entity", "name", "entityType", "observations": [...]} and relation lines
  {"type": "relation", "from", "to", "relationType"}. Each observation becomes a fact
  memory ("Alice (person): works on the billing service"), each relation one more
  ("Alice works_at Acme"); labels carry `mcp-memory` and `entity:<name>`.
* CLAUDE.md / AGENTS.md (any Markdown instructions file): every bullet outside code
  fences becomes a preference memory; its heading path is the retrieval context.

Both go through MemoryService (validation, secret redaction, canonical agents, dedup),
one transaction per batch, so a second import only merges into what is there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_memory.domain.enums import MemoryCategory
from nexus_memory.errors import InvalidInput, NexusError
from nexus_memory.services.memories import MemoryService, StoreRequest
from nexus_memory.services.portability.importer import read_jsonl

BATCH = 200


@dataclass
class ForeignReport:
    source: str
    read: int = 0
    created: int = 0
    merged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.source, "read": self.read, "created": self.created, "merged": self.merged,
                "skipped": [{"line": n, "reason": r} for n, r in self.skipped]}


def _store(service: MemoryService, items: Iterator[tuple[int, StoreRequest | str]], report: ForeignReport,
           strict: bool) -> ForeignReport:
    batch: list[StoreRequest] = []

    def flush() -> None:
        if batch:
            for outcome in service.store_many(batch):
                if outcome.created:
                    report.created += 1
                else:
                    report.merged += 1
            batch.clear()

    for line, item in items:
        if isinstance(item, str):
            if strict:
                raise InvalidInput(f"line {line}: {item}", hint="fix or remove that line, or import without --strict")
            report.skipped.append((line, item))
            continue
        try:
            service.build(item)  # validate alone, so one bad item cannot fail its batch
        except NexusError as exc:
            if strict:
                raise InvalidInput(f"line {line}: {exc.message}", hint=exc.hint or "fix that line") from None
            report.skipped.append((line, exc.message))
            continue
        report.read += 1
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    flush()
    return report


# MCP reference memory server -------------------------------------------------------
def _mcp_items(path: Path, agent: str) -> Iterator[tuple[int, StoreRequest | str]]:
    for line, rec, _ in read_jsonl(path):
        if isinstance(rec, str):
            yield line, rec
            continue
        kind = rec.get("type")
        if kind == "entity":
            name, etype = rec.get("name"), rec.get("entityType") or "entity"
            observations = rec.get("observations") or []
            if not isinstance(name, str) or not name.strip() or not isinstance(observations, list):
                yield line, "an entity needs a name and a list of observations"
                continue
            labels = ("mcp-memory", f"entity:{name.strip()}"[:100])
            if not observations:
                yield line, StoreRequest(content=f"{name} is a {etype}", agent=agent,
                                         category=MemoryCategory.FACTS, labels=labels, context=f"{name} ({etype})")
            for obs in observations:
                if isinstance(obs, str) and obs.strip():
                    yield line, StoreRequest(content=f"{name} ({etype}): {obs.strip()}", agent=agent,
                                             category=MemoryCategory.FACTS, labels=labels, context=f"{name} ({etype})")
        elif kind == "relation":
            src, dst, rel = rec.get("from"), rec.get("to"), rec.get("relationType")
            if not all(isinstance(x, str) and x.strip() for x in (src, dst, rel)):
                yield line, "a relation needs from, to and relationType"
                continue
            yield line, StoreRequest(content=f"{src} {rel} {dst}", agent=agent, category=MemoryCategory.FACTS,
                                     labels=("mcp-memory", "relation", f"entity:{src}"[:100], f"entity:{dst}"[:100]))
        else:
            yield line, f"unknown record type {kind!r} (expected entity or relation)"


def import_mcp_memory(service: MemoryService, path: Path, *, agent: str, strict: bool = False) -> ForeignReport:
    return _store(service, _mcp_items(path, agent), ForeignReport(source=str(path)), strict)


# CLAUDE.md / AGENTS.md -----------------------------------------------------------------
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")


def instruction_bullets(text: str) -> Iterator[tuple[int, str, str]]:
    """(line, bullet text, heading path) for every bullet outside code fences.

    A bullet's continuation lines (indented, not a new bullet) are joined to it.
    """
    headings: list[str] = []
    fence: str | None = None
    current: tuple[int, list[str], str] | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith(("```", "~~~")):
            marker = stripped[:3]
            fence = None if fence == marker else (fence or marker)
            if current:
                yield current[0], " ".join(current[1]), current[2]
                current = None
            continue
        if fence:
            continue
        heading = _HEADING.match(raw)
        bullet = _BULLET.match(raw)
        if current and (heading or bullet or not stripped or not raw[:1].isspace()):
            yield current[0], " ".join(current[1]), current[2]
            current = None
        if heading:
            level = len(heading.group(1))
            headings = [*headings[: level - 1], heading.group(2).strip()]
            continue
        if bullet:
            body = _CHECKBOX.sub("", bullet.group(2).strip())
            if body:
                current = (n, [body], " > ".join(h for h in headings if h))
        elif current and stripped:
            current[1].append(stripped)
    if current:
        yield current[0], " ".join(current[1]), current[2]


def import_instructions(service: MemoryService, path: Path, *, agent: str, strict: bool = False) -> ForeignReport:
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", hint="convert it to UTF-8 first") from None
    source = path.name

    def items() -> Iterator[tuple[int, StoreRequest | str]]:
        for line, body, where in instruction_bullets(text):
            yield line, StoreRequest(
                content=body, agent=agent, category=MemoryCategory.PREFERENCES,
                labels=("preference", "imported", f"source:{source}"[:100]),
                context=f"{source} > {where}" if where else source,
            )

    return _store(service, items(), ForeignReport(source=str(path)), strict)
