"""The storage contract (tests/storage/contract.py) run against a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.storage.base import Store
from nexus_memory.storage.sqlite import SQLiteStore
from tests.storage.contract import StoreContract


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "contract.db")
    yield s
    s.close()


class TestSQLiteContract(StoreContract):
    pass
