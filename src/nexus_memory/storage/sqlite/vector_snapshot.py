"""Memory-mapped snapshots of a model's vector matrix, beside the database file.

Loading 100k vectors from SQLite rows costs seconds (1M: tens of seconds) in every new
process, and the CLI is a new process per command. A snapshot is the matrix as .npy files
in `<db>.vectors/<model hash>/<token>/`, named by `current.json`; a process maps it
(instant, shared through the page cache) and reads only rows newer than the snapshot from
SQLite. A snapshot is valid while no vector was deleted since it was taken
(`vector_log.deletions` unchanged): rows only ever get larger rowids otherwise.

Snapshots are an optimisation: any problem reading or writing one is ignored and the
matrix comes from SQLite as before. numpy, hashlib and shutil are imported only when a
snapshot is read or written (never on the cold `nexus store` path).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

#: Below this many rows loading from SQLite is fast enough; no snapshot is written.
SNAPSHOT_MIN_ROWS = 20_000
#: Rewrite the snapshot once this share of rows came from SQLite after it.
REWRITE_FRACTION = 0.1


def snapshot_root(db_path: Path, model: str) -> Path | None:
    import hashlib  # not on the cold `nexus store` path

    if str(db_path) == ":memory:":
        return None
    digest = hashlib.sha1(model.encode("utf-8")).hexdigest()[:16]
    return db_path.with_name(db_path.name + ".vectors") / digest


def load(db_path: Path, model: str, deletions: int, *, token: str, max_rowid: int) -> dict[str, Any] | None:
    """{dim, n, max_rowid, data (read-only memmap), memory_ids, namespace_ids} or None.

    Valid only for the database that wrote it (`token`), with no deletion since, and no
    rows it has that the database lacks (a restored older copy)."""
    import numpy as np

    root = snapshot_root(db_path, model)
    if root is None:
        return None
    try:
        meta = json.loads((root / "current.json").read_text("utf-8"))
        if (meta.get("model") != model or meta.get("token") != token or int(meta.get("deletions", -1)) != deletions
                or int(meta.get("max_rowid", 0)) > max_rowid):
            return None
        folder = root / str(meta["dir"])
        data = np.load(folder / "data.npy", mmap_mode="r")
        ids = np.load(folder / "ids.npy")
        namespaces = np.load(folder / "ns.npy")
        n, dim = int(meta["n"]), int(meta["dim"])
        if data.shape != (n, dim) or ids.shape != (n,) or namespaces.shape != (n,) or data.dtype != np.float32:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"dim": dim, "n": n, "max_rowid": int(meta["max_rowid"]), "data": data, "memory_ids": ids,
            "namespace_ids": namespaces}


def save(db_path: Path, model: str, *, token: str, dim: int, n: int, max_rowid: int, deletions: int,
         data: Any, memory_ids: Any, namespace_ids: Any) -> bool:
    """Write a new snapshot and point `current.json` at it (atomic rename); drop older ones."""
    import shutil

    import numpy as np

    root = snapshot_root(db_path, model)
    if root is None or n < SNAPSHOT_MIN_ROWS:
        return False
    stamp = f"{max_rowid}-{deletions}-{os.getpid()}-{time.time_ns()}"
    folder = root / stamp
    try:
        folder.mkdir(parents=True)
        np.save(folder / "data.npy", np.ascontiguousarray(data[:n], dtype=np.float32))
        np.save(folder / "ids.npy", np.asarray(memory_ids[:n], dtype=np.int64))
        np.save(folder / "ns.npy", np.asarray(namespace_ids[:n], dtype=np.int64))
        tmp = root / f"current.{stamp}.tmp"
        tmp.write_text(json.dumps({"model": model, "token": token, "dim": dim, "n": n, "max_rowid": max_rowid,
                                   "deletions": deletions, "dir": stamp}), "utf-8")
        os.replace(tmp, root / "current.json")
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return False
    for old in root.iterdir():  # a process still mapping an old one keeps its open files
        if old.is_dir() and old.name != stamp:
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                old.unlink()
    return True
