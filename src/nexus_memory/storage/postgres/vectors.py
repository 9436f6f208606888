"""The optional VectorIndex port on pgvector: HNSW with cosine distance.

One table holds vectors of every model; each model gets a partial HNSW index on
`embedding::vector(DIM)` the first time its vectors arrive. Searches cast the same
way and name the model as a literal, so the planner can pick that index; pgvector
0.8's iterative scan keeps filtered searches from coming back short.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.errors import InvalidInput
from nexus_memory.storage.postgres.dialect import POSTGRES
from nexus_memory.storage.sql.dialect import SQLBackend
from nexus_memory.storage.sql.queries import FROM, MEMORY_COLUMNS, filter_sql, row_to_memory

Conn = psycopg.Connection[Any]


def normalised(values: Sequence[float]) -> list[float] | None:
    """The L2-normalised vector, or None for an empty, zero or non-finite one."""
    floats = [float(v) for v in values]
    norm = math.sqrt(math.fsum(x * x for x in floats))
    if not floats or norm == 0.0 or not math.isfinite(norm):
        return None
    return [x / norm for x in floats]


def vector_literal(values: Sequence[float]) -> str:
    return "[" + ",".join(repr(v) for v in values) + "]"


def _check_model(model: str) -> None:
    # The model is spliced into SQL as a quoted literal (so a partial index can match);
    # a '%' there would be read as a parameter placeholder.
    if not model or "%" in model or "\x00" in model:
        raise InvalidInput(f"unusable embedding model name {model!r}", hint="use a name without '%'")


#: Below this many vectors a model is searched exactly (a sequential scan is fast and
#: exact); at this many the first search builds its HNSW index.
HNSW_MIN_ROWS = 2000
#: Candidate rows fetched per wanted result on the first try (grown 4x while a filter
#: leaves too few); past MAX_CANDIDATES the filtered rows are searched exactly.
OVERFETCH = 4
MAX_CANDIDATES = 4096


def _index_name(model: str) -> str:
    return "idx_vec_hnsw_" + hashlib.sha1(model.encode("utf-8")).hexdigest()[:16]


class PostgresVectorsMixin(SQLBackend):
    """Mixed into PostgresStore; relies on its `write()` and `read()`."""

    @staticmethod
    def _model_dim(conn: Conn, model: str) -> int | None:
        row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
        return int(row["dim"]) if row else None

    def _ensure_model(self, conn: Conn, model: str, dim: int) -> None:
        _check_model(model)
        known = self._model_dim(conn, model)
        if known is None:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (model,))
            known = self._model_dim(conn, model)
        if known is not None and known != dim and not conn.execute(
            "SELECT 1 FROM memory_vectors WHERE model = %s LIMIT 1", (model,)
        ).fetchone():
            # Every vector of the old size is gone: the model id may start over with a new size.
            old = conn.execute("DELETE FROM vector_models WHERE model = %s RETURNING index_name", (model,)).fetchone()
            if old:
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(old["index_name"])))
            known = None
        if known is not None:
            if known != dim:
                raise InvalidInput(
                    f"model '{model}' stores {known}-dimensional vectors, not {dim}",
                    hint="re-embed with the same model, or delete its vectors first",
                )
            return
        conn.execute("INSERT INTO vector_models(model, dim, index_name, indexed) VALUES (%s, %s, %s, FALSE)",
                     (model, dim, _index_name(model)))

    def ensure_vector_index(self, model: str, *, min_rows: int | None = None) -> bool:
        """Build the model's HNSW index if it has none and at least `min_rows` vectors.

        Call it after a bulk load (migration, backfill); searches call it too. One process
        builds at a time (an advisory lock); the others keep searching exactly meanwhile.
        Returns whether the model has its index now.
        """
        floor = HNSW_MIN_ROWS if min_rows is None else min_rows
        with self.read() as conn:
            row = conn.execute("SELECT dim, indexed, index_name FROM vector_models WHERE model = %s",
                               (model,)).fetchone()
            if row is None:
                return False
            if row["indexed"]:
                return True
            if floor > 0 and conn.execute(
                "SELECT count(*) AS c FROM memory_vectors WHERE model = %s", (model,)
            ).fetchone()["c"] < floor:
                return False
            key = ("hnsw:" + model,)
            got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 2)) AS ok", key).fetchone()
            if not got or not got["ok"]:
                return False  # someone else is building it
            try:
                conn.execute("SET maintenance_work_mem = '256MB'")
                conn.execute(sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {name} ON memory_vectors USING hnsw "
                    "((embedding::vector({dim})) vector_cosine_ops) WHERE model = {model}"
                ).format(name=sql.Identifier(row["index_name"]), dim=sql.Literal(int(row["dim"])),
                         model=sql.Literal(model)))
                conn.execute("UPDATE vector_models SET indexed = TRUE WHERE model = %s", (model,))
            finally:
                conn.execute("RESET maintenance_work_mem")
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 2))", key)
        return True

    def upsert_vectors(self, model: str, rows: Sequence[tuple[int, str, Sequence[float]]]) -> int:
        if not model:
            raise InvalidInput("an embedding model id is empty", hint="configure NEXUS_EMBEDDING_MODEL")
        packed: list[tuple[int, str, list[float]]] = []
        for memory_id, kind, vector in rows:
            unit = normalised(vector)
            if unit is None:
                raise InvalidInput("an embedding vector is empty or has zero or non-finite length",
                                   hint="check the embedding model's output")
            packed.append((int(memory_id), str(kind), unit))
        if not packed:
            return 0
        dim = len(packed[0][2])
        bad = next((len(v) for _, _, v in packed if len(v) != dim), None)
        if bad is not None:
            raise InvalidInput(f"model '{model}' got {dim}-dimensional and {bad}-dimensional vectors in one batch",
                               hint="a model id must always produce vectors of one size")
        with self.write() as conn:
            self._ensure_model(conn, model, dim)
            with conn.cursor() as cur:  # executemany pipelines the rows: one round trip per batch
                cur.executemany(
                    "INSERT INTO memory_vectors(memory_id, model, kind, dim, embedding) "
                    "SELECT id, %s, %s, %s, %s::vector FROM memories WHERE id = %s "
                    "ON CONFLICT (memory_id, model, kind) DO UPDATE SET embedding = EXCLUDED.embedding, "
                    "dim = EXCLUDED.dim, created_at = now() RETURNING memory_id",
                    [(model, kind, dim, vector_literal(vec), memory_id) for memory_id, kind, vec in packed],
                    returning=True,
                )
                written = 0
                while True:
                    written += len(cur.fetchall())
                    if not cur.nextset():
                        break
            conn.execute(
                "UPDATE memories SET embedding_model = %s WHERE id = ANY(%s) AND embedding_model IS DISTINCT FROM %s",
                (model, sorted({p[0] for p in packed}), model),
            )
        return written

    def vector_search(
        self, model: str, query: Sequence[float], flt: MemoryFilter, *, limit: int = 10
    ) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        _check_model(model)
        where, params = filter_sql(flt, POSTGRES)
        if model not in self.__dict__.setdefault("_indexed_models", set()) and self.ensure_vector_index(model):
            self.__dict__["_indexed_models"].add(model)
        with self.write() as conn:
            dim = self._model_dim(conn, model)
            if dim is None:
                return []
            if dim != len(query):
                raise InvalidInput(
                    f"the query vector has {len(query)} dimensions but model '{model}' stores {dim}",
                    hint="embed the query with the same model",
                )
            unit = normalised(query)
            if unit is None:
                return []
            lit = vector_literal(unit)
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(min(1000, max(40, limit * 4)))))
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            names = {"dim": sql.Literal(dim), "model": sql.Literal(model), "where": sql.SQL(where)}
            # Nearest rows from the index (no filter, so the planner always takes it), then the
            # filter on those candidates; more candidates while a selective filter leaves too few.
            wanted = max(40, limit * OVERFETCH)
            while wanted <= MAX_CANDIDATES:
                rows = conn.execute(sql.SQL(
                    "WITH c AS MATERIALIZED (SELECT v.memory_id, (v.embedding::vector({dim})) <=> %s::vector({dim}) "
                    "AS dist FROM memory_vectors v WHERE v.model = {model} ORDER BY dist LIMIT %s) "
                    "SELECT c.memory_id, c.dist, EXISTS (SELECT 1 FROM memories m JOIN agent_namespaces n "
                    "ON n.id = m.namespace_id WHERE m.id = c.memory_id AND {where}) AS ok FROM c"
                ).format(**names), [lit, wanted, *params]).fetchall()
                best: dict[int, float] = {}
                for r in rows:
                    if r["ok"] and r["dist"] == r["dist"]:  # NaN-safe
                        mid = int(r["memory_id"])
                        best[mid] = min(best.get(mid, 2.0), float(r["dist"]))
                if len(best) >= limit or len(rows) < wanted:  # enough, or every vector seen
                    ranked = sorted(best.items(), key=lambda kv: (kv[1], kv[0]))[:limit]
                    return [(mid, 1.0 - dist) for mid, dist in ranked]
                wanted *= 4
            # A very selective filter: exact search over the rows that pass it. `+ 0` keeps
            # the planner off the HNSW index, whose scan would stop after max_scan_tuples.
            rows = conn.execute(sql.SQL(
                "SELECT v.memory_id, min(((v.embedding::vector({dim})) <=> %s::vector({dim})) + 0) AS dist "
                "FROM memory_vectors v JOIN memories m ON m.id = v.memory_id "
                "JOIN agent_namespaces n ON n.id = m.namespace_id WHERE v.model = {model} AND {where} "
                "GROUP BY v.memory_id ORDER BY dist, v.memory_id LIMIT %s"
            ).format(**names), [lit, *params, limit]).fetchall()
        return [(int(r["memory_id"]), 1.0 - float(r["dist"])) for r in rows if r["dist"] == r["dist"]]

    def vector_counts(self) -> dict[str, int]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT model, count(DISTINCT memory_id) AS c FROM memory_vectors GROUP BY model ORDER BY model"
            ).fetchall()
        return {r["model"]: int(r["c"]) for r in rows}

    def memories_without_vectors(self, model: str, *, after_id: int = 0, limit: int = 256) -> list[Memory]:
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} {FROM} WHERE m.is_active AND m.id > %s AND NOT EXISTS "
                "(SELECT 1 FROM memory_vectors v WHERE v.memory_id = m.id AND v.model = %s) "
                "ORDER BY m.id LIMIT %s",
                (int(after_id), model, int(limit)),
            ).fetchall()
        return [row_to_memory(r, POSTGRES) for r in rows]

    def get_vectors(self, memory_id: int, model: str) -> dict[str, list[float]]:
        """kind -> stored (normalised) vector."""
        return {kind: vec for m, kind, vec in self.vectors_of([memory_id]).get(int(memory_id), []) if m == model}

    def vectors_of(self, memory_ids: Sequence[int]) -> dict[int, list[tuple[str, str, list[float]]]]:
        """memory id -> (model, kind, vector) rows; used by export and migration."""
        if not memory_ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(
                "SELECT memory_id, model, kind, embedding::text AS vec FROM memory_vectors "
                "WHERE memory_id = ANY(%s) ORDER BY memory_id, model, kind",
                ([int(i) for i in memory_ids],),
            ).fetchall()
        out: dict[int, list[tuple[str, str, list[float]]]] = {}
        for r in rows:
            vec = [float(x) for x in r["vec"].strip("[]").split(",") if x]
            out.setdefault(int(r["memory_id"]), []).append((r["model"], r["kind"], vec))
        return out
