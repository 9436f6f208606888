"""A throwaway database per test on the PostgreSQL server that `make test` starts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


def server_url() -> str:
    url = os.environ.get("NEXUS_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL server: run `make test` (it starts one) or set NEXUS_TEST_DATABASE_URL")
    return url


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def fresh_database() -> Iterator[str]:
    import psycopg

    admin_url = server_url()
    name = "nexus_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
