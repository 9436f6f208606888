"""The words in which SQLite and PostgreSQL differ, in one small object.

The shared layer (`storage/sql/`) writes each query once and asks a `Dialect` for the few
fragments that differ: an IN list or `= ANY`, `json_each` or `jsonb_array_elements_text`,
`INSERT OR IGNORE` or `ON CONFLICT DO NOTHING`, how a boolean column is tested, row locks.
It also converts values on the way in and out (JSON text or jsonb, ISO text or
timestamptz, 0/1 or booleans), and runs statements, because the drivers differ there
too (`%s` placeholders, `executemany` on a cursor, RETURNING against `lastrowid`,
savepoints).

Each adapter subclasses it once (`storage/sqlite/dialect.py`, `storage/postgres/dialect.py`).
No ORM and no query builder: the SQL stays SQL, readable as it runs, and the core keeps
no runtime dependency.

Rules for shared SQL: `?` is the only placeholder (PostgreSQL's dialect turns it into
`%s`), so a literal `?` or `%` never appears in it (use `@>`, not jsonb's `?` operator);
rows are read by column name, so every computed column has an alias.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any


class Dialect:
    """What the shared SQL needs to know about one database. Subclasses set every member."""

    name: str
    #: A condition that is always false (an empty IN list), and one always true (no filter).
    never: str
    always: str
    #: Appended to a SELECT of rows the transaction then changes ("" where the write lock
    #: is taken up front, as SQLite's BEGIN IMMEDIATE does).
    for_update: str
    #: After `DESC` on a nullable sort key: missing values last ("" where that is the default).
    nulls_last: str
    #: Null-safe equality operator (`IS` in SQLite, `IS NOT DISTINCT FROM` in PostgreSQL).
    same: str
    #: Whether INSERT/UPDATE ... RETURNING is used (otherwise the row is read back).
    returning: bool
    #: The most parameters one statement may bind (None: no limit worth chunking for).
    max_params: int | None
    #: Conditions with one `?` each, over aliases `m` (memories): the memory has the label
    #: (case-insensitive), and `metadata.cognitive.session_keys` holds the session key.
    label_match: str
    session_key_match: str
    #: A statement taking a transaction-scoped lock on one text key (enqueue-if-absent), or
    #: None where the write transaction already serialises writers.
    advisory_lock: str | None
    #: The base class of the driver's errors, mapped once by `map_error`.
    driver_error: type[Exception]

    def map_error(self, location: Any, exc: Any) -> Exception:
        """A driver error as one of the error tree's StorageErrors; `location` names the
        database (a path, or a URL whose password is never shown)."""
        raise NotImplementedError

    # statements ----------------------------------------------------------------------
    def native(self, sql: str) -> str:
        """The statement in the driver's own placeholder style."""
        return sql

    def execute(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the driver's cursor (rows by column name)."""
        raise NotImplementedError

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row into a table with an `id` key; the new id."""
        raise NotImplementedError

    def write_and_read(self, conn: Any, sql: str, params: Sequence[Any], reread: str,
                       reread_params: Sequence[Any]) -> Any:
        """Run an INSERT/UPDATE of one row and return that row: through RETURNING *, or by
        running `reread` afterwards in the same transaction."""
        if self.returning:
            return self.execute(conn, sql + " RETURNING *", params).fetchone()
        self.execute(conn, sql, params)
        return self.execute(conn, reread, reread_params).fetchone()

    def integrity(self, conn: Any, error: Exception) -> AbstractContextManager[None]:
        """Raise `error` instead of the driver's integrity error (a unique or foreign key
        violation) of the statements run inside; the transaction stays usable until then."""
        raise NotImplementedError

    # SQL fragments ---------------------------------------------------------------------
    def is_true(self, column: str) -> str:
        raise NotImplementedError

    def is_false(self, column: str) -> str:
        raise NotImplementedError

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values` (not empty): the condition and its parameters."""
        raise NotImplementedError

    def insert_ignore(self, into: str) -> str:
        """`INSERT INTO <into>`, skipping a row that would break a unique constraint."""
        raise NotImplementedError

    def json_number(self, column: str, *path: str) -> str:
        """The number at `path` in a JSON column (NULL when missing), for sorting."""
        raise NotImplementedError

    def json_text(self, column: str, *path: str) -> str:
        """The value at `path` in a JSON column as text (NULL when missing)."""
        raise NotImplementedError

    def day(self, column: str) -> str:
        """A timestamp column as its UTC day, `YYYY-MM-DD` text."""
        raise NotImplementedError

    def starts_with(self, column: str, prefix: str) -> tuple[str, Any]:
        """A text column starts with `prefix`: the condition (one `?`) and its parameter."""
        raise NotImplementedError

    # values in and out ----------------------------------------------------------------
    def json(self, value: Any) -> Any:
        raise NotImplementedError

    def boolean(self, value: bool) -> Any:
        raise NotImplementedError

    def time(self, value: datetime) -> Any:
        raise NotImplementedError

    def json_obj(self, raw: Any) -> dict[str, Any]:
        """A stored JSON object; anything else reads leniently (never an error)."""
        raise NotImplementedError

    def json_list(self, raw: Any) -> list[str]:
        raise NotImplementedError

    def time_out(self, raw: Any) -> datetime | None:
        raise NotImplementedError

    def chunks(self, values: Sequence[Any], *, per: int = 1, reserved: int = 0) -> Iterator[Sequence[Any]]:
        """`values` in slices small enough to bind `per` times each beside `reserved` other
        parameters (one slice where the database has no practical limit)."""
        if self.max_params is None:
            if values:
                yield values
            return
        size = max(1, (self.max_params - reserved) // per)
        for start in range(0, len(values), size):
            yield values[start:start + size]


class SQLBackend:
    """Base of the shared mixins: a backend sets `dialect` and `location`, and gives
    `read()` and `write()`."""

    dialect: Dialect
    #: The database, for error messages: a path, or a URL (shown without its password).
    location: Any

    def read(self) -> AbstractContextManager[Any]:  # pragma: no cover - provided by the backend
        """A connection for reads, driver errors mapped to the error tree."""
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Any]:  # pragma: no cover - provided by the backend
        """A connection inside one write transaction, driver errors mapped to the error tree."""
        raise NotImplementedError

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors raised inside become the error tree's, mapped once."""
        try:
            yield
        except self.dialect.driver_error as exc:
            raise self.dialect.map_error(self.location, exc) from None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one read (a plain statement in shared SQL)."""
        with self.read() as conn:
            return list(self.dialect.execute(conn, sql, params).fetchall())

    def _row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of one read, or None."""
        with self.read() as conn:
            return self.dialect.execute(conn, sql, params).fetchone()

    def _changed(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write in its own transaction; the number of rows it changed."""
        with self.write() as conn:
            return max(int(self.dialect.execute(conn, sql, params).rowcount), 0)


def where_equal(*pairs: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """`column = ?` for each (column, value) pair whose value is not None, and the values."""
    where = [f"{column} = ?" for column, value in pairs if value is not None]
    return where, [value for _, value in pairs if value is not None]


def and_where(where: Sequence[str]) -> str:
    """` WHERE a AND b`, or nothing for no conditions."""
    return " WHERE " + " AND ".join(where) if where else ""
