"""Full-text search on PostgreSQL with a bounded cost per query (the SQLite adapter's plan).

`ts_rank` reads the tsvector of every row a query matches, so a term found in a large
share of the store would cost tens of milliseconds while telling little about
relevance. As on SQLite (storage/sqlite/fts.py), the query is planned term by term:

1. each term's document frequency is counted up to a quarter of the budget (one query
   for all terms; a count stops early, so probing a common term is cheap);
2. the rarest terms whose frequencies add up to at most the budget are ranked with
   `ts_rank` (weights content 1.0, context 0.5, labels 0.3; length-normalised);
3. if that leaves fewer hits than asked for, the common terms fill up the list with
   their newest matches, scored below every ranked hit; they are looked for among the
   newest rows first (see `newest`), so the cost stays bounded.

On a small store every term is rare and the result is plain ranked search.
"""

from __future__ import annotations

from typing import Any

import psycopg

from nexus_memory.domain.models import TextHit
from nexus_memory.storage.common import common_cap, fill_scores, query_terms, split_terms
from nexus_memory.storage.postgres.queries import FROM

Conn = psycopg.Connection[Any]
TS_CONFIG = "english"
#: Rows ranked exactly per query; also the newest-match window for common terms (as SQLite).
DEFAULT_BUDGET = 1000
#: Common terms fill from the newest WINDOW_ROWS * budget rows first.
WINDOW_ROWS = 20
_HEADLINE = (f"ts_headline('{TS_CONFIG}', h.content, q.tsq, "
             "'StartSel=[, StopSel=], MaxWords=16, MinWords=6, MaxFragments=1, FragmentDelimiter=…')")


def _any_of(terms: list[str]) -> str:
    """A tsquery OR-ing the terms; each is a parameter of plainto_tsquery (no syntax leaks)."""
    return "(" + " || ".join(f"plainto_tsquery('{TS_CONFIG}', %s)" for _ in terms) + ")"


def plan(conn: Conn, terms: list[str], budget: int) -> tuple[list[str], list[str]]:
    """(terms ranked exactly, common terms filled in by recency)."""
    rows = conn.execute(
        "SELECT t.term, (SELECT count(*) FROM (SELECT 1 FROM memories "
        f"WHERE search_tsv @@ plainto_tsquery('{TS_CONFIG}', t.term) LIMIT %s) s) AS df "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS t(term, ord) ORDER BY t.ord",
        (common_cap(budget) + 1, terms),
    ).fetchall()
    # df 0: absent, or an English stop word PostgreSQL drops
    return split_terms([(r["term"], int(r["df"])) for r in rows], budget)


def search(conn: Conn, query: str, where: str, params: list[Any], *, limit: int,
           budget: int = DEFAULT_BUDGET) -> list[TextHit]:
    """`where`/`params` are a MemoryFilter rendered for aliases `m` and `n`."""
    terms = query_terms(query)
    if not terms or limit < 1:
        return []
    ranked, common = plan(conn, terms, budget)
    hits: list[TextHit] = []
    if ranked:
        rows = conn.execute(
            f"WITH q AS (SELECT {_any_of(ranked)} AS tsq), h AS ("
            "SELECT m.id, m.content, ts_rank('{0.1, 0.3, 0.5, 1.0}', m.search_tsv, q.tsq, 1) AS score "
            f"{FROM} CROSS JOIN q WHERE m.search_tsv @@ q.tsq AND {where} ORDER BY score DESC, m.id DESC LIMIT %s) "
            f"SELECT h.id, h.score, {_HEADLINE} AS snip FROM h CROSS JOIN q ORDER BY h.score DESC, h.id DESC",
            [*ranked, *params, int(limit)],
        ).fetchall()
        hits = [TextHit(memory_id=int(r["id"]), score=float(r["score"]), snippet=r["snip"]) for r in rows]
    if common and len(hits) < limit:
        hits += newest(conn, common, where, params, limit=limit, budget=budget, after=hits)
    return hits


def newest(conn: Conn, terms: list[str], where: str, params: list[Any], *, limit: int, budget: int,
           after: list[TextHit]) -> list[TextHit]:
    """Fill up with the newest matches of common terms: first memories holding every one of
    the terms, then those holding any (as SQLite), looking at the newest rows first.

    GIN returns matches in physical order, not newest first, so instead of SQLite's
    "newest `budget` matches" each tier looks among the newest `WINDOW_ROWS * budget` rows
    (a primary-key range ANDed with the term bitmap, so only those heap pages are read);
    the any-term tier widens 8x while a filter leaves too few.
    """
    seen = {h.memory_id for h in after}
    found: list[tuple[int, str]] = []
    top_row = conn.execute("SELECT coalesce(max(id), 0) AS top FROM memories").fetchone()
    top = int(top_row["top"]) if top_row else 0
    tiers = [" && ", " || "] if len(terms) > 1 else [" || "]
    for joiner in tiers:
        need = limit - len(after) - len(found)
        if need <= 0:
            break
        tsq = "(" + joiner.join(f"plainto_tsquery('{TS_CONFIG}', %s)" for _ in terms) + ")"
        window = WINDOW_ROWS * budget
        while True:
            rows = conn.execute(
                f"WITH q AS (SELECT {tsq} AS tsq), h AS ("
                f"SELECT m.id, m.content {FROM} CROSS JOIN q "
                f"WHERE m.search_tsv @@ q.tsq AND m.id > %s AND {where} ORDER BY m.id DESC LIMIT %s) "
                f"SELECT h.id, {_HEADLINE} AS snip FROM h CROSS JOIN q ORDER BY h.id DESC",
                [*terms, top - window, *params, need + len(seen)],
            ).fetchall()
            fresh = [r for r in rows if int(r["id"]) not in seen]
            # Only the any-term tier widens: holding every term is a bonus looked for among
            # the newest rows, never worth a scan of the whole store.
            if len(fresh) >= need or top - window <= 0 or joiner == " && ":
                break
            window *= 8
        for r in fresh[:need]:
            seen.add(int(r["id"]))
            found.append((int(r["id"]), r["snip"]))
    # Below every ranked hit, in tier then recency order; still positive so "higher is better" holds.
    scores = fill_scores([h.score for h in after], len(found))
    return [TextHit(memory_id=mid, score=score, snippet=snip) for (mid, snip), score in zip(found, scores, strict=True)]
