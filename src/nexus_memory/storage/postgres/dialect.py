"""PostgreSQL's words for the shared SQL layer (storage/sql/dialect.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from nexus_memory.storage.postgres.connection import map_error
from nexus_memory.storage.sql.dialect import Dialect


@functools.lru_cache(maxsize=1024)
def _native(sql: str) -> str:
    return sql.replace("?", "%s")


def utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


class PostgresDialect(Dialect):
    """jsonb, timestamptz and booleans; `= ANY(array)` instead of IN lists; row locks."""

    name = "postgres"
    never = "FALSE"
    always = "TRUE"
    for_update = " FOR UPDATE"
    nulls_last = " NULLS LAST"
    same = "IS NOT DISTINCT FROM"
    returning = True
    max_params = None  # a list binds as one array parameter
    label_match = "EXISTS (SELECT 1 FROM jsonb_array_elements_text(m.labels) AS l(v) WHERE lower(l.v) = lower(?))"
    session_key_match = ("(jsonb_typeof(m.metadata->'cognitive'->'session_keys') = 'array' "
                         "AND m.metadata->'cognitive'->'session_keys' @> jsonb_build_array(?::text))")
    # Enqueue-if-absent on several machines: one transaction-scoped lock per dedup key.
    advisory_lock = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"
    driver_error = psycopg.Error

    def map_error(self, location: Any, exc: Any) -> Exception:
        return map_error(location, exc)

    def native(self, sql: str) -> str:
        return _native(sql)

    def execute(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(_native(sql), params or None)

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with conn.cursor() as cur:  # executemany pipelines the rows: one round trip per batch
            cur.executemany(_native(sql), rows)

    def insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        return int(self.execute(conn, sql + " RETURNING id", params).fetchone()["id"])

    @contextmanager
    def integrity(self, conn: Any, error: Exception) -> Iterator[None]:
        try:
            with conn.transaction():  # a savepoint: the outer transaction stays usable
                yield
        except pg_errors.IntegrityError:
            raise error from None

    def is_true(self, column: str) -> str:
        return column

    def is_false(self, column: str) -> str:
        return f"NOT {column}"

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def insert_ignore(self, into: str) -> str:
        return f"INSERT INTO {into} ON CONFLICT DO NOTHING"

    def json_text(self, column: str, *path: str) -> str:
        return column + "".join(f"->'{key}'" for key in path[:-1]) + f"->>'{path[-1]}'"

    def json_number(self, column: str, *path: str) -> str:
        # A non-numeric value sorts like a missing one instead of failing the query.
        expr = column + "".join(f"->'{key}'" for key in path)
        return f"(CASE WHEN jsonb_typeof({expr}) = 'number' THEN ({expr})::numeric END)"

    def day(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def starts_with(self, column: str, prefix: str) -> tuple[str, Any]:
        return f"starts_with({column}, ?)", prefix

    def json(self, value: Any) -> Any:
        return Jsonb(value)

    def boolean(self, value: bool) -> Any:
        return bool(value)

    def time(self, value: datetime) -> Any:
        return value

    def json_obj(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, dict):
            return raw
        return {} if raw is None else {"value": raw}

    def json_list(self, raw: Any) -> list[str]:
        return [str(v) for v in raw] if isinstance(raw, list) else []

    def time_out(self, raw: Any) -> datetime | None:
        return utc(raw)


POSTGRES = PostgresDialect()
