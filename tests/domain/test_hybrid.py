"""Hybrid search ranking: fusion, priors, penalties (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nexus_memory.domain import hybrid as ranking
from nexus_memory.domain import ranking as rules
from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.hybrid import RankingConfig
from nexus_memory.domain.models import CognitiveMetadata, Memory
from nexus_memory.domain.retrieval import KIND_CONTENT, KIND_CONTEXT, clip_context, vector_texts

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def mem(mid: int, *, age_hours: float = 0.0, confidence: float | None = 0.9, level: CognitiveLevel = CognitiveLevel.EXPLICIT,
        reinforced: int = 0, labels: tuple[str, ...] = (), archived: bool = False,
        last_accessed: datetime | None = None) -> Memory:
    cog = CognitiveMetadata(level=level, confidence=confidence, times_reinforced=reinforced)
    return Memory(id=mid, namespace_id=1, content=f"m{mid}", labels=labels, metadata=cog.merge_into({}),
                  created_at=NOW - timedelta(hours=age_hours), is_archived=archived, last_accessed=last_accessed)


def test_minmax_fusion_weights_dense_by_the_configured_share() -> None:
    cfg = RankingConfig(dense_weight=0.4, min_cosine=0.0)
    fused = ranking.fuse({1: 10.0, 2: 5.0, 3: 0.0}, {1: 0.2, 2: 0.8, 3: 0.5}, cfg)
    assert fused[1]["bm25_norm"] == 1.0 and fused[1]["cosine_norm"] == 0.0
    assert fused[1]["relevance"] == pytest.approx(0.6)
    assert fused[2]["relevance"] == pytest.approx(0.6 * 0.5 + 0.4 * 1.0)
    assert fused[3]["relevance"] == pytest.approx(0.4 * 0.5)
    assert fused[2]["vector_rank"] == 1 and fused[1]["bm25_rank"] == 1


def test_a_candidate_missing_from_one_list_scores_zero_there() -> None:
    fused = ranking.fuse({1: 4.0, 2: 2.0}, {3: 0.9}, RankingConfig(dense_weight=0.5))
    assert fused[3]["bm25_norm"] == 0.0 and fused[3]["cosine_norm"] == 1.0
    assert fused[1]["cosine_norm"] == 0.0
    assert "cosine" not in fused[1] and "bm25" not in fused[3]


def test_weak_vector_only_candidates_are_dropped_but_bm25_ones_kept() -> None:
    fused = ranking.fuse({1: 3.0}, {1: 0.01, 2: 0.05, 3: 0.6}, RankingConfig(min_cosine=0.15))
    assert set(fused) == {1, 3}


def test_rrf_uses_ranks_and_scales_to_one() -> None:
    cfg = RankingConfig(fusion="rrf", rrf_k=10)
    fused = ranking.fuse({1: 9.0, 2: 1.0}, {1: 0.9, 2: 0.2}, cfg)
    assert fused[1]["relevance"] == pytest.approx(1.0)
    assert fused[2]["relevance"] == pytest.approx((2 / 12) / (2 / 11))


def test_single_retriever_relevance() -> None:
    assert ranking.single({1: 4.0, 2: 2.0}, "bm25")[2]["relevance"] == pytest.approx(0.5)
    assert ranking.single({1: 0.7, 2: -0.2}, "vector")[2]["relevance"] == 0.0


def test_recency_follows_upstreams_steps() -> None:
    got = [ranking.priors(mem(1, age_hours=h), NOW, include_raw=False, config=RankingConfig())["recency"]
           for h in (0.5, 5, 20, 70, 160, 200)]
    assert got == [1.0, 0.8, 0.6, 0.35, 0.15, 0.0]


def test_a_superseded_statement_is_demoted() -> None:
    m = mem(1)
    cog = m.cognitive
    assert cog is not None
    cog.resolution_status = rules.RESOLUTION_SUPERSEDED
    parts = ranking.priors(m.with_changes(metadata=cog.merge_into({})), NOW, include_raw=False, config=RankingConfig())
    assert parts["superseded_penalty"] == RankingConfig().superseded_penalty


def test_priors_are_light_and_every_term_is_reported() -> None:
    cfg = RankingConfig()
    parts = ranking.priors(mem(1, reinforced=10, level=CognitiveLevel.DERIVED), NOW, include_raw=False, config=cfg)
    assert parts["reinforcement"] == 1.0 and parts["level_bonus"] == 1.0 and parts["recency"] == 1.0
    assert parts["prior"] == pytest.approx(0.4 * 0.9 + 0.2 + 0.25 + 0.15)
    best = ranking.final_score({"relevance": 0.5, **parts}, cfg)
    worst = ranking.final_score({"relevance": 0.5, **ranking.priors(
        mem(2, age_hours=1000, confidence=0.0), NOW, include_raw=False, config=cfg)}, cfg)
    assert 0 < best - worst <= cfg.prior_weight  # priors never outweigh a relevance gap of 0.1


def test_missing_confidence_counts_as_default() -> None:
    parts = ranking.priors(mem(1, confidence=None), NOW, include_raw=False, config=RankingConfig())
    assert parts["confidence"] == ranking.DEFAULT_CONFIDENCE


def test_penalties_for_raw_archived_and_decay() -> None:
    cfg = RankingConfig()
    raw = ranking.priors(mem(1, labels=("raw-activity",)), NOW, include_raw=True, config=cfg)
    assert raw["raw_penalty"] == cfg.raw_penalty
    assert ranking.priors(mem(1, labels=("raw-activity",)), NOW, include_raw=False, config=cfg)["raw_penalty"] == 1.0
    assert ranking.priors(mem(2, archived=True), NOW, include_raw=False, config=cfg)["archived_penalty"] == 0.5
    old = ranking.priors(mem(3, age_hours=24 * 400), NOW, include_raw=False, config=cfg)
    assert old["decay_penalty"] == cfg.decay_max_penalty
    touched = mem(4, age_hours=24 * 400, last_accessed=NOW - timedelta(days=2))
    assert "decay_penalty" not in ranking.priors(touched, NOW, include_raw=False, config=cfg)
    assert "decay_penalty" not in ranking.priors(mem(5, age_hours=24 * 100), NOW, include_raw=False, config=cfg)


def test_rank_orders_by_final_score_then_id() -> None:
    rel = {1: {"relevance": 0.5}, 2: {"relevance": 0.5}, 3: {"relevance": 0.9}, 4: {"relevance": 1.0}}
    memories = {i: mem(i) for i in (1, 2, 3)}  # 4 vanished meanwhile
    ranked = ranking.rank(rel, memories, NOW, include_raw=False, config=RankingConfig(), limit=10)
    assert [r[0] for r in ranked] == [3, 1, 2]
    assert ranked[0][2]["score"] == ranked[0][1]


def test_vector_texts_embed_content_and_content_with_context() -> None:
    assert vector_texts("  hello  ", None) == [(KIND_CONTENT, "hello")]
    assert vector_texts("hello", "   ") == [(KIND_CONTENT, "hello")]
    pairs = vector_texts("I loved it", "Q: how was the trip to Rome?")
    assert pairs == [(KIND_CONTENT, "I loved it"), (KIND_CONTEXT, "Q: how was the trip to Rome?\nI loved it")]
    assert vector_texts("Rome trip notes", "rome trip") == [(KIND_CONTENT, "Rome trip notes")]


def test_context_is_clipped_at_a_word_boundary() -> None:
    clipped = clip_context("word " * 500, limit=100)
    assert len(clipped) <= 100 and clipped.endswith("word")
