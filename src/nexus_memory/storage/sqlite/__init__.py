"""SQLite adapter: the embedded default backend."""

from nexus_memory.storage.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
