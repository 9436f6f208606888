"""The dashboard end to end in Debian's chromium driven by Playwright (no browser download):
search, open, edit, archive, delete, live updates, sessions, stats, jobs, and a token-protected server.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nexus_memory import StoreRequest
from nexus_memory.app import App
from tests.servekit import LiveServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    path = os.environ.get("NEXUS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Debian chromium is not installed (scripts/services/30-chromium.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))  # type: ignore[attr-defined]
    pg.on("console", lambda msg: msg.type == "error" and pg.errors.append(msg.text))  # type: ignore[attr-defined]
    yield pg
    context.close()


def seed(app: App, root: Path) -> dict[str, int]:
    ids = {}
    project = root / "ui-project"
    project.mkdir(exist_ok=True)
    app.sessions.start("codex", "sess-ui", str(project))
    ids["pool"] = app.memories.store(StoreRequest(
        content="The postgres connection pool size is 20 in production", agent="codex", category="facts",
        labels=["db"], session_key="sess-ui")).memory.id
    ids["backup"] = app.memories.store(StoreRequest(
        content="Postgres backups run nightly at 02:00", agent="gemini", category="context")).memory.id
    ids["style"] = app.memories.store(StoreRequest(
        content="The user prefers tabs over spaces", agent="claude-code", category="preferences")).memory.id
    app.sessions.end("codex", "sess-ui", str(project))
    ns = app.store.ensure_namespace("codex")
    app.store.enqueue_job(ns.id, "derive", {"memory_id": ids["pool"]})
    return ids


def test_dashboard_search_open_edit_delete_and_live(app: App, page: Any, tmp_path: Path) -> None:
    ids = seed(app, tmp_path)
    with LiveServer(app) as server:
        api = server.url + "/api/v1"
        page.goto(server.url + "/")
        page.wait_for_selector("[data-testid=live-status].on")
        page.wait_for_selector("[data-testid=result]")
        total = httpx.get(f"{api}/memories").json()["total"]
        assert page.locator("[data-testid=result]").count() == total >= 3

        # search: highlighted matches and scores, filters narrow the list
        expected = httpx.post(f"{api}/memories/search", json={"query": "postgres", "limit": 50}).json()["count"]
        assert expected >= 2
        page.fill("[data-testid=search-input]", "postgres")
        page.click("[data-testid=search-button]")
        page.wait_for_function(
            f"document.querySelector('[data-testid=search-summary]').textContent.startsWith('{expected} results')")
        assert page.locator("[data-testid=result]").count() == expected
        first = page.locator("[data-testid=result]").first
        assert first.locator("mark").first.inner_text().lower() == "postgres"
        assert first.locator("[data-testid=score]").inner_text().startswith("score ")
        page.select_option("[data-testid=filter-agent]", "gemini")
        page.wait_for_function("document.querySelector('[data-testid=search-summary]').textContent.startsWith('1 result')")
        assert page.locator("[data-testid=result]").count() == 1
        page.select_option("[data-testid=filter-agent]", "")
        page.wait_for_function(
            f"document.querySelector('[data-testid=search-summary]').textContent.startsWith('{expected} results')")

        # open the memory page
        page.click(f"[data-testid=result][data-id='{ids['pool']}'] a.content")
        page.wait_for_selector("[data-testid=memory-content]")
        assert "connection pool size is 20" in page.inner_text("[data-testid=memory-content]")
        assert "explicit" in page.inner_text("[data-testid=cognitive]")
        assert page.locator("[data-testid=lineage]").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-memory.png"), full_page=True)

        # edit
        page.fill("[data-testid=edit-content]", "The postgres connection pool size is 32 in production")
        page.click("[data-testid=save]")
        page.wait_for_function("document.querySelector('[data-testid=memory-content]')?.textContent.includes('32')")
        assert httpx.get(f"{api}/memories/{ids['pool']}").json()["content"].endswith("size is 32 in production")

        # archive, then delete (confirming the dialog)
        page.click("[data-testid=archive]")
        page.wait_for_function("document.querySelector('[data-testid=archive]')?.textContent === 'Restore'")
        assert httpx.get(f"{api}/memories/{ids['pool']}").json()["is_archived"] is True
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-testid=delete]")
        page.wait_for_selector("[data-testid=view-search]:not(.hidden)")
        assert httpx.get(f"{api}/memories/{ids['pool']}").status_code == 404

        # live update: a memory stored elsewhere appears without a reload
        page.fill("[data-testid=search-input]", "")
        page.click("[data-testid=search-button]")
        page.wait_for_function("document.querySelector('[data-testid=search-summary]').textContent.includes('newest first')")
        new_id = httpx.post(f"{api}/memories", json={"content": "Stored while the dashboard was open",
                                                     "agent_type": "qwen"}).json()["id"]
        page.wait_for_selector(f"[data-testid=result][data-id='{new_id}']", timeout=10_000)
        page.wait_for_selector("[data-testid=feed-item]")
        httpx.delete(f"{api}/memories/{ids['style']}")
        page.wait_for_selector(f"[data-testid=result][data-id='{ids['style']}']", state="detached", timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard-search.png"), full_page=True)

        # sessions timeline, stats charts, jobs
        page.click("nav a[data-view=sessions]")
        page.wait_for_selector("[data-testid=session]")
        assert "sess-ui" in page.inner_text("[data-testid=timeline]")
        assert "ui-project" in page.inner_text("[data-testid=timeline]")
        page.click("nav a[data-view=stats]")
        page.wait_for_selector("[data-testid=chart-day] svg rect", state="attached")
        assert page.locator("[data-testid=chart-day] svg rect").count() == 30
        assert "qwen" in page.inner_text("[data-testid=chart-agent]")
        page.screenshot(path=str(ARTIFACTS / "dashboard-stats.png"), full_page=True)
        page.click("nav a[data-view=jobs]")
        page.wait_for_selector("[data-testid=job]")
        assert "derive" in page.inner_text("[data-testid=job-rows]")
    assert page.errors == []  # type: ignore[attr-defined]


def test_dashboard_with_a_token(app: App, page: Any, tmp_path: Path) -> None:
    seed(app, tmp_path)
    with LiveServer(app, token="ui-token-123") as server:
        page.goto(server.url + "/")
        page.wait_for_selector("[data-testid=token-box]:not(.hidden)")
        page.goto(server.url + "/#token=ui-token-123")
        page.wait_for_selector("[data-testid=result]")
        page.wait_for_selector("[data-testid=live-status].on")
        httpx.post(server.url + "/api/v1/memories", json={"content": "token-protected live event"},
                   headers={"authorization": "Bearer ui-token-123"})
        page.wait_for_selector("[data-testid=result]:has-text('token-protected live event')", timeout=10_000)
        assert "token=" not in page.url
