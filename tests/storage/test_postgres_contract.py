"""The storage contract (tests/storage/contract.py) and the VectorIndex contract run against
a real PostgreSQL + pgvector database (one fresh database per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nexus_memory.storage.base import Store, VectorIndex
from tests.storage.contract import StoreContract
from tests.storage.vector_contract import VectorIndexContract

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    from nexus_memory.storage.postgres import PostgresStore

    s = PostgresStore(pg_url, max_size=4)
    yield s  # type: ignore[misc]
    s.close()


class TestPostgresContract(StoreContract):
    pass


class TestPostgresVectorIndex(VectorIndexContract):
    pass


def test_postgres_store_implements_every_port(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store, VectorIndex)
