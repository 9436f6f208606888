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
from nexus_memory.storage.common import common_cap, fill_scores, planned_search, split_terms
from nexus_memory.storage.sql.queries import FROM

Conn = psycopg.Connection[Any]
TS_CONFIG = "english"
#: Rows ranked exactly per query; also the newest-match window for common terms (as SQLite).
DEFAULT_BUDGET = 4000
#: Common terms fill from the newest WINDOW_ROWS * budget rows first.
WINDOW_ROWS = 20
_HEADLINE = (f"ts_headline('{TS_CONFIG}', h.content, q.tsq, "
             "'StartSel=[, StopSel=], MaxWords=16, MinWords=6, MaxFragments=1, FragmentDelimiter=…')")


def _any_of(terms: list[str]) -> str:
    """A tsquery OR-ing the terms; each is a parameter of plainto_tsquery (no syntax leaks)."""
    return "(" + " || ".join(f"plainto_tsquery('{TS_CONFIG}', %s)" for _ in terms) + ")"


def frequencies(conn: Conn, terms: list[str], cap: int) -> tuple[int, dict[str, int]]:
    """(about how many memories there are, each term's document frequency counted up to `cap + 1`)."""
    unique = list(dict.fromkeys(terms))
    total = conn.execute("SELECT coalesce(max(id), 0) AS n FROM memories").fetchone()
    rows = conn.execute(
        "SELECT t.term, (SELECT count(*) FROM (SELECT 1 FROM memories WHERE search_tsv @@ x.q LIMIT %s) s) AS df "
        "FROM unnest(%s::text[]) AS t(term) "
        f"CROSS JOIN LATERAL (SELECT plainto_tsquery('{TS_CONFIG}', t.term) AS q) x",
        (cap + 1, unique),
    ).fetchall() if unique else []
    return int(total["n"]) if total else 0, {r["term"]: int(r["df"]) for r in rows}


def plan(conn: Conn, terms: list[str], budget: int) -> tuple[list[str], list[str]]:
    """(terms ranked exactly, common terms filled in by recency)."""
    rows = conn.execute(
        # The tsquery is built once per term (LATERAL), not once per row the count looks at.
        "SELECT t.term, (SELECT count(*) FROM (SELECT 1 FROM memories WHERE search_tsv @@ x.q LIMIT %s) s) AS df "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS t(term, ord) "
        f"CROSS JOIN LATERAL (SELECT plainto_tsquery('{TS_CONFIG}', t.term) AS q) x ORDER BY t.ord",
        (common_cap(budget) + 1, terms),
    ).fetchall()
    # df 0: absent, or an English stop word PostgreSQL drops
    return split_terms([(r["term"], int(r["df"])) for r in rows], budget)


def search(conn: Conn, query: str, where: str, params: list[Any], *, limit: int,
           budget: int = DEFAULT_BUDGET) -> list[TextHit]:
    """`where`/`params` are a MemoryFilter rendered for aliases `m` and `n`."""

    def ts_ranked(ranked: list[str]) -> list[TextHit]:
        rows = conn.execute(
            f"WITH q AS (SELECT {_any_of(ranked)} AS tsq), h AS ("
            "SELECT m.id, m.content, ts_rank('{0.1, 0.3, 0.5, 1.0}', m.search_tsv, q.tsq, 1) AS score "
            f"{FROM} CROSS JOIN q WHERE m.search_tsv @@ q.tsq AND {where} ORDER BY score DESC, m.id DESC LIMIT %s) "
            f"SELECT h.id, h.score, {_HEADLINE} AS snip FROM h CROSS JOIN q ORDER BY h.score DESC, h.id DESC",
            [*ranked, *params, int(limit)],
        ).fetchall()
        return [TextHit(memory_id=int(r["id"]), score=float(r["score"]), snippet=r["snip"]) for r in rows]

    return planned_search(
        query, limit, budget, plan=lambda terms, b: plan(conn, terms, b), rank=ts_ranked,
        fill=lambda common, hits: newest(conn, common, where, params, limit=limit, budget=budget, after=hits),
    )


def newest(conn: Conn, terms: list[str], where: str, params: list[Any], *, limit: int, budget: int,
           after: list[TextHit]) -> list[TextHit]:
    """Fill up with the newest matches of common terms: memories holding every one of the
    terms first, then those holding any (as SQLite), looking at the newest rows first.

    GIN returns matches in physical order, not newest first, so instead of SQLite's
    "newest `budget` matches" one query looks among the newest `WINDOW_ROWS * budget` rows
    (a primary-key range ANDed with the terms' bitmap, so only those heap pages are read),
    and the window widens 8x while a filter leaves too few.
    """
    seen = {h.memory_id for h in after}
    need = limit - len(after)
    top_row = conn.execute("SELECT coalesce(max(id), 0) AS top FROM memories").fetchone()
    top = int(top_row["top"]) if top_row else 0
    one = f"plainto_tsquery('{TS_CONFIG}', %s)"
    any_q, all_q = " || ".join([one] * len(terms)), " && ".join([one] * len(terms))
    window = WINDOW_ROWS * budget
    while True:
        rows = conn.execute(
            f"WITH q AS (SELECT ({any_q}) AS tsq, ({all_q}) AS allq), h AS ("
            f"SELECT m.id, m.content, (m.search_tsv @@ q.allq) AS every {FROM} CROSS JOIN q "
            f"WHERE m.search_tsv @@ q.tsq AND m.id > %s AND {where} ORDER BY every DESC, m.id DESC LIMIT %s) "
            f"SELECT h.id, {_HEADLINE} AS snip FROM h CROSS JOIN q ORDER BY h.every DESC, h.id DESC",
            [*terms, *terms, top - window, *params, need + len(seen)],
        ).fetchall()
        fresh = [r for r in rows if int(r["id"]) not in seen][:need]
        if len(fresh) >= need or top - window <= 0:
            break
        window *= 8
    # Below every ranked hit, in that order; still positive so "higher is better" holds.
    scores = fill_scores([h.score for h in after], len(fresh))
    return [TextHit(memory_id=int(r["id"]), score=score, snippet=r["snip"])
            for r, score in zip(fresh, scores, strict=True)]
