"""The SQLite implementation of the optional `VectorIndex` port.

Vectors live in `memory_vectors` as float32 BLOBs (migration 0010). Search is
exact: one cached float32 matrix per model, multiplied by the query with numpy.
The stdlib `sqlite3` here cannot load extensions, so sqlite-vec is not used; its
brute-force KNN was ~7x slower than numpy at 100k rows anyway (see docs/search.md).

Cache freshness across processes: the table is a rowid table, so rows written
after the cache was filled have larger rowids and are appended; `vector_log`
counts deletions (a trigger), and any deletion makes the next search reload the
model's matrix. Both checks are two indexed single-row reads per search.

Writes need only the standard library; numpy is imported lazily by searches.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.domain.timeutil import to_iso, utcnow
from nexus_memory.errors import InvalidInput, NotAvailable
from nexus_memory.storage.sql.dialect import SQLBackend
from nexus_memory.storage.sqlite import vector_snapshot as snapshot

if TYPE_CHECKING:
    import numpy as np

#: Candidate rows fetched per wanted result on the first try (a memory has up to
#: two rows, and filters drop some); grown 4x per retry.
OVERFETCH = 4
#: Past this many candidate rows, compute the filter's id set in SQL instead.
MAX_OVERFETCH_ROWS = 4096
#: From this many rows of a model on, candidates come from binary codes (one sign bit per
#: dimension, Hamming distance) and only the best BINARY_RERANK rows are scored exactly:
#: 7x faster than exact float32 at 100k with recall@10 1.0 there (bench/search_scale.py,
#: docs/search.md "Plan for 1M"). Below it, search is exact.
BINARY_MIN_ROWS = 200_000
BINARY_RERANK = 1000


def pack_vector(vector: Sequence[float]) -> tuple[bytes, int]:
    """L2-normalised little-endian float32 bytes and the dimension."""
    if type(vector).__module__ == "numpy":  # already loaded by the caller: the fast path
        return _pack_numpy(vector)
    values = [float(x) for x in vector]
    if not values:
        raise InvalidInput("an embedding vector is empty", hint="check the embedding model's output")
    norm = math.sqrt(math.fsum(x * x for x in values))
    if not math.isfinite(norm) or norm == 0.0:
        raise InvalidInput("an embedding vector has zero or non-finite length", hint="check the embedding model")
    buf = array("f", (x / norm for x in values))
    if buf.itemsize != 4:  # pragma: no cover - every platform we support has 4-byte floats
        raise NotAvailable("this platform's float is not 32-bit", hint="use the PostgreSQL backend")
    return buf.tobytes(), len(values)


def _pack_numpy(vector: Any) -> tuple[bytes, int]:
    import numpy as np

    arr = np.asarray(vector, dtype=np.float64).ravel()
    norm = float(np.sqrt(arr @ arr)) if arr.size else 0.0
    if not arr.size:
        raise InvalidInput("an embedding vector is empty", hint="check the embedding model's output")
    if not math.isfinite(norm) or norm == 0.0:
        raise InvalidInput("an embedding vector has zero or non-finite length", hint="check the embedding model")
    return (arr / norm).astype("<f4").tobytes(), int(arr.size)


def unpack_vector(blob: bytes) -> list[float]:
    values = array("f")
    values.frombytes(blob)
    return values.tolist()


class _Matrix:
    """The cached vectors of one model: rows [0, n) of `data` are in use. A plain class, not a dataclass:
    every process that opens a store defines it, and a dataclass costs its cold start ~3 M instructions."""

    __slots__ = (
        "_by_id",
        "_codes",
        "_codes_n",
        "data",
        "deletions",
        "dim",
        "max_rowid",
        "memory_ids",
        "n",
        "namespace_ids",
        "snapshot_n",
    )

    def __init__(self, dim: int, data: np.ndarray, memory_ids: np.ndarray, namespace_ids: np.ndarray, n: int,
                 max_rowid: int, deletions: int, snapshot_n: int = 0) -> None:
        self.dim, self.data, self.memory_ids, self.namespace_ids = dim, data, memory_ids, namespace_ids
        self.n, self.max_rowid, self.deletions = n, max_rowid, deletions
        #: memory ids sorted, with their row numbers; rebuilt lazily after appends.
        self._by_id: tuple[int, np.ndarray, np.ndarray] | None = None
        #: rows that came from (or went into) the on-disk snapshot.
        self.snapshot_n = snapshot_n
        #: sign-bit codes of rows [0, _codes_n), as uint64 words; extended lazily.
        self._codes: np.ndarray | None = None
        self._codes_n = 0

    def codes(self) -> np.ndarray:
        """Binary codes of every row in use, one bit per dimension in 64-bit words, stored
        word-major (words x rows): each word is one contiguous pass (5x faster than row-major)."""
        import numpy as np

        words = (self.dim + 63) // 64
        if self._codes is None or self._codes.shape[1] < self.n:
            grown = np.zeros((words, self.data.shape[0]), dtype=np.uint64)
            if self._codes is not None:
                grown[:, : self._codes_n] = self._codes[:, : self._codes_n]
            self._codes = grown
        if self._codes_n < self.n:
            for start in range(self._codes_n, self.n, 65536):
                stop = min(start + 65536, self.n)
                bits = np.packbits(self.data[start:stop] > 0, axis=1)
                padded = np.zeros((stop - start, words * 8), dtype=np.uint8)
                padded[:, : bits.shape[1]] = bits
                self._codes[:, start:stop] = padded.view(np.uint64).T
            self._codes_n = self.n
        return self._codes[:, : self.n]

    def binary_candidates(self, q: np.ndarray, mask: np.ndarray | None, count: int) -> np.ndarray:
        """Rows whose codes are nearest the query's in Hamming distance (masked rows excluded)."""
        import numpy as np

        codes = self.codes()
        words = codes.shape[0]
        qbits = np.zeros(words * 8, dtype=np.uint8)
        packed = np.packbits(q > 0)
        qbits[: packed.shape[0]] = packed
        qwords = qbits.view(np.uint64)
        dist = np.zeros(self.n, dtype=np.uint16)
        scratch = np.empty(self.n, dtype=np.uint64)
        for w in range(words):
            np.bitwise_xor(codes[w], qwords[w], out=scratch)
            dist += np.bitwise_count(scratch)
        beyond = words * 64 + 1  # farther than any code can be
        if mask is not None:
            dist[~mask] = beyond
        count = min(count, self.n)
        rows = nearest_rows(dist, count, beyond) if count < self.n else np.arange(self.n)
        return rows if mask is None else rows[mask[rows]]

    def rows_for(self, wanted: Sequence[int]) -> np.ndarray:
        """Row numbers holding vectors of the `wanted` memory ids (binary search, no full scan)."""
        import numpy as np

        if self._by_id is None or self._by_id[0] != self.n:
            order = np.argsort(self.memory_ids[: self.n], kind="stable")
            self._by_id = (self.n, self.memory_ids[: self.n][order], order)
        _, keys, order = self._by_id
        w = np.unique(np.asarray(list(wanted), dtype=np.int64))
        lo, hi = np.searchsorted(keys, w, "left"), np.searchsorted(keys, w, "right")
        spans = [order[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        return np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)

    def append(self, memory_ids: list[int], namespace_ids: list[int], blobs: list[bytes]) -> None:
        import numpy as np

        count = len(blobs)
        if not count:
            return
        block = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(count, self.dim)
        need = self.n + count
        if need > self.data.shape[0]:
            capacity = max(need, int(self.data.shape[0] * 1.5) + 64)
            self.data = _grow(self.data, (capacity, self.dim))
            self.memory_ids = _grow(self.memory_ids, (capacity,))
            self.namespace_ids = _grow(self.namespace_ids, (capacity,))
        self.data[self.n:need] = block
        self.memory_ids[self.n:need] = memory_ids
        self.namespace_ids[self.n:need] = namespace_ids
        self.n = need


def _grow(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    out = np.zeros(shape, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class SQLiteVectorsMixin(SQLBackend):
    """Mixed into SQLiteStore; relies on its `conn`, `path`, `write`, `_errors` and filter helpers."""

    path: Path
    _vec_token = ""

    @property
    def conn(self) -> sqlite3.Connection:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _ids_passing(self, ids: Sequence[int], flt: MemoryFilter) -> set[int]:
        raise NotImplementedError

    def _all_ids(self, flt: MemoryFilter) -> list[int]:
        raise NotImplementedError

    def _memories_where(self, where: str, params: Sequence[Any], limit: int) -> list[Memory]:
        raise NotImplementedError

    _vec_lock = threading.Lock()

    @property
    def _vec_cache(self) -> dict[str, _Matrix]:
        cache: dict[str, _Matrix] | None = self.__dict__.get("_vec_cache_dict")
        if cache is None:
            cache = {}
            self.__dict__["_vec_cache_dict"] = cache
        return cache

    # writes -------------------------------------------------------------------
    def upsert_vectors(self, model: str, rows: Sequence[tuple[int, str, Sequence[float]]]) -> int:
        """Replace (memory, model, kind) rows; records the model on the memory row too."""
        if not model:
            raise InvalidInput("an embedding model id is empty", hint="configure NEXUS_EMBEDDING_MODEL")
        packed = []
        for memory_id, kind, vector in rows:
            blob, dim = pack_vector(vector)
            packed.append((int(memory_id), str(kind), dim, blob))
        if not packed:
            return 0
        now = to_iso(utcnow())
        with self.write() as conn:
            row = conn.execute("SELECT dim FROM memory_vectors WHERE model = ? LIMIT 1", (model,)).fetchone()
            known = int(row[0]) if row else packed[0][2]
            bad = next((p for p in packed if p[2] != known), None)
            if bad is not None:
                raise InvalidInput(
                    f"model '{model}' has {known}-dimensional vectors, got one with {bad[2]}",
                    hint="a model id must always produce vectors of one size; rename the model or rebuild",
                )
            existing = {int(r[0]) for r in conn.execute(
                f"SELECT id FROM memories WHERE id IN ({','.join('?' * len(packed))})", [p[0] for p in packed]
            )} if len(packed) <= 900 else None
            written = 0
            for memory_id, kind, dim, blob in packed:
                if existing is not None and memory_id not in existing:
                    continue  # deleted meanwhile: nothing to attach the vector to
                conn.execute(
                    "DELETE FROM memory_vectors WHERE memory_id = ? AND model = ? AND kind = ?",
                    (memory_id, model, kind),
                )
                try:
                    conn.execute(
                        "INSERT INTO memory_vectors(memory_id, model, kind, dim, vector, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (memory_id, model, kind, dim, blob, now),
                    )
                except sqlite3.IntegrityError:
                    continue  # the memory does not exist (foreign key)
                written += 1
            conn.executemany(
                "UPDATE memories SET embedding_model = ? WHERE id = ? AND embedding_model IS NOT ?",
                [(model, mid, model) for mid in sorted({p[0] for p in packed})],
            )
        return written

    # reads --------------------------------------------------------------------
    def vector_counts(self) -> dict[str, int]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT model, count(DISTINCT memory_id) FROM memory_vectors GROUP BY model ORDER BY model"
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def memories_without_vectors(self, model: str, *, after_id: int = 0, limit: int = 256) -> list[Memory]:
        return self._memories_where(
            "m.is_active = 1 AND m.id > ? AND NOT EXISTS (SELECT 1 FROM memory_vectors v "
            "WHERE v.memory_id = m.id AND v.model = ?) ORDER BY m.id",
            [int(after_id), model],
            limit,
        )

    def vectors_of(self, memory_ids: Sequence[int]) -> dict[int, list[tuple[str, str, list[float]]]]:
        """memory id -> (model, kind, vector) rows; used by export and migration."""
        out: dict[int, list[tuple[str, str, list[float]]]] = {}
        unique = list(dict.fromkeys(int(i) for i in memory_ids))
        with self._errors():
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                rows = self.conn.execute(
                    f"SELECT memory_id, model, kind, vector FROM memory_vectors "
                    f"WHERE memory_id IN ({','.join('?' * len(chunk))}) ORDER BY memory_id, model, kind",
                    chunk,
                ).fetchall()
                for r in rows:
                    out.setdefault(int(r[0]), []).append((r[1], r[2], unpack_vector(r[3])))
        return out

    def get_vectors(self, memory_id: int, model: str) -> dict[str, list[float]]:
        """kind -> stored (normalised) vector; for tests and `nexus embeddings status`."""
        with self._errors():
            rows = self.conn.execute(
                "SELECT kind, vector FROM memory_vectors WHERE memory_id = ? AND model = ? ORDER BY kind",
                (memory_id, model),
            ).fetchall()
        return {r[0]: unpack_vector(r[1]) for r in rows}

    def vector_search(
        self, model: str, query: Sequence[float], flt: MemoryFilter, *, limit: int = 10
    ) -> list[tuple[int, float]]:
        import numpy as np

        if limit <= 0:
            return []
        matrix = self._fresh_matrix(model)
        if matrix is None or matrix.n == 0:
            return []
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1 or q.shape[0] != matrix.dim:
            raise InvalidInput(
                f"the query vector has {q.shape[-1] if q.ndim else 0} dimensions; model '{model}' stores "
                f"{matrix.dim}",
                hint="embed the query with the same model as the stored vectors",
            )
        norm = float(np.linalg.norm(q))
        if norm == 0.0 or not math.isfinite(norm):
            return []
        q = q / norm
        data, ids, n = matrix.data, matrix.memory_ids, matrix.n
        if flt.ids is not None:
            return self._search_ids(matrix, q, flt, limit)
        mask = self._prefilter_mask(flt, ids[:n], matrix.namespace_ids[:n])
        valid = n if mask is None else int(mask.sum())
        if valid == 0:
            return []
        if n >= BINARY_MIN_ROWS and hasattr(np, "bitwise_count"):
            rows = matrix.binary_candidates(q, mask, max(BINARY_RERANK, limit * OVERFETCH * 8))
            rows.sort()  # sequential reads of the (possibly memory-mapped) matrix
            scores, row_ids = data[rows] @ q, ids[rows]
            valid = int(rows.shape[0])
        else:
            scores, row_ids = data[:n] @ q, ids[:n]
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
        k = min(valid, max(limit * OVERFETCH, 32))
        while True:
            ranked = _best_per_memory(scores, row_ids, k)
            passing = self._ids_passing([mid for mid, _ in ranked], flt)
            found = [(mid, s) for mid, s in ranked if mid in passing]
            if len(found) >= limit or k >= valid:
                return found[:limit]
            if k >= MAX_OVERFETCH_ROWS:
                break
            k = min(valid, k * 4)
        # A selective filter: compute its id set once and score exactly those rows.
        return self._search_ids(matrix, q, replace(flt, ids=tuple(self._all_ids(flt))), limit, verified=True)

    def _search_ids(self, matrix: _Matrix, q: np.ndarray, flt: MemoryFilter, limit: int,
                    *, verified: bool = False) -> list[tuple[int, float]]:
        """Score only the rows of the given ids (`verified`: they are known to pass the filter)."""
        import numpy as np

        rows = matrix.rows_for(flt.ids or ())
        if rows.shape[0] == 0:
            return []
        scores = matrix.data[rows] @ q
        order = np.argsort(-scores, kind="stable")
        mids = matrix.memory_ids[rows][order]
        _, first = np.unique(mids, return_index=True)
        best = [(int(mids[i]), float(scores[order[i]])) for i in np.sort(first).tolist()]
        if verified:
            return best[:limit]
        passing = self._ids_passing([m for m, _ in best], flt)
        return [(m, sc) for m, sc in best if m in passing][:limit]

    def _prefilter_mask(self, flt: MemoryFilter, ids: np.ndarray, namespaces: np.ndarray) -> np.ndarray | None:
        """Cheap masks from what the cache knows (namespaces); SQL checks the rest."""
        import numpy as np

        mask = None
        if flt.agents is not None:
            with self._errors():
                marks = ",".join("?" * len(flt.agents)) or "NULL"
                ns = [r[0] for r in self.conn.execute(
                    f"SELECT id FROM agent_namespaces WHERE name IN ({marks})", list(flt.agents)
                )]
            ns_mask = np.isin(namespaces, np.asarray(ns, dtype=np.int64))
            mask = ns_mask if mask is None else (mask & ns_mask)
        return mask

    def _fresh_matrix(self, model: str) -> _Matrix | None:
        """The model's cached matrix, extended with new rows or reloaded after deletions."""
        with self._errors():
            max_rowid = int(self.conn.execute("SELECT coalesce(max(rowid), 0) FROM memory_vectors").fetchone()[0])
            row = self.conn.execute("SELECT deletions, token FROM vector_log WHERE id = 1").fetchone()
            deletions = int(row[0])
            self._vec_token = f"{row[1]}:{max_rowid}"
        with self._vec_lock:
            cached = self._vec_cache.get(model)
            if cached is not None and cached.deletions == deletions and cached.max_rowid == max_rowid:
                return cached
            if cached is None or cached.deletions != deletions:
                cached = self._load_snapshot(model, deletions) or self._load_matrix(model, 0, deletions)
                if cached is not None:
                    self._maybe_snapshot(cached, model)
            else:
                self._extend(cached, model)
            if cached is None:
                self._vec_cache.pop(model, None)
                return None
            cached.max_rowid = max(cached.max_rowid, max_rowid)
            self._vec_cache[model] = cached
            return cached

    def _rows_after(self, model: str, after_rowid: int) -> Iterator[tuple[int, int, int, int, bytes]]:
        # `+v.model` keeps the planner on the rowid range (new rows are few).
        sql = (
            "SELECT v.rowid, v.memory_id, m.namespace_id, v.dim, v.vector FROM memory_vectors v "
            "JOIN memories m ON m.id = v.memory_id WHERE v.rowid > ? AND +v.model = ? ORDER BY v.rowid"
            if after_rowid
            else "SELECT v.rowid, v.memory_id, m.namespace_id, v.dim, v.vector FROM memory_vectors v "
            "JOIN memories m ON m.id = v.memory_id WHERE v.rowid > ? AND v.model = ? ORDER BY v.rowid"
        )
        with self._errors():
            cur = self.conn.execute(sql, (after_rowid, model))
            while True:
                batch = cur.fetchmany(4096)
                if not batch:
                    return
                yield from batch

    def _load_snapshot(self, model: str, deletions: int) -> _Matrix | None:
        """The matrix from its memory-mapped snapshot, caught up with newer rows from SQLite."""
        token, _, max_rowid = self._vec_token.partition(":")
        snap = snapshot.load(self.path, model, deletions, token=token, max_rowid=int(max_rowid))
        if snap is None:
            return None
        matrix = _Matrix(dim=snap["dim"], data=snap["data"], memory_ids=snap["memory_ids"],
                         namespace_ids=snap["namespace_ids"], n=snap["n"], max_rowid=snap["max_rowid"],
                         deletions=deletions, snapshot_n=snap["n"])
        self._extend(matrix, model)
        return matrix

    def _maybe_snapshot(self, matrix: _Matrix, model: str) -> None:
        if matrix.n - matrix.snapshot_n > max(snapshot.REWRITE_FRACTION * matrix.n, 0) and snapshot.save(
            self.path, model, token=self._vec_token.partition(":")[0], dim=matrix.dim, n=matrix.n, max_rowid=matrix.max_rowid, deletions=matrix.deletions,
            data=matrix.data, memory_ids=matrix.memory_ids, namespace_ids=matrix.namespace_ids,
        ):
            matrix.snapshot_n = matrix.n

    def _load_matrix(self, model: str, after_rowid: int, deletions: int) -> _Matrix | None:
        import numpy as np

        with self._errors():
            row = self.conn.execute(
                "SELECT dim, count(*) FROM memory_vectors WHERE model = ? GROUP BY dim", (model,)
            ).fetchone()
        if row is None:
            return None
        dim, count = int(row[0]), int(row[1])
        matrix = _Matrix(
            dim=dim, data=np.zeros((count + 64, dim), dtype=np.float32),
            memory_ids=np.zeros(count + 64, dtype=np.int64), namespace_ids=np.zeros(count + 64, dtype=np.int64),
            n=0, max_rowid=after_rowid, deletions=deletions,
        )
        self._extend(matrix, model)
        return matrix

    def _extend(self, matrix: _Matrix, model: str) -> None:
        ids: list[int] = []
        nss: list[int] = []
        blobs: list[bytes] = []
        for rowid, memory_id, namespace_id, dim, blob in self._rows_after(model, matrix.max_rowid):
            matrix.max_rowid = max(matrix.max_rowid, int(rowid))
            if dim != matrix.dim:
                continue
            ids.append(memory_id)
            nss.append(namespace_id)
            blobs.append(blob)
            if len(blobs) >= 8192:
                matrix.append(ids, nss, blobs)
                ids, nss, blobs = [], [], []
        matrix.append(ids, nss, blobs)


def _best_per_memory(scores: np.ndarray, memory_ids: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The top `k` rows by score, reduced to each memory's best row, best first."""
    import numpy as np

    n = scores.shape[0]
    k = max(1, min(k, n))
    top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    top = top[np.argsort(-scores[top], kind="stable")]
    seen: set[int] = set()
    out: list[tuple[int, float]] = []
    for i in top.tolist():
        s = float(scores[i])
        if not math.isfinite(s):
            break
        mid = int(memory_ids[i])
        if mid not in seen:
            seen.add(mid)
            out.append((mid, s))
    return out


def nearest_rows(dist: np.ndarray, count: int, beyond: int) -> np.ndarray:
    """`count` rows of smallest Hamming distance (ties at the edge in row order). Distances are
    small integers, so a histogram finds the edge distance and one pass collects the rows:
    2-3x faster than argpartition over 1M distances (BENCHMARKS.md, issue 14)."""
    import numpy as np

    cumulative = np.cumsum(np.bincount(dist, minlength=beyond + 1))
    edge = int(np.searchsorted(cumulative, count))
    inside = np.flatnonzero(dist < edge)
    return np.concatenate([inside, np.flatnonzero(dist == edge)[: count - inside.shape[0]]])
