"""Read an upstream (Rust-era) Nexus database as Nexus export records.

Upstream schema: reference section 3.1. Differences handled here:
* labels, metadata and `content_embedding` are JSON text; unreadable JSON is
  reported and read as empty instead of losing the memory;
* agent namespaces are canonicalised ("claude" -> "claude-code"), so split
  upstream namespaces merge (their duplicate memories merge through dedup);
* the embedding, when present with its model, becomes a "content" vector;
* jobs are counted, not imported: they are derived work the dream cycle redoes.

The file is opened read-only; upstream's own files are never changed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nexus_memory.domain.agents import canonicalize_agent_type
from nexus_memory.domain.timeutil import from_iso, to_iso, utcnow
from nexus_memory.errors import InvalidInput, StorageError
from nexus_memory.services.portability.importer import Item
from nexus_memory.services.portability.records import FORMAT, VERSION

_REQUIRED = ("agent_namespaces", "memories")


def open_upstream(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise InvalidInput(f"no upstream database at {path}",
                           hint="pass the path of the old nexus.db (often ~/.local/share/nexus/nexus.db)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise StorageError(f"{path} is not a readable SQLite database ({exc})",
                           hint="check the path points at the upstream nexus.db") from None
    missing = [t for t in _REQUIRED if t not in tables]
    if missing:
        conn.close()
        raise InvalidInput(f"{path} is not an upstream Nexus database (no {', '.join(missing)} table)",
                           hint="pass the upstream nexus.db; for a Nexus export file use `nexus import`")
    return conn


def _json(text: Any, default: Any) -> tuple[Any, str | None]:
    if text is None or text == "":
        return default, None
    try:
        return json.loads(text), None
    except (TypeError, ValueError):
        return default, f"unreadable JSON {str(text)[:40]!r}"


def _time(value: Any) -> str | None:
    parsed = from_iso(str(value)) if value else None
    return to_iso(parsed) if parsed else None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


class UpstreamReader:
    """Iterates the upstream tables as (sequence number, record, 0) items for the Importer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_upstream(path)
        self.tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.notes: list[str] = []
        self._n = 0
        self.names: dict[int, str] = {}

    def close(self) -> None:
        self.conn.close()

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("agent_namespaces", "memories", "memory_relations", "memory_evidence", "session_digests",
                      "memory_jobs"):
            if table in self.tables:
                out[table] = int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return out

    def _item(self, rec: dict[str, Any] | str) -> Item:
        self._n += 1
        return self._n, rec, 0

    def items(self) -> Iterator[Item]:
        yield self._item({"type": "header", "format": FORMAT, "version": VERSION, "exported_at": to_iso(utcnow()),
                          "source": {"backend": "upstream", "path": str(self.path)}, "filters": {}})
        for row in self.conn.execute("SELECT * FROM agent_namespaces ORDER BY id"):
            name = canonicalize_agent_type(str(row["name"] or "").strip()) or "default"
            self.names[int(row["id"])] = name
            yield self._item({"type": "namespace", "id": row["id"], "name": name, "agent_type": name,
                              "description": row["description"], "created_at": _time(row["created_at"])})
        yield from self._memories()
        if "memory_relations" in self.tables:
            for row in self.conn.execute("SELECT * FROM memory_relations ORDER BY id"):
                metadata, _ = _json(row["metadata"], None)
                yield self._item({"type": "relation", "id": row["id"], "source_memory_id": row["source_memory_id"],
                                  "target_memory_id": row["target_memory_id"], "relation_type": row["relation_type"],
                                  "strength": row["strength"] if row["strength"] is not None else 1.0,
                                  "metadata": metadata if isinstance(metadata, dict) else None,
                                  "created_at": _time(row["created_at"])})
        if "memory_evidence" in self.tables:
            for row in self.conn.execute("SELECT * FROM memory_evidence ORDER BY id"):
                yield self._item({"type": "evidence", "id": row["id"], "derived_memory_id": row["derived_memory_id"],
                                  "source_memory_id": row["source_memory_id"], "evidence_role": row["evidence_role"],
                                  "created_at": _time(row["created_at"])})
        if "session_digests" in self.tables:
            for row in self.conn.execute("SELECT * FROM session_digests ORDER BY id"):
                yield self._item({"type": "digest", "id": row["id"],
                                  "namespace": self.names.get(int(row["namespace_id"]), "default"),
                                  "session_key": row["session_key"], "digest_kind": row["digest_kind"],
                                  "memory_id": row["memory_id"], "start_memory_id": row["start_memory_id"],
                                  "end_memory_id": row["end_memory_id"], "token_count": row["token_count"] or 0,
                                  "created_at": _time(row["created_at"])})
        if "memory_jobs" in self.tables:
            jobs = int(self.conn.execute("SELECT count(*) FROM memory_jobs").fetchone()[0])
            if jobs:
                self.notes.append(f"{jobs} upstream jobs not imported (the dream cycle re-derives that work)")
        yield self._item({"type": "end", "counts": {}})

    def _memories(self) -> Iterator[Item]:
        cols = _columns(self.conn, "memories")
        for row in self.conn.execute("SELECT * FROM memories ORDER BY id"):
            where = f"upstream memory {row['id']}"
            labels, err1 = _json(row["labels"], [])
            metadata, err2 = _json(row["metadata"], {})
            for err in (err1, err2):
                if err:
                    self.notes.append(f"{where}: {err}; read as empty")
            if not isinstance(labels, list):
                labels = []
            if not isinstance(metadata, dict):
                metadata = {"value": metadata}
            rec: dict[str, Any] = {
                "type": "memory", "id": row["id"],
                "namespace": self.names.get(int(row["namespace_id"]), "default"),
                "content": row["content"] or "", "category": row["category"] or "general",
                "memory_lane_type": row["memory_lane_type"] if "memory_lane_type" in cols else None,
                "labels": [str(x) for x in labels if x is not None], "metadata": metadata,
                "created_at": _time(row["created_at"]) or to_iso(utcnow()),
                "is_active": bool(row["is_active"]) if row["is_active"] is not None else True,
                "is_archived": bool(row["is_archived"]) if row["is_archived"] is not None else False,
            }
            model = row["embedding_model"] if "embedding_model" in cols else None
            raw_vec = row["content_embedding"] if "content_embedding" in cols else None
            if model and raw_vec:
                vec, err = _json(raw_vec, None)
                if isinstance(vec, list) and vec and all(isinstance(x, int | float) for x in vec):
                    rec["vectors"] = [{"model": str(model), "kind": "content", "vector": vec}]
                else:
                    self.notes.append(f"{where}: embedding skipped ({err or 'not a list of numbers'})")
            yield self._item(rec)
