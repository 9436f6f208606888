"""NEXUS_FTS_BUDGET reaches the store: 0 means exact BM25, a bad value is refused."""

from __future__ import annotations

import pytest

from nexus_memory.app import open_store
from nexus_memory.config import load_settings
from nexus_memory.errors import ConfigError


def test_budget_setting_reaches_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_FTS_BUDGET", "5000")
    store = open_store(load_settings())
    try:
        assert store.fts_budget == 5000  # type: ignore[attr-defined]
    finally:
        store.close()


def test_zero_means_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_FTS_BUDGET", "0")
    store = open_store(load_settings())
    try:
        assert store.fts_budget >= 10**12  # type: ignore[attr-defined]
    finally:
        store.close()


def test_negative_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_FTS_BUDGET", "-1")
    with pytest.raises(ConfigError, match="NEXUS_FTS_BUDGET"):
        open_store(load_settings())
