"""The word-neighbour table shipped with Nexus (`data/minilm-lexicon.sqlite`), read by the hook.

Built offline by scripts/build_lexicon.py from the local model's weights (all-MiniLM-L6-v2, the
same file the onnx adapter runs; Apache-2.0, see data/NOTICE.md): each word of MiniLM's vocabulary
and a short list of software terms, with its nearest words by the model's cosine of the one-word
texts. A prompt's few words are looked up by primary key in a read-only SQLite file: no numpy, no
onnxruntime, a millisecond or two in a fresh process, whatever extras are installed. A missing or
unreadable file gives no neighbours (recall stays lexical) and never an error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

PATH = Path(__file__).parent / "data" / "minilm-lexicon.sqlite"


class Lexicon:
    """Neighbour lookups in one table file, opened on first use."""

    def __init__(self, path: Path = PATH) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._failed = False

    def _open(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._failed:
            try:
                # immutable: no locks, no journal, nothing written next to a file that may sit in site-packages
                self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                             check_same_thread=False)
                self._conn.execute("SELECT 1 FROM neighbours LIMIT 1")
            except (sqlite3.Error, OSError, ValueError):
                self._failed = True
                self.close()
        return self._conn

    @property
    def available(self) -> bool:
        return self._open() is not None

    def meta(self) -> dict[str, str]:
        """How the table was built (model, its sha256, k, min_sim, word counts)."""
        conn = self._open()
        if conn is None:
            return {}
        try:
            return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        except sqlite3.Error:
            return {}

    def neighbours(self, words: Sequence[str]) -> Mapping[str, list[tuple[str, float]]]:
        """word -> [(neighbour, cosine), ...] best first, for the words the table has."""
        conn = self._open()
        wanted = sorted({w.lower() for w in words if w})[:200]
        if conn is None or not wanted:
            return {}
        out: dict[str, list[tuple[str, float]]] = {}
        try:
            rows = conn.execute(f"SELECT word, near FROM neighbours WHERE word IN ({','.join('?' * len(wanted))})",
                                wanted).fetchall()
        except sqlite3.Error:
            return {}
        for word, near in rows:
            pairs = []
            for item in str(near).split():
                name, _, pct = item.rpartition(":")
                if name and pct.isdigit():
                    pairs.append((name, int(pct) / 100))
            out[str(word)] = pairs
        return out

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
