"""SQLite's words for the shared SQL layer (storage/sql/dialect.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from nexus_memory.domain.timeutil import from_iso, to_iso
from nexus_memory.storage.common import dumps, loads_list, loads_obj
from nexus_memory.storage.sql.dialect import Dialect
from nexus_memory.storage.sqlite.connection import map_error


class SQLiteDialect(Dialect):
    """JSON as text with json_each, timestamps as fixed-width ISO text, booleans as 0/1."""

    name = "sqlite"
    never = "0"
    always = "1"
    for_update = ""  # every write transaction is BEGIN IMMEDIATE: the write lock is already ours
    nulls_last = ""  # NULL sorts last under DESC already
    same = "IS"
    returning = False  # RETURNING needs SQLite 3.35; the row is read back instead
    max_params = 999  # SQLITE_MAX_VARIABLE_NUMBER of builds before 3.32
    label_match = "EXISTS (SELECT 1 FROM json_each(m.labels) WHERE lower(json_each.value) = lower(?))"
    session_key_match = ("EXISTS (SELECT 1 FROM json_each(m.metadata, '$.cognitive.session_keys') "
                         "WHERE json_each.value = ?)")
    advisory_lock = None
    driver_error = sqlite3.Error

    def map_error(self, location: Any, exc: Any) -> Exception:
        return map_error(location, exc)

    def execute(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(sql, params)

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(sql, rows)

    def insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        return int(conn.execute(sql, params).lastrowid or 0)

    @contextmanager
    def integrity(self, conn: Any, error: Exception) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise error from None

    def is_true(self, column: str) -> str:
        return f"{column} = 1"

    def is_false(self, column: str) -> str:
        return f"{column} = 0"

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def insert_ignore(self, into: str) -> str:
        return f"INSERT OR IGNORE INTO {into}"

    def json_number(self, column: str, *path: str) -> str:
        return f"CAST(json_extract({column}, '$.{'.'.join(path)}') AS INTEGER)"

    def json_text(self, column: str, *path: str) -> str:
        return f"CAST(json_extract({column}, '$.{'.'.join(path)}') AS TEXT)"

    def day(self, column: str) -> str:
        return f"substr({column}, 1, 10)"

    def starts_with(self, column: str, prefix: str) -> tuple[str, Any]:
        return f"{column} LIKE ?", prefix + "%"

    def json(self, value: Any) -> Any:
        return dumps(value)

    def boolean(self, value: bool) -> Any:
        return int(value)

    def time(self, value: datetime) -> Any:
        return to_iso(value)

    def json_obj(self, raw: Any) -> dict[str, Any]:
        return loads_obj(raw)

    def json_list(self, raw: Any) -> list[str]:
        return loads_list(raw)

    def time_out(self, raw: Any) -> datetime | None:
        return from_iso(raw)


SQLITE = SQLiteDialect()
