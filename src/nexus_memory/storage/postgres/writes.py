"""Storing memories on PostgreSQL: batched inserts with race-free dedup.

A batch of new, active memories without explicit ids goes in as ONE multi-row
`INSERT ... SELECT FROM unnest(...) ON CONFLICT (namespace_id, content_hash)
WHERE is_active DO NOTHING`, in (namespace, hash) order so concurrent batches
from several machines take index locks in the same order. A row that conflicts
(with another writer's committed row, or an earlier copy in the same batch)
is then merged into the active row exactly like the SQLite adapter does: labels
unioned case-insensitively, session keys unioned, access_count + 1. Rows with
an explicit id (imports) or inactive rows go one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from nexus_memory.domain.models import NewMemory
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.errors import Conflict, StorageError
from nexus_memory.storage.common import merge_labels, merge_session_keys, session_keys_of
from nexus_memory.storage.postgres.dialect import POSTGRES
from nexus_memory.storage.sql.queries import HASH_AT, NEW_COLUMNS, NS_AT, new_memory_row

Conn = psycopg.Connection[Any]
_MAX_DEDUP_RETRIES = 8
COLUMNS = tuple(name for name, _ in NEW_COLUMNS)


def store_batch(conn: Conn, items: Sequence[NewMemory], ns_id: Callable[[str], int]) -> list[tuple[int, bool]]:
    """(memory id, created) per item, in order; inside the caller's transaction."""
    rows = [new_memory_row(new, ns_id(new.agent), POSTGRES, utcnow()) for new in items]
    results: list[tuple[int, bool] | None] = [None] * len(items)
    fast = [i for i, new in enumerate(items) if new.id is None and new.is_active]
    claimed: dict[tuple[int, str], int] = {}
    if fast:
        ordered = sorted(fast, key=lambda i: (rows[i][NS_AT], rows[i][HASH_AT]))
        arrays = [[rows[i][c] for i in ordered] for c in range(len(COLUMNS))]
        unnest = ", ".join(f"%s::{t}[]" for _, t in NEW_COLUMNS)
        inserted = conn.execute(
            f"INSERT INTO memories({', '.join(COLUMNS)}) SELECT * FROM unnest({unnest}) "
            "ON CONFLICT (namespace_id, content_hash) WHERE is_active DO NOTHING "
            "RETURNING id, namespace_id, content_hash",
            arrays,
        ).fetchall()
        fresh = {(int(r["namespace_id"]), r["content_hash"]): int(r["id"]) for r in inserted}
        for i in fast:  # in item order: the first copy of a content is the one created
            key = (rows[i][NS_AT], rows[i][HASH_AT])
            if key in fresh and key not in claimed:
                claimed[key] = fresh[key]
                results[i] = (fresh[key], True)
    for i, new in enumerate(items):
        if results[i] is None:
            results[i] = _store_one(conn, new, rows[i])
    return [r for r in results if r is not None]


def _store_one(conn: Conn, new: NewMemory, row: tuple[Any, ...]) -> tuple[int, bool]:
    if new.id is None:
        insert = f"INSERT INTO memories({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        values: tuple[Any, ...] = row
    else:
        insert = f"INSERT INTO memories(id, {', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * (len(COLUMNS) + 1))})"
        values = (new.id, *row)
    if not new.is_active:
        inserted = insert_with_id(conn, insert + " RETURNING id", values, new.id)
        return int(inserted["id"]), True
    upsert = insert + " ON CONFLICT (namespace_id, content_hash) WHERE is_active DO NOTHING RETURNING id"
    ns_id, digest = row[NS_AT], row[HASH_AT]
    for _ in range(_MAX_DEDUP_RETRIES):
        inserted = insert_with_id(conn, upsert, values, new.id)
        if inserted is not None:
            return int(inserted["id"]), True
        existing = conn.execute(
            "SELECT id, labels, metadata FROM memories WHERE namespace_id = %s AND content_hash = %s "
            "AND is_active FOR UPDATE",
            (ns_id, digest),
        ).fetchone()
        if existing is None:
            continue  # the other copy stopped being active meanwhile: try the insert again
        now = utcnow()
        conn.execute(
            "UPDATE memories SET labels = %s, metadata = %s, access_count = access_count + 1, "
            "updated_at = %s, last_accessed = %s WHERE id = %s",
            (Jsonb(merge_labels(existing["labels"] or [], new.labels)),
             Jsonb(merge_session_keys(existing["metadata"] or {}, session_keys_of(new))), now, now, existing["id"]),
        )
        return int(existing["id"]), False
    raise StorageError("could not store the memory: its duplicate kept changing under concurrent writers",
                       hint="retry the command")


def insert_with_id(conn: Conn, sql: str, values: Sequence[Any], memory_id: int | None) -> Any:
    if memory_id is None:  # no id of ours: nothing but the dedup index can clash
        return conn.execute(sql, values).fetchone()
    try:
        with conn.transaction():  # a savepoint: a clash on the id leaves the outer transaction usable
            row = conn.execute(sql, values).fetchone()
    except pg_errors.UniqueViolation:
        raise Conflict(f"a memory with id {memory_id} already exists",
                       hint="import it without its id, or delete the existing one first") from None
    if row is not None:
        # Keep the identity sequence ahead of ids that arrived from elsewhere.
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('memories', 'id'), %s) "
            "WHERE %s > (SELECT last_value FROM memories_id_seq)",
            (memory_id, memory_id),
        )
    return row
