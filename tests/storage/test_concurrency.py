"""Eight processes write into one SQLite file at once: nothing lost, nothing doubled, no error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_memory.domain.models import MemoryFilter
from nexus_memory.storage.sqlite import SQLiteStore

PROCESSES = 8
PER_PROCESS = 250
SHARED = 50  # contents every process stores: dedup must collapse them race-free

WRITER = r"""
import json, sys
from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.services.memories import StoreRequest

proc, per, shared = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
app = build_app(load_settings())
ids = {}
try:
    for i in range(per):
        # interleave shared and unique contents so writers collide on the same rows
        if i % (per // shared) == 0 and len(ids) < shared:
            j = len(ids)
            ids[j] = app.memories.store(StoreRequest(
                content=f"Shared decision number {j}: keep the pool small", agent="claude",
                labels=[f"p{proc}"], session_key=f"session-{proc}")).memory.id
        else:
            app.memories.store(StoreRequest(content=f"process {proc} note {i} about module {i * 7 % 13}",
                                            agent="claude-code", labels=["unique"]))
finally:
    app.close()
print(json.dumps(ids))
"""


@pytest.mark.slow
def test_eight_processes_store_250_each(nexus_home: Path) -> None:
    env = dict(os.environ)
    db = nexus_home / "data" / "nexus.db"
    SQLiteStore(db).close()  # migrate once up front, as `nexus init` would
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(PER_PROCESS), str(SHARED)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for p in range(PROCESSES)
    ]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert err == "", err
        outputs.append({int(k): v for k, v in json.loads(out).items()})

    # every process saw the same id for every shared content
    for j in range(SHARED):
        assert len({o[j] for o in outputs}) == 1, j

    store = SQLiteStore(db)
    try:
        everything = MemoryFilter(include_raw=True, include_archived=True, include_inactive=True)
        unique_per_process = PER_PROCESS - SHARED
        assert store.count(everything) == PROCESSES * unique_per_process + SHARED
        memories = store.list_memories(everything, limit=10_000)
        contents = [m.content for m in memories]
        assert len(contents) == len(set(contents))  # no duplicates
        for p in range(PROCESSES):
            for i in range(PER_PROCESS):
                if i % (PER_PROCESS // SHARED) != 0:
                    assert f"process {p} note {i} about module {i * 7 % 13}" in contents
        shared = [m for m in memories if m.content.startswith("Shared decision")]
        assert len(shared) == SHARED
        for m in shared:
            assert m.agent == "claude-code"
            assert m.access_count == PROCESSES - 1
            assert sorted(m.labels) == sorted(f"p{p}" for p in range(PROCESSES))
            cog = m.cognitive
            assert cog is not None and sorted(cog.session_keys) == sorted(f"session-{p}" for p in range(PROCESSES))
        assert [n.name for n in store.list_namespaces()] == ["claude-code"]
        assert store.check_integrity() == "ok"
    finally:
        store.close()
