"""The SQL both backends share, written once against a small `Dialect` (see dialect.py).

SQLite and PostgreSQL store the same tables and obey one contract, so their CRUD is one
piece of code here; each adapter keeps only what really differs: connections and
transactions, text search, vectors, claiming jobs, and dedup on store.
"""
