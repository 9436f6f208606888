"""The composition root: services built once on first use, typed; `with` closes the app."""

from __future__ import annotations

import pytest

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from nexus_memory.errors import NotAvailable
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchService


def test_services_are_built_on_first_use_and_only_once(app: App) -> None:
    assert not {"search", "sessions", "cognition"} & set(vars(app))  # nothing built by build_app
    search = app.search
    assert isinstance(search, SearchService) and app.search is search
    assert app.runtime is app.sessions.controller
    assert "cognition" not in vars(app) and app.has_cognition
    assert app.cognition is app.cognition


def test_a_service_without_a_builder_is_not_available(app: App) -> None:
    app.make_cognition = None
    assert not app.has_cognition
    with pytest.raises(NotAvailable, match="the cognition engine is not set up"):
        _ = app.cognition


def test_leaving_a_with_block_closes_the_store() -> None:
    settings = load_settings()
    with build_app(settings) as app:
        app.memories.store(StoreRequest(content="closed on exit", agent="codex"))
        wal = settings.database_path.with_name(settings.database_path.name + "-wal")
        assert wal.exists()
    assert not wal.exists()  # the last connection closed: SQLite checkpointed and removed its WAL
