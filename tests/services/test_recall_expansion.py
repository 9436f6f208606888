"""RecallService with the shipped neighbour table, on a real SQLite store: related words carry a
memory over the bar only for hits without a cosine, and the injection record says so."""

from __future__ import annotations

from nexus_memory.app import App
from nexus_memory.embeddings.lexicon import Lexicon
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.recall import Hit, RecallService

FINDING = "The configuration db of the billing service lives on vm-14, reached over the vpn."
PROMPT = "where is the config database?"


def test_related_words_carry_a_hit_without_a_cosine_and_are_recorded(app: App) -> None:
    stored = [app.memories.store(StoreRequest(content=t, agent="claude-code")).memory for t in
              (FINDING, "The release notes mention a new chart legend.", "Ran the linter: all checks passed.")]
    hits = [Hit(m, 1.0) for m in stored]
    plain = RecallService(app.store).prompt_pack(PROMPT, hits, budget=350, project_root=None, session_key=None)
    assert plain.ids == ()  # words alone: "config" and "database" are not in the finding
    service = RecallService(app.store, lexicon=Lexicon().neighbours)
    pack = service.prompt_pack(PROMPT, hits, budget=350, project_root=None, session_key=None)
    assert pack.ids == (stored[0].id,) and "vm-14" in pack.text
    why = pack.reasons[stored[0].id]
    assert why["coverage"] < 0.25 <= why["related"]
    # a hit that carries a cosine is judged by it (nexus serve's path), not by related words
    low = [Hit(stored[0], 1.0, cosine=0.1)]
    assert service.prompt_pack(PROMPT, low, budget=350, project_root=None, session_key=None).ids == ()
    assert service.expansion(PROMPT) is service.expansion(PROMPT)  # looked up once per prompt
