"""PostgreSQL + pgvector backend (needs the `postgres` extra: psycopg 3 with its pool)."""

from nexus_memory.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
