"""Hot cache, context.md, soul.md, the activity monitor, the nap and the deep dream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from nexus_memory.app import App
from nexus_memory.cognition.cache import HotCache, HotCacheEntry, load_hot
from nexus_memory.cognition.context import build_context
from nexus_memory.cognition.monitor import ActivityMonitor
from nexus_memory.cognition.soul import scrub
from nexus_memory.domain.budget import estimate_window, for_model
from nexus_memory.domain.enums import MemoryCategory
from tests.cognition.helpers import put, raw_event
from tests.conftest import run_nexus

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_hot_cache_tiers_and_eviction() -> None:
    cache = HotCache()
    assert HotCacheEntry.new(1, "x", 0.85, NOW).tier == "loud"
    assert HotCacheEntry.new(1, "x", 0.72, NOW).tier == "clear"
    assert HotCacheEntry.new(1, "x", 0.71, NOW).tier == "whisper"
    cache.promote(HotCacheEntry.new(1, "old weak", 0.3, NOW - timedelta(days=3)), 2, NOW - timedelta(days=3))
    cache.promote(HotCacheEntry.new(2, "strong", 0.9, NOW), 2, NOW)
    cache.promote(HotCacheEntry.new(2, "strong again", 0.9, NOW), 2, NOW)
    assert next(e for e in cache.entries if e.memory_id == 2).hot_streak == 2
    assert cache.promote(HotCacheEntry.new(3, "new", 0.5, NOW), 2, NOW)
    assert sorted(e.memory_id for e in cache.entries) == [2, 3]  # the weak, stale one was evicted
    for e in cache.entries:
        e.pinned = True
    assert not cache.promote(HotCacheEntry.new(4, "unpinned", 0.99, NOW), 2, NOW)
    assert cache.promote(HotCacheEntry.new(5, "pinned", 0.99, NOW, pinned=True), 2, NOW)


def test_context_md_respects_the_budget() -> None:
    cache = HotCache()
    cache.promote(HotCacheEntry.new(1, "Loud fact\nwith detail", 0.9, NOW), 20, NOW)
    cache.promote(HotCacheEntry.new(2, "Clear fact first line\nsecond line hidden", 0.75, NOW), 20, NOW)
    cache.promote(HotCacheEntry.new(3, "w" * 200, 0.5, NOW), 20, NOW)
    text = build_context(cache, 2000, recalls=[(9, "recalled thing")])
    assert text.startswith("# Nexus Project Context")
    assert "## High Relevance (Loud)\n### Memory 1\nLoud fact\nwith detail" in text
    assert "second line hidden" not in text and "Clear fact first line" in text
    assert "w" * 77 + "..." in text and "- [Recall 9] recalled thing" in text
    tiny = build_context(cache, 12)
    assert "Memory 1" not in tiny
    assert for_model(estimate_window("claude-code")).context == 14000
    assert estimate_window("gemini") == 1_000_000 and estimate_window("someone") == 128_000


def test_monitor_sleep_hour_and_deep_dream_gate(tmp_path: Path) -> None:
    mon = ActivityMonitor.load(tmp_path / "m.json")
    for day in range(3):
        for hour in range(24):
            if hour != 4:
                mon.record(NOW - timedelta(days=day + 1) + timedelta(hours=hour - NOW.hour))
    assert mon.sleep_hour() == 4
    mon.record(NOW - timedelta(days=30))
    assert all(datetime.fromisoformat(s.replace("Z", "+00:00")) > NOW - timedelta(days=8) for s in mon.activity_log)
    mon.record(NOW)
    assert not mon.should_deep_dream(NOW + timedelta(minutes=5))
    assert mon.should_deep_dream(NOW + timedelta(minutes=45))
    mon.mark_deep_dream(NOW + timedelta(minutes=45))
    assert not mon.should_deep_dream(NOW + timedelta(hours=5))
    mon.save()
    assert ActivityMonitor.load(tmp_path / "m.json").last_deep_dream is not None


def test_soul_is_global_and_scrubbed(app: App) -> None:
    assert scrub("Prefer pnpm in /home/me/proj/app [session:derived-0123456789abcdef]") == "Prefer pnpm in"
    put(app, "I prefer small, focused commits with imperative messages", category=MemoryCategory.PREFERENCES)
    put(app, "Always run the linter before pushing in /work/secret/project", category=MemoryCategory.PREFERENCES,
        agent="gemini")
    put(app, "one-off note about a single build", category=MemoryCategory.GENERAL)
    r = app.cognition.rebuild_soul().to_dict()
    assert r["written"] and r["candidates"] == 2
    soul = app.cognition.soul().to_dict()
    text = soul["content"]
    assert text.startswith("# Nexus Soul") and "## Identity & Preferences" in text
    assert "small, focused commits" in text and "/work/secret" not in text and "one-off note" not in text
    app.cognition.rebuild_soul().to_dict()
    assert (Path(soul["path"]).parent / "soul.md.bak").exists()
    shown = run_nexus("soul", "show")
    assert shown.returncode == 0 and "# Nexus Soul" in shown.stdout


def test_nap_fills_the_hot_cache_and_writes_context(app: App, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / ".nexus" / "sessions").mkdir(parents=True)
    (proj / ".git").mkdir()
    (proj / ".nexus" / "sessions" / "s1.md").write_text(
        "# Session Learnings\n- [confidence: 0.9] The staging DB is read-only\n- [confidence: nan] bogus\n")
    put(app, "The proj API is versioned under /v2", confidence=0.95)
    r = app.cognition.nap("claude-code", str(proj), "s1").to_dict()
    assert r["merged_learnings"] == 2 and r["hot_entries"] >= 2
    context = (proj / ".nexus" / "context.md").read_text()
    assert "# Nexus Project Context" in context and "The staging DB is read-only" in context
    assert (proj / ".nexus" / "sessions" / "s1.merged.md").exists()
    assert len(load_hot(proj).entries) == r["hot_entries"]
    status = run_nexus("subconscious", "status", "--cwd", str(proj))
    assert status.returncode == 0 and f"{r['hot_entries']} hot" in status.stdout


def test_session_end_naps_only_projects_that_opted_in(app: App, tmp_path: Path) -> None:
    plain, opted = tmp_path / "plain", tmp_path / "opted"
    plain.mkdir()
    (opted / ".nexus").mkdir(parents=True)
    for root in (plain, opted):
        app.sessions.start("claude-code", f"k-{root.name}", str(root))
        put(app, f"note in {root.name}", session=f"k-{root.name}")
        app.sessions.end("claude-code", f"k-{root.name}", str(root))
    assert not (plain / ".nexus").exists()
    assert (opted / ".nexus" / "context.md").exists()


def test_deep_dream_prunes_old_archived_raw_and_respects_cooldown(app: App) -> None:
    events = [raw_event(app, i, session="s-old") for i in range(8)]
    pending = raw_event(app, 9, session="s-new")  # not distilled yet: kept whatever its age
    app.cognition.distill("claude-code", "s-old").to_dict()
    old = app.store.get(events[0].id)
    assert old is not None and not old.is_archived and old.metadata["raw_activity"]["distill_pending"] is False
    # Age the episodes past 90 days.
    with app.store.write() as conn:  # type: ignore[attr-defined]
        conn.execute("UPDATE memories SET created_at = '2020-01-01T00:00:00.000000Z' WHERE is_raw = 1")
    r = app.cognition.deep_dream(force=True).to_dict()
    assert r["ran"] and r["pruned"]["claude-code"] == 8
    assert app.store.get(events[0].id) is None
    assert app.store.get(pending.id) is not None
    again = app.cognition.deep_dream().to_dict()
    assert not again["ran"]
