"""The dashboard's "What memory costs" part (issue 16) in Debian's chromium driven by Playwright:
injections made by the real hook entry point (and one MCP result) show as a chart per day and
channel, and per session what was injected and why. Screenshot in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nexus_memory.app import App
from tests.dashboard.test_dashboard_browser import ARTIFACTS, browser, page  # noqa: F401 (fixtures)
from tests.integrations.test_costs import WEAK, _ask, _seed
from tests.servekit import LiveServer

pytestmark = pytest.mark.browser


def test_tokens_per_day_and_per_session_with_the_reasons(app: App, page: Any, tmp_path: Path) -> None:  # noqa: F811
    _seed(tmp_path)
    pack, recall = _ask(tmp_path, "ui", WEAK)
    assert pack and recall
    app.costs.record(agent="codex", channel="mcp_results", tokens=240, ids=[1], session_key="mcp-http-codex",
                     source="search_memories", query="deploy", reasons={1: {"score": 0.9}})
    report = app.costs.report(days=30).to_dict()
    total = sum(d["tokens"] for d in report["per_day"])
    prompt = app.costs.injections("ui-p")[0].to_dict()
    with LiveServer(app) as server:
        page.goto(server.url + "/#/stats")
        page.wait_for_selector("[data-testid=cost-session]")
        assert page.inner_text("[data-testid=cost-total]") == f"{total:,}"
        for channel in ("session_pack", "prompt_recall", "mcp_results"):
            assert page.locator(f"[data-testid=chart-tokens] rect[data-channel={channel}]").count() == 1, channel
        assert page.locator("[data-testid=chart-tokens] g[data-day]").count() == 30
        today = page.locator("[data-testid=chart-tokens] g[data-day]").last
        assert today.get_attribute("data-tokens") == str(total)
        rows = page.locator("[data-testid=cost-session]")
        assert rows.count() == len(report["sessions"]) == 3
        assert "claude-code" in page.inner_text("[data-testid=cost-totals]")

        page.click("[data-testid=cost-session][data-session='ui-p']")
        page.wait_for_selector("[data-testid=injection]")
        detail = page.inner_text("[data-testid=cost-detail]")
        assert WEAK in detail and f"{prompt['tokens']} tokens of 350" in detail and "UserPromptSubmit" in detail
        reasons = page.locator("[data-testid=reason]")
        assert reasons.count() == len(prompt["memory_ids"]) and "coverage" in reasons.first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-costs.png"), full_page=True)
        page.click(f"[data-testid=cost-detail] a[href='#/memory/{prompt['memory_ids'][0]}']")
        page.wait_for_selector("[data-testid=memory-content]")
        assert "events.created_at" in page.inner_text("[data-testid=memory-content]")
    assert page.errors == []  # type: ignore[attr-defined]
