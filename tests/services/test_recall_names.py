"""RecallService's name rule (domain/recall.names) on a real SQLite store: a wh-question's name that no
memory of the project holds leaves no recall but a close cosine; a name the store holds, even in a
memory the search did not put among the candidates, is known, and the same question asked before is
not knowledge."""

from __future__ import annotations

from nexus_memory.app import App
from nexus_memory.domain.models import Memory
from nexus_memory.domain.recall import Bar
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.recall import Hit, RecallService

NOTE = "Caroline's pottery class meets on Thursday evenings at the community studio."
OTHER = "Melanie signed up for the pottery class that meets on Thursday evenings."
QUESTION = "When does Caroline go to pottery class?"


def _store(app: App, text: str, labels: tuple[str, ...] = ()) -> Memory:
    return app.memories.store(StoreRequest(content=text, agent="claude-code", labels=list(labels))).memory


def _ids(service: RecallService, hit: Hit) -> tuple[int, ...]:
    return service.prompt_pack(QUESTION, [hit], budget=350, project_root=None, session_key=None).ids


def test_a_name_held_anywhere_in_the_project_is_known(app: App) -> None:
    other = _store(app, OTHER)
    service = RecallService(app.store)
    # no memory says Caroline: the pottery note about someone else stays out; the words alone would pass it
    assert _ids(service, Hit(other, 1.0)) == ()
    assert _ids(RecallService(app.store, bar=Bar(names=False)), Hit(other, 1.0)) == (other.id,)
    # a cosine that carries it on meaning (nexus serve) may bring it back
    assert _ids(service, Hit(other, 1.0, cosine=0.7)) == (other.id,)
    # the same question asked before is not knowledge of her
    _store(app, QUESTION, ("prompt", "question"))
    assert _ids(service, Hit(other, 1.0)) == ()
    # once a memory names her, the name is known, also when the search did not hand that memory over;
    # a question that names her counts ("did Caroline like the studio?": she is someone this project knows)
    _store(app, NOTE)
    assert _ids(service, Hit(other, 1.0)) == (other.id,)


def test_a_question_naming_someone_makes_the_name_known(app: App) -> None:
    other = _store(app, OTHER)
    _store(app, "Did Caroline like the community studio?", ("prompt", "question"))
    assert _ids(RecallService(app.store), Hit(other, 1.0)) == (other.id,)
