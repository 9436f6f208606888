"""Reflection with vectors: paraphrases reinforce, a close paraphrase with opposite polarity contradicts."""

from __future__ import annotations

from collections.abc import Sequence

from nexus_memory.app import App
from nexus_memory.domain.models import Memory
from tests.cognition.helpers import put

# Hand-made unit vectors: the two paraphrases point the same way, the unrelated note elsewhere.
TOPIC = [1.0, 0.0, 0.0]
NEAR = [0.95, 0.3122, 0.0]
OTHER = [0.0, 0.0, 1.0]


def test_paraphrases_reinforce_through_embeddings(app: App) -> None:
    a = put(app, "Rate limiting allows 5 login attempts per minute")
    b = put(app, "Sign-in is throttled after five tries a minute")
    c = put(app, "Deploys happen on Fridays")
    negated = put(app, "Sign-in is not throttled anymore")
    vectors = {a.id: TOPIC, b.id: NEAR, c.id: OTHER, negated.id: NEAR}

    def source(mems: Sequence[Memory]) -> dict[int, Sequence[float]]:
        return {m.id: vectors[m.id] for m in mems if m.id in vectors}

    # Without vectors the paraphrase is invisible to the word rules.
    assert app.cognition.reflect("claude-code").to_dict()["reinforcements"] == []
    app.cognition.set_vectors(source)
    r = app.cognition.reflect("claude-code").to_dict()
    assert r["used_embeddings"] and len(r["reinforcements"]) == 1
    cluster = app.store.get(r["reinforcements"][0])
    assert cluster is not None and cluster.content.startswith("Reinforced observation (2x):")
    sources = {ev.source_memory_id for ev in app.store.lineage(cluster.id) if ev.derived_memory_id == cluster.id}
    assert sources == {a.id, b.id}
    contradicted = {ev.source_memory_id for cid in r["contradictions"] for ev in app.store.lineage(cid)
                    if ev.evidence_role == "contradicts"}
    assert negated.id in contradicted and c.id not in contradicted
