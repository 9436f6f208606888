"""Related words for recall without a model (domain/expansion.py), on the shipped neighbour table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from nexus_memory.domain.expansion import Expansion, Related, expand
from nexus_memory.domain.recall import Bar, coverage, query_terms, term_set
from nexus_memory.embeddings.lexicon import PATH, Lexicon


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    lex = Lexicon()
    assert lex.available, f"the shipped table {PATH} is missing"
    return lex


def test_the_shipped_table_says_where_it_comes_from(lexicon: Lexicon) -> None:
    meta = lexicon.meta()
    assert meta["model"] == "all-MiniLM-L6-v2-onnx-int8"
    assert len(meta["model_sha256"]) == 64 and "Apache-2.0" in meta["licence"]
    assert int(meta["words_with_neighbours"]) > 20_000
    assert PATH.stat().st_size < 3 * 1024 * 1024


def test_neighbours_are_near_words_best_first(lexicon: Lexicon) -> None:
    near = lexicon.neighbours(["database", "login", "no-such-word-here"])
    assert set(near) == {"database", "login"}
    assert near["database"][0] == ("db", pytest.approx(0.83, abs=0.02))
    sims = [s for _, s in near["login"]]
    assert sims == sorted(sims, reverse=True) and all(0.0 < s <= 1.0 for s in sims)
    assert "signin" in dict(near["login"])
    # pairs near only through a split word's first piece are not there (docs = doc + ##s, doctors)
    assert "doctors" not in dict(lexicon.neighbours(["docs"]).get("docs", []))


def test_a_missing_or_broken_table_gives_no_neighbours_and_no_error(tmp_path: Path) -> None:
    assert Lexicon(tmp_path / "absent.sqlite").neighbours(["database"]) == {}
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all" * 100)
    lex = Lexicon(broken)
    assert lex.neighbours(["database"]) == {} and not lex.available and lex.meta() == {}


def _table(entries: Mapping[str, Sequence[tuple[str, float]]]):  # type: ignore[no-untyped-def]
    def lookup(words: Sequence[str]) -> Mapping[str, Sequence[tuple[str, float]]]:
        return {w: entries[w] for w in words if w in entries}
    return lookup


def test_expand_keeps_related_words_above_the_similarity_and_drops_what_already_counts() -> None:
    lookup = _table({"database": [("db", 0.83), ("databases", 0.9), ("host", 0.7), ("the", 0.8), ("sql", 0.55)],
                     "host": [("server", 0.62)]})
    q = "which host holds the database?"
    exp = expand(q, query_terms(q), lookup, min_similarity=0.6)
    # "databases" is the same stem, "host" a query term, "the" a stop word, "sql" below 0.6
    assert {t: [r.word for r in rs] for t, rs in exp.related.items()} == {"databas": ["db"], "host": ["server"]}
    assert exp.words() == ["db", "server"]


def test_a_related_word_counts_less_than_the_word_itself() -> None:
    query = {"databas": 2.0, "host": 1.0}
    exp = Expansion({"databas": (Related("db", "db", 0.8),)}, weight=0.5, bar=0.3)
    assert exp.credit("databas", {"databas"}) == 1.0
    assert exp.credit("databas", {"db"}) == pytest.approx(0.4)
    assert exp.coverage(query, {"db", "port"}) == pytest.approx(2 * 0.4 / 3)
    assert exp.coverage(query, {"db", "host"}) == pytest.approx((0.8 + 1.0) / 3)
    assert not exp.passes(query, {"db"}) and exp.passes(query, {"db", "host"})  # 0.27 and 0.6 against 0.3


def test_a_compound_term_is_held_as_much_as_its_parts() -> None:
    q = "the pre-production database"
    terms = query_terms(q)
    assert "pre-production" in terms
    exp = expand(q, terms, _table({"database": [("db", 0.8)], "production": [("staging", 0.7)]}),
                 min_similarity=0.6, weight=0.5)
    held = {"db", "stag"}
    assert exp.credit("pre-production", held) == pytest.approx((0.0 + 0.5 * 0.7) / 2)  # "pre" is not held


def test_on_the_real_table_a_paraphrase_passes_and_an_unrelated_memory_does_not(lexicon: Lexicon) -> None:
    prompt = "where is the config database?"
    stored = "the configuration db lives on vm-14, reached over the vpn"
    unrelated = "the release notes mention a new chart legend and the colour of the header"
    terms = query_terms(prompt)
    query = {t: 1.0 for t in terms}
    exp = expand(prompt, terms, lexicon.neighbours)
    assert coverage(query, term_set(stored)) < Bar().lexical  # words alone: not relevant
    assert exp.passes(query, term_set(stored))
    assert not exp.passes(query, term_set(unrelated))
    assert exp.coverage(query, term_set(unrelated)) == 0.0


def test_no_lexicon_entry_means_no_expansion() -> None:
    q = "zxqv blorp"
    exp = expand(q, query_terms(q), _table({}))
    assert not exp and exp.words() == [] and exp.coverage({"zxqv": 1.0}, {"blorp"}) == 0.0
