"""Full-text search on SQLite FTS5 with a bounded cost per query.

FTS5's BM25 scores every row a query matches, and computes each term's IDF by walking
the term's whole posting list. A term found in a large share of the store ("python",
"src") therefore costs milliseconds per ten thousand matches, while telling little
about relevance (its IDF is small). So a query is planned term by term:

1. Each term's document frequency is counted, but only up to a quarter of the budget
   (the count stops early, so probing a common term is cheap).
2. Terms under that cap are taken rarest first while their frequencies add up to at
   most the budget:
   these are ranked with exact BM25 over the whole store (`ORDER BY rank`, so FTS5 sorts
   internally and snippets are built only for the rows returned).
3. If that leaves fewer hits than asked for, the remaining (common) terms fill up the
   list with their newest matches (memories holding all of them first), scored below
   every BM25 hit. Only the newest
   `budget` matches of those terms are looked at, so a filter that excludes most of
   them cannot make the query scan the whole index.

With few matches (every query on a small store, most queries on a large one) step 2
covers every term and the result is plain BM25 over content, retrieval context and
labels. See docs/architecture.md ("Full-text search").
"""

from __future__ import annotations

import sqlite3
from typing import Any

from nexus_memory.domain.models import TextHit
from nexus_memory.storage.common import common_cap, fill_scores, planned_search, split_terms

#: Postings scored with exact BM25 per query; also the newest-match window for common terms.
DEFAULT_BUDGET = 4000
SNIPPET = "snippet(memories_fts, 0, '[', ']', '…', 16)"
_JOIN = ("CROSS JOIN memories m ON m.id = f.rowid "
         "CROSS JOIN agent_namespaces n ON n.id = m.namespace_id")


def quote(term: str) -> str:
    """One FTS5 string token: no operator or column syntax can leak through."""
    return '"' + term.replace('"', '""') + '"'


def any_of(terms: list[str]) -> str:
    return " OR ".join(quote(t) for t in terms)


def doc_frequency(conn: sqlite3.Connection, term: str, cap: int) -> int:
    """Rows containing `term`, counted up to `cap + 1`."""
    row = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)",
        (quote(term), cap + 1),
    ).fetchone()
    return int(row[0])


def frequencies(conn: sqlite3.Connection, terms: list[str], cap: int) -> tuple[int, dict[str, int]]:
    """(about how many memories there are, each term's document frequency counted up to `cap + 1`)."""
    row = conn.execute("SELECT coalesce(max(id), 0) FROM memories").fetchone()
    return int(row[0]), {t: doc_frequency(conn, t, cap) for t in dict.fromkeys(terms)}


def plan(conn: sqlite3.Connection, terms: list[str], budget: int) -> tuple[list[str], list[str]]:
    """(terms ranked by BM25, common terms filled in by recency).

    A term is common when it is in more than a quarter of the budget's rows: probing
    stops there, so planning costs at most `len(terms) * budget / 4` posting steps.
    """
    return split_terms([(t, doc_frequency(conn, t, common_cap(budget))) for t in terms], budget)


def search(
    conn: sqlite3.Connection, query: str, where: str, params: list[Any], *, limit: int,
    budget: int = DEFAULT_BUDGET,
) -> list[TextHit]:
    """`where`/`params` are a MemoryFilter rendered for aliases `m` (memories) and `n` (namespaces)."""

    def bm25(ranked: list[str]) -> list[TextHit]:
        rows = conn.execute(
            f"SELECT f.rowid, -f.rank, {SNIPPET} FROM memories_fts f {_JOIN} "
            f"WHERE memories_fts MATCH ? AND {where} ORDER BY f.rank LIMIT ?",
            [any_of(ranked), *params, int(limit)],
        ).fetchall()
        return [TextHit(memory_id=r[0], score=float(r[1]), snippet=r[2]) for r in rows]

    return planned_search(
        query, limit, budget, plan=lambda terms, b: plan(conn, terms, b), rank=bm25,
        fill=lambda common, hits: newest(conn, common, where, params, limit=limit, budget=budget, after=hits),
    )


def newest(conn: sqlite3.Connection, terms: list[str], where: str, params: list[Any], *, limit: int,
           budget: int, after: list[TextHit]) -> list[TextHit]:
    """Fill up with the newest matches of common terms, within their newest `budget` matches:
    first memories holding every one of the terms, then those holding any."""
    match = any_of(terms)
    edge = conn.execute(
        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        (match, budget - 1),
    ).fetchone()
    seen = {h.memory_id for h in after}
    found: list[tuple[int, str]] = []
    tiers = [" AND ".join(quote(t) for t in terms), match] if len(terms) > 1 else [match]
    for tier in tiers:
        if len(after) + len(found) >= limit:
            break
        rows = conn.execute(
            f"SELECT f.rowid, {SNIPPET} FROM memories_fts f {_JOIN} "
            f"WHERE memories_fts MATCH ? AND f.rowid >= ? AND {where} ORDER BY f.rowid DESC LIMIT ?",
            [tier, edge[0] if edge else 0, *params, limit + len(seen)],
        ).fetchall()
        for rowid, snip in rows:
            if rowid not in seen and len(after) + len(found) < limit:
                seen.add(rowid)
                found.append((rowid, snip))
    # Below every BM25 hit, in tier then recency order; still positive so "higher is better" holds.
    scores = fill_scores([h.score for h in after], len(found))
    return [TextHit(memory_id=r, score=score, snippet=snip) for (r, snip), score in zip(found, scores, strict=True)]
