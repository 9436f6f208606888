"""The neighbourhood stage of hybrid ranking (issue 14): session best and named entities, and the
turn form of a memory with a perspective (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nexus_memory.domain import hybrid as ranking
from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.hybrid import RankingConfig
from nexus_memory.domain.models import CognitiveMetadata, Memory, Neighbourhood

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def turn(mid: int, *, observer: str | None = None, subject: str | None = None, session: str | None = None,
         agent: str = "chat-import") -> Neighbourhood:
    cog = CognitiveMetadata(level=CognitiveLevel.EXPLICIT, observer=observer, subject=subject)
    return Neighbourhood.of(Memory(id=mid, namespace_id=1, content=f"m{mid}", metadata=cog.merge_into({}),
                                   agent=agent, session_key=session))


def rel(values: dict[int, float]) -> dict[int, dict[str, float]]:
    return {mid: {"relevance": v} for mid, v in values.items()}


def test_entity_names_are_observer_and_subject_but_not_the_agent_itself() -> None:
    assert ranking.entity_names(turn(1, observer="Melanie", subject="Caroline")) == ("melanie", "caroline")
    # hooks store everything with the agent as observer: that names no one
    assert ranking.entity_names(turn(2, observer="claude-code", agent="claude-code")) == ()
    assert ranking.entity_names(turn(3, observer="42")) == ()
    assert ranking.entity_names(Neighbourhood.of(Memory(id=4, namespace_id=1, content="x"))) == ()
    assert ranking.entity_names(Neighbourhood(agent="a", observer=" Melanie ")) == ("melanie",)


def test_names_are_matched_as_whole_words_and_taken_out_with_a_possessive() -> None:
    words = ranking.query_words("What are Melanie's kids' names?")
    assert ranking.mentioned("melanie", words)
    assert not ranking.mentioned("mel", words)
    assert ranking.mentioned("jon snow", ranking.query_words("where did Jon Snow go"))
    assert not ranking.mentioned("jon snow", ranking.query_words("where did Jon go"))
    assert ranking.without_names("What are Melanie's kids' names?", {"melanie"}) == "What are kids' names?"
    assert ranking.without_names("did claude-code fix it", {"claude-code"}) == "did fix it"
    assert ranking.without_names("Did Jon  Snow go north?", {"jon snow"}) == "Did go north?"


def test_a_question_about_one_person_is_put_in_their_own_first_person() -> None:
    fp = ranking.first_person
    assert fp("What activities does Melanie partake in?", {"melanie"}) == "What activities do I partake in?"
    assert fp("What are the names of John's children?", {"john"}) == "What are the names of my children?"
    assert fp("Which cities has John been to?", {"john"}) == "Which cities have I been to?"
    assert fp("What does Audrey view her pets as?", {"audrey"}) == "What do I view my pets as?"
    assert fp("What motivated Caroline to pursue counseling?", {"caroline"}) == "What motivated me to pursue counseling?"
    assert fp("Is Jon Snow going north?", {"jon snow"}) == "Am I going north?"
    assert fp("why Caroline studies psychology", {"caroline"}) == "why I study psychology"
    assert fp("what did claude-code fix", {"claude-code"}) == "what did I fix"
    # two people, or no name in the text: nothing to rewrite (the query without the names is used)
    assert fp("What did Melanie and Caroline paint?", {"melanie", "caroline"}) == ""
    assert fp("what was painted", {"melanie"}) == ""
    assert fp("what did Melanie paint", set()) == ""


def test_a_name_rewards_candidates_only_when_it_tells_them_apart() -> None:
    pool = {1: turn(1, observer="Melanie"), 2: turn(2, observer="Caroline"), 3: turn(3, observer="Melanie")}
    assert ranking.named_entities(pool, pool, "what did Melanie paint") == ({"melanie"}, {1, 3})
    # both named: no one is told apart, but the names still leave the retrievers' query
    assert ranking.named_entities(pool, pool, "what did Melanie and Caroline paint") == ({"melanie", "caroline"}, set())
    assert ranking.named_entities(pool, pool, "what did Bob paint") == (set(), set())


def test_the_named_observers_memories_rise_and_explain_it() -> None:
    pool = {1: turn(1, observer="Melanie"), 2: turn(2, observer="Caroline")}
    out = ranking.neighbourhood(rel({1: 0.5, 2: 0.8}), pool, "What did Melanie paint?",
                                RankingConfig(entity_weight=0.5, session_weight=0.0))
    assert out[1]["entity_match"] == 1.0 and out[2]["entity_match"] == 0.0
    assert out[1]["relevance"] == pytest.approx((0.5 + 0.5) / 1.5)
    assert out[2]["relevance"] == pytest.approx(0.8 / 1.5)
    assert out[1]["fused_relevance"] == 0.5
    assert out[1]["relevance"] > out[2]["relevance"]


def test_a_turn_shares_its_sessions_best_relevance() -> None:
    pool = {1: turn(1, session="s1"), 2: turn(2, session="s1"), 3: turn(3, session="s2"), 4: turn(4)}
    cfg = RankingConfig(session_weight=0.5, entity_weight=0.0)
    out = ranking.neighbourhood(rel({1: 0.9, 2: 0.3, 3: 0.35, 4: 0.3}), pool, "anything", cfg)
    assert out[2]["session_best"] == 0.9
    assert out[2]["relevance"] == pytest.approx((0.3 + 0.5 * 0.9) / 1.5)
    # alone in its session, or without one: unchanged
    assert out[3]["relevance"] == pytest.approx(0.35) and out[4]["relevance"] == pytest.approx(0.3)
    assert out[2]["relevance"] > out[3]["relevance"]  # the neighbour of the best hit now leads
    assert out[1]["relevance"] == pytest.approx(0.9)
    assert "entity_match" not in out[1]


def test_turning_both_off_leaves_the_fusion_as_it_was() -> None:
    pool = {1: turn(1, observer="Melanie", session="s1"), 2: turn(2, observer="Caroline", session="s1")}
    out = ranking.neighbourhood(rel({1: 0.2, 2: 0.7}), pool, "Melanie",
                                RankingConfig(session_weight=0.0, entity_weight=0.0))
    assert {m: p["relevance"] for m, p in out.items()} == {1: 0.2, 2: 0.7}


def said(mid: int, content: str, *, observer: str | None = "Melanie", agent: str = "chat-import") -> Memory:
    cog = CognitiveMetadata(level=CognitiveLevel.EXPLICIT, observer=observer)
    return Memory(id=mid, namespace_id=1, content=content, metadata=cog.merge_into({}), agent=agent)


def test_a_turn_that_only_asks_or_speaks_to_the_other_party_is_lowered_and_explained() -> None:
    config = RankingConfig()
    telling = ranking.turn_form(said(1, "Melanie: I took my kids camping at the beach. [shares a photo: you?]"), config)
    assert telling == {"question_turn": 0.0, "addressed_turn": 0.0, "form": 1.0}
    asking = ranking.turn_form(said(2, "Melanie: Have you come across any good books? [shares a photo: a book]"),
                               config)
    assert asking["question_turn"] == 1.0 and asking["addressed_turn"] == 1.0
    assert asking["form"] == pytest.approx(0.9 * 0.9)
    # more you than I/my (curly apostrophes too): about the other party
    addressed = ranking.turn_form(said(3, "Melanie: You’re so brave, your story moved me."), config)
    assert (addressed["question_turn"], addressed["addressed_turn"]) == (0.0, 1.0)
    assert ranking.turn_form(said(4, "Melanie: I'm glad you liked my painting."), config)["addressed_turn"] == 0.0
    # the score multiplies the relevance by the form; the priors still add the same
    memory = said(2, "Melanie: What do you think?")
    parts = {"relevance": 0.8, **ranking.priors(memory, NOW, include_raw=True, config=config)}
    plain = ranking.final_score({**parts, "form": 1.0}, config)
    assert ranking.final_score(parts, config) == pytest.approx(plain - 0.8 * (1 - 0.81))


def test_the_turn_form_leaves_memories_without_a_perspective_alone() -> None:
    config = RankingConfig()
    # an agent's own note (the hook records the agent as observer) or a memory without one
    assert ranking.turn_form(said(1, "Should we pin the version?", observer="codex", agent="codex"), config) == {}
    assert ranking.turn_form(Memory(id=2, namespace_id=1, content="Did you run the tests?"), config) == {}
    off = RankingConfig(question_penalty=0.0, addressed_penalty=0.0)
    assert ranking.turn_form(said(3, "Melanie: Did you?"), off) == {}
    assert "form" not in ranking.priors(said(4, "Melanie: Did you?"), NOW, include_raw=True, config=off)
