"""Export format v1 and import: round trips, idempotence, id remapping, bad lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nexus_memory.domain.models import MemoryFilter, MemoryPatch, MemoryRelation, NewMemory, SessionDigest
from nexus_memory.errors import InvalidInput
from nexus_memory.services.portability.exporter import export_records
from nexus_memory.services.portability.importer import Importer, read_jsonl
from nexus_memory.storage.sqlite import SQLiteStore
from tests.conftest import run_nexus

ALL = MemoryFilter(include_raw=True, include_archived=True, include_inactive=True)


@pytest.fixture
def src(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "src.db")
    yield s
    s.close()


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "dst.db")
    yield s
    s.close()


def populate(store: Any) -> dict[str, int]:
    a = store.store(NewMemory(agent="claude-code", content="Prefer uv over pip", labels=("tooling",),
                              context="project setup", session_key="s1",
                              metadata={"cognitive": {"level": "explicit", "confidence": 0.9, "session_keys": ["s1"]}}))
    b = store.store(NewMemory(agent="codex", content="Tests run with make test"))
    c = store.store_with_lineage(
        NewMemory(agent="claude-code", content="The team standardises on uv",
                  metadata={"cognitive": {"level": "derived", "source_memory_ids": [a.memory.id]}}),
        [a.memory.id], "derived_from")
    raw = store.store(NewMemory(agent="claude-code", content="raw hook event", labels=("raw-activity",)))
    archived = store.store(NewMemory(agent="codex", content="old note", is_active=False, is_archived=True))
    store.add_relation(MemoryRelation(a.memory.id, b.memory.id, "related", 0.5, {"why": "both tooling"}))
    store.upsert_digest(SessionDigest(a.memory.namespace_id, "s1", "short", c.memory.id, a.memory.id,
                                      c.memory.id, 42))
    store.upsert_vectors("mini", [(a.memory.id, "content", [1.0, 0.0]), (b.memory.id, "content", [0.0, 1.0])])
    return {"a": a.memory.id, "b": b.memory.id, "c": c.memory.id, "raw": raw.memory.id,
            "archived": archived.memory.id}


def write(path: Path, records: Any) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def test_round_trip_keeps_everything_and_reimport_is_a_no_op(src: SQLiteStore, dst: SQLiteStore,
                                                            tmp_path: Path) -> None:
    ids = populate(src)
    path = write(tmp_path / "e.jsonl", export_records(src, embeddings=True))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["version"] == 1
    assert lines[-1] == {"type": "end", "counts": {"namespace": 2, "memory": 5, "relation": 1, "evidence": 1,
                                                   "digest": 1}}

    report = Importer(dst).run(read_jsonl(path))
    assert (report.created, report.merged, report.unchanged, report.skipped) == (5, 0, 0, [])
    assert report.complete and (report.relations, report.evidence, report.digests, report.vectors) == (1, 1, 1, 2)
    for key, mid in ids.items():  # ids are kept in an empty target
        original, copy = src.get(mid), dst.get(mid)
        assert copy is not None and original is not None, key
        assert (copy.content, copy.labels, copy.metadata, copy.context, copy.agent, copy.created_at,
                copy.is_active, copy.is_archived, copy.session_key) == (
            original.content, original.labels, original.metadata, original.context, original.agent,
            original.created_at, original.is_active, original.is_archived, original.session_key)
    assert [e.source_memory_id for e in dst.lineage(ids["c"])] == [ids["a"]]
    assert dst.relations_for(ids["a"])[0].metadata == {"why": "both tooling"}
    assert dst.latest_digest(dst.get(ids["a"]).namespace_id, "short").token_count == 42  # type: ignore[union-attr]
    assert dst.vector_search("mini", [1.0, 0.0], MemoryFilter(), limit=1)[0][0] == ids["a"]

    again = Importer(dst).run(read_jsonl(path))
    assert (again.created, again.merged, again.unchanged) == (0, 0, 5)
    assert dst.count(ALL) == 5
    assert dst.get(ids["a"]).access_count == 0  # type: ignore[union-attr]
    # an export of the copy re-imported into the source changes nothing either
    back = write(tmp_path / "back.jsonl", export_records(dst))
    assert Importer(src).run(read_jsonl(back)).unchanged == 5 and src.count(ALL) == 5


def test_ids_taken_in_the_target_are_remapped_and_lineage_follows(src: SQLiteStore, dst: SQLiteStore,
                                                                 tmp_path: Path) -> None:
    for i in range(10):  # the target already uses ids 1..10 for other memories
        dst.store(NewMemory(agent="gemini", content=f"target memory {i}"))
    ids = populate(src)
    path = write(tmp_path / "e.jsonl", export_records(src))
    report = Importer(dst).run(read_jsonl(path))
    assert report.created == 5 and dst.count(ALL) == 15
    new_a, new_c = report.id_map[ids["a"]], report.id_map[ids["c"]]
    assert new_a > 10 and new_c > 10
    assert [e.source_memory_id for e in dst.lineage(new_c)] == [new_a]
    assert dst.get(new_c).metadata["cognitive"]["source_memory_ids"] == [new_a]  # type: ignore[union-attr]
    assert {r.target_memory_id for r in dst.relations_for(new_a)} == {report.id_map[ids["b"]]}
    assert Importer(dst).run(read_jsonl(path)).unchanged == 5  # still a no-op the second time


def test_active_duplicates_merge_into_the_existing_memory(src: SQLiteStore, dst: SQLiteStore, tmp_path: Path) -> None:
    existing = dst.store(NewMemory(agent="codex", content="tests run with MAKE TEST", labels=("ci",))).memory
    populate(src)
    report = Importer(dst).run(read_jsonl(write(tmp_path / "e.jsonl", export_records(src))))
    assert report.merged == 1 and report.created == 4
    assert dst.count(MemoryFilter(agents=("codex",))) == 1
    assert dst.get(existing.id).labels == ("ci",)  # type: ignore[union-attr]


def test_export_filters_by_agent_and_time(src: SQLiteStore) -> None:
    populate(src)
    recs = list(export_records(src, agents=["codex"]))
    assert {r["namespace"] for r in recs if r["type"] == "memory"} == {"codex"}
    assert [r["type"] for r in recs].count("relation") == 0  # its other end is not exported
    from datetime import UTC, datetime, timedelta

    future = list(export_records(src, since=datetime.now(UTC) + timedelta(days=1)))
    assert [r["type"] for r in future] == ["header", "namespace", "namespace", "end"]


def test_malformed_lines_are_reported_and_skipped_or_stop_with_strict(src: SQLiteStore, dst: SQLiteStore,
                                                                     tmp_path: Path) -> None:
    populate(src)
    good = [json.dumps(r) for r in export_records(src)]
    lines = [*good[:3], "{not json", json.dumps({"type": "memory", "id": 99, "namespace": "codex", "content": ""}),
             json.dumps({"type": "mystery"}), *good[3:]]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    report = Importer(dst).run(read_jsonl(path))
    assert [n for n, _ in report.skipped] == [4, 5, 6]
    assert "not valid JSON" in report.skipped[0][1] and "content" in report.skipped[1][1]
    assert "unknown record type 'mystery'" in report.skipped[2][1]
    assert report.created == 5
    with pytest.raises(InvalidInput, match=r"^line 4: not valid JSON"):
        Importer(SQLiteStore(tmp_path / "strict.db"), strict=True).run(read_jsonl(path))


def test_an_interrupted_import_can_be_run_again(src: SQLiteStore, dst: SQLiteStore, tmp_path: Path) -> None:
    for i in range(25):
        src.store(NewMemory(agent="codex", content=f"note {i}"))
    lines = [json.dumps(r) for r in export_records(src)]
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(lines[:15]) + '\n{"type": "memory", "id": 14, "nam', "utf-8")  # cut mid-line
    first = Importer(dst, batch_size=4).run(read_jsonl(partial))
    assert not first.complete and first.created == 13 and len(first.skipped) == 1
    full = tmp_path / "full.jsonl"
    full.write_text("\n".join(lines) + "\n", "utf-8")
    second = Importer(dst, batch_size=4).run(read_jsonl(full))
    assert (second.created, second.unchanged) == (12, 13) and second.complete
    assert dst.count(ALL) == 25


def test_a_file_that_is_not_an_export_is_refused(dst: SQLiteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", [{"type": "memory", "content": "no header"}])
    with pytest.raises(InvalidInput, match="line 1 is not a Nexus export header"):
        Importer(dst).run(read_jsonl(path))
    newer = write(tmp_path / "v9.jsonl", [{"type": "header", "format": "nexus-memory-export", "version": 9}])
    with pytest.raises(InvalidInput, match="version 9 is newer"):
        Importer(dst).run(read_jsonl(newer))


def test_cli_export_import_round_trip(tmp_path: Path) -> None:
    assert run_nexus("store", "-m", "Prefer ruff for linting", "-a", "claude").returncode == 0
    assert run_nexus("store", "-m", "Codex likes small diffs", "-a", "codex").returncode == 0
    out = run_nexus("export", "--agent", "claude-code")
    assert out.returncode == 0, out.stderr
    assert "exported 1 namespace, 1 memory" in out.stderr
    path = tmp_path / "e.jsonl"
    path.write_text(out.stdout, "utf-8")
    other = {"NEXUS_HOME": str(tmp_path / "other-home")}
    first = run_nexus("import", str(path), "--json", env=other)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["created"] == 1
    again = run_nexus("import", str(path), env=other)
    assert "0 memories created, 0 merged into existing, 1 already present" in again.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(out.stdout.splitlines()[0] + "\n{oops\n", "utf-8")
    strict = run_nexus("import", str(bad), "--strict", env=other)
    assert strict.returncode == 1
    assert strict.stderr.startswith("nexus: error: line 2: not valid JSON")
    lenient = run_nexus("import", str(bad), env=other)
    assert lenient.returncode == 0 and "skipped line 2: not valid JSON" in lenient.stderr
    assert run_nexus("import", str(tmp_path / "missing.jsonl")).returncode == 1


def test_lineage_pointers_are_mapped_once_even_across_batches(src: SQLiteStore, dst: SQLiteStore,
                                                              tmp_path: Path) -> None:
    for i in range(10):  # ids 1..10 are taken in the target
        dst.store(NewMemory(agent="gemini", content=f"target memory {i}"))
    first = src.store(NewMemory(agent="codex", content="raw note 0")).memory.id  # id 1
    for i in range(1, 11):  # ids 2..11: source id 11 collides with where id 1 will land
        src.store(NewMemory(agent="codex", content=f"raw note {i}"))
    summary = src.store(NewMemory(agent="codex", content="summary of the notes",
                                  metadata={"cognitive": {"level": "derived", "source_memory_ids": [first, 11]}}))
    # the first note points forward at the summary, which comes later in the file
    src.update(first, MemoryPatch(metadata={"distillation": {"status": "archived",
                                                             "summary_memory_id": summary.memory.id}}))
    path = write(tmp_path / "e.jsonl", export_records(src))
    report = Importer(dst, batch_size=3).run(read_jsonl(path))
    ids = report.id_map
    assert ids[first] == 11 and ids[11] != 11
    got = dst.get(ids[summary.memory.id])
    assert got is not None and got.metadata["cognitive"]["source_memory_ids"] == [ids[first], ids[11]]
    note = dst.get(ids[first])
    assert note is not None and note.metadata["distillation"]["summary_memory_id"] == ids[summary.memory.id]
