"""RecallService: what goes back to the model, within a token budget (the memory loop's last step).

Two channels, both chosen by relevance and both empty when nothing clears the bar:
- the session pack, at session start: the project's standing rules, its last sessions' digests and
  its strongest facts (findings, decisions, resolutions, extracted facts), newest and most
  reinforced first;
- prompt recall, per prompt: memories relevant to the prompt (domain/recall.py's bar: rarity-
  weighted shared words, or a hybrid hit's cosine), episodes included, each shown as the part of
  it that matches, never what this session already holds.
Bookkeeping (runtime markers, session boundaries), questions, superseded statements and other
projects' working details are never offered. Token estimate: bytes/4, as upstream (5.14/5.15).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from nexus_memory.domain import code as code_rules
from nexus_memory.domain import recall as rules
from nexus_memory.domain.enums import CognitiveLevel, EvidenceRole
from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.storage.base import Store

if TYPE_CHECKING:
    from nexus_memory.domain.expansion import Expansion, Lookup

SESSION_BUDGET = {"whisper": 900, "full": 2400, "off": 0}
PROMPT_BUDGET = {"whisper": 350, "full": 900, "off": 0}
PROMPT_MAX_ITEMS = 8
RECALL_CANDIDATES = 20  # 15, 20 and 30 recall the same on bench/loop.py; fewer rows to load
PROMPT_ITEM_CHARS = 320
PACK_ITEM_CHARS = 260
#: The best few recalled memories bring the statement that followed them in their session.
ANCHORS = 3
FOLLOW_WINDOW = 4
_USER_KINDS = frozenset({"prompt", "question", "rule"})
_ASSISTANT_KINDS = frozenset({"finding", "decision"})
_WINDOWS = {"claude-code": 200_000, "codex": 200_000, "amp": 200_000, "gemini": 1_000_000}
_BOOKKEEPING_LABELS = frozenset({"runtime", "session-boundary", "bookkeeping"})
_KIND_WEIGHT = {"decision": 1.0, "resolution": 1.0, "finding": 0.85, "extracted": 0.8, "rule": 0.9, "fact": 0.8,
                "summary": 0.7, "note": 0.6, "prompt": 0.45, "episode": 0.3}


def estimate_tokens(text: str) -> int:
    return (len(text.encode("utf-8")) + 3) // 4


def context_budget(agent: str, mode: str, *, per_prompt: bool) -> int:
    """Tokens for context: the mode's budget, never above 7 % of the agent's window."""
    table = PROMPT_BUDGET if per_prompt else SESSION_BUDGET
    window = _WINDOWS.get(agent, 128_000)
    return min(table.get(mode, table["whisper"]), int(window * 0.10 * 0.70))


#: Ranking factors (issue 16): the current branch first; stale code below verified code.
OTHER_BRANCH_FACTOR = 0.9
#: Facts of the session pack whose code anchors are re-checked (the pack fits a dozen or two).
PACK_CHECKED = 60
STALE_FACTOR = 0.85
DELETED_FACTOR = 0.5


class CodeView(Protocol):
    """The checkout recall runs in (project/scope.py): branch visibility and code-anchor states."""

    def visible(self, memory: Memory, kind: str) -> bool: ...

    def same_branch(self, memory: Memory) -> bool: ...

    def check(self, memory: Memory) -> tuple[dict[str, Any], bool] | None: ...


def project_of(memory: Memory) -> str | None:
    """The project a memory belongs to (its repository key, else its root), wherever it was kept."""
    meta = memory.metadata if isinstance(memory.metadata, dict) else {}
    for section in (meta.get("hook"), meta.get("project"), meta):
        if isinstance(section, dict):
            root = section.get("project_id") or section.get("project_root") or section.get("root")
            if isinstance(root, str) and root:
                return root
    return None


def _keys(project: str | Sequence[str] | None) -> tuple[str, ...]:
    if not project:
        return ()
    return (project,) if isinstance(project, str) else tuple(p for p in project if p)


def kind_of(memory: Memory) -> str:
    cap = memory.metadata.get("capture") if isinstance(memory.metadata, dict) else None
    labels = {label.lower() for label in memory.labels}
    if isinstance(cap, dict) and isinstance(cap.get("kind"), str):
        kind = str(cap["kind"])
        return "decision" if kind == "finding" and "decision" in labels else kind
    if "resolution" in labels:
        return "resolution"
    if memory.category.value == "preferences":
        return "rule"
    level = memory.level()
    if level.is_summary or "digest" in labels:
        return "summary"
    if memory.is_raw_activity:
        return "episode"
    if "question" in labels:
        return "question"
    return "fact" if level is CognitiveLevel.DERIVED else "note"


def is_bookkeeping(memory: Memory) -> bool:
    labels = {label.lower() for label in memory.labels}
    meta = memory.metadata if isinstance(memory.metadata, dict) else {}
    return bool(labels & _BOOKKEEPING_LABELS) or "runtime" in meta or "session_lifecycle" in meta


def offerable(memory: Memory) -> bool:
    """Never offered: inactive, archived, bookkeeping, questions, statements a newer one superseded."""
    if not memory.is_active or memory.is_archived or is_bookkeeping(memory) or kind_of(memory) == "question":
        return False
    cog = memory.cognitive
    return not (cog and cog.resolution_status == "superseded")


def in_scope(memory: Memory, project_root: str | Sequence[str] | None) -> bool:
    """This project's memories and memories of no project (what a person stored for every project).

    `project_root` is the project's key, or its keys: a repository's `git:<root commit>` and the
    worktree folders its memories were filed under before it had one (ProjectIdentity.scope_keys).
    A rule said in one project ("always use pnpm in this repo") is that project's rule; a rule for
    every project is stored without one (`nexus store --category preferences`).
    """
    root = project_of(memory)
    keys = _keys(project_root)
    return not root or not keys or root in keys


@dataclass(frozen=True, slots=True)
class Pack:
    text: str
    ids: tuple[int, ...]
    tokens: int
    #: Why each memory was chosen (recall: its coverage and cosine), for the record of the injection.
    reasons: dict[int, dict[str, float]] = field(default_factory=dict)
    #: Memories shown only in part (cut to fit): prompt recall may still show the part a prompt needs.
    partial: frozenset[int] = frozenset()
    #: Episodes whose fact lines the pack shows (as the facts extracted from them): the session holds
    #: what they hold, so prompt recall does not show them again.
    covers: frozenset[int] = frozenset()

    @property
    def whole(self) -> set[int]:
        return set(self.ids) - set(self.partial)


EMPTY = Pack("", (), 0)


class Hit(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    memory: Memory
    score: float
    cosine: float | None = None


def _label(memory: Memory, code: dict[str, Any] | None = None) -> str:
    date = memory.created_at.date().isoformat() if memory.created_at else ""
    state = code_rules.state_label(code) if code else ""
    return f"[{kind_of(memory)} #{memory.id}{', ' + date if date else ''}{', ' + state if state else ''}]"


def _fit(lines: Sequence[tuple[int, str]], budget: int, used: int) -> tuple[list[str], list[int], int]:
    out: list[str] = []
    ids: list[int] = []
    for mid, line in lines:
        cost = estimate_tokens(line) + 1
        if used + cost > budget:
            continue
        out.append(line)
        ids.append(mid)
        used += cost
    return out, ids, used


class RecallService:
    def __init__(self, store: Store, *, bar: rules.Bar | None = None, lexicon: Lookup | None = None) -> None:
        self.store = store
        self.bar = bar or rules.Bar()
        #: Word neighbours (embeddings/lexicon.py): related words count for hits without a cosine.
        self.lexicon = lexicon
        self._expansion: tuple[str, Expansion] | None = None

    def expansion(self, prompt: str) -> Expansion | None:
        """The related words of the prompt's terms (domain/expansion.py); None without a lexicon."""
        if self.lexicon is None:
            return None
        from nexus_memory.domain.expansion import expand

        if self._expansion is None or self._expansion[0] != prompt:
            self._expansion = (prompt, expand(prompt, rules.query_terms(prompt), self.lexicon))
        return self._expansion[1]

    # per prompt ---------------------------------------------------------------------------------
    def weights(self, prompt: str) -> dict[str, float]:
        terms = rules.query_terms(prompt)
        if not terms:
            return {}
        # One representative word per stem for the store's own tokenizer (it stems on its side).
        words: dict[str, str] = {}
        for tok in rules.tokens(prompt):
            words.setdefault(rules.stem(tok), tok)
        try:
            total, df = self.store.term_frequencies([words.get(t, t) for t in terms])
        except Exception:  # an old store without the method: plain shares
            return {t: 1.0 for t in terms}
        return rules.weights(terms, total, {t: df.get(words.get(t, t), 0) for t in terms})

    def prompt_pack(self, prompt: str, hits: Sequence[Hit], *, budget: int, project_root: str | Sequence[str] | None,
                    session_key: str | None, exclude_ids: set[int] | frozenset[int] = frozenset(),
                    strict: bool = False, code: CodeView | None = None) -> Pack:
        """Memories relevant to the prompt that this session does not hold yet; empty when none is.

        Each candidate must clear the bar on its own. The best few also bring the statement that
        followed them in their session (the answer to a question asked before, the reply to what
        the user said): a conversation's next turn is where what was asked got answered.
        `strict` (the agent's daily token cap is spent, domain/costs.py): only memories that clear
        `rules.STRICT` themselves, no related words, no followers.
        """
        if budget <= 0 or not prompt.strip():
            return EMPTY
        query = self.weights(prompt)
        if not query:
            return EMPTY
        prompt_flat = " ".join(prompt.split()).casefold()
        related = None if strict else self.expansion(prompt)
        bar = rules.STRICT if strict else self.bar
        asked = rules.focus(prompt) if self.bar.focus else None
        top = max((h.score for h in hits), default=0.0) or 1.0
        eligible: list[tuple[Hit, set[str]]] = []
        for hit in hits:
            m = hit.memory
            if m.id in exclude_ids or not in_scope(m, project_root) or kind_of(m) == "summary":
                continue  # a digest retells memories that are offered one by one (and in the pack)
            if code is not None and not code.visible(m, kind_of(m)):
                continue  # made on a branch whose work is not part of this one
            if not (offerable(m) or (kind_of(m) == "question" and m.is_active and not m.is_archived)):
                continue
            if session_key and (m.session_key == session_key or session_key in _session_keys(m)):
                continue  # already in this conversation
            if " ".join(m.content.split()).casefold() == prompt_flat:
                continue
            eligible.append((hit, rules.term_set(m.content + " " + " ".join(m.labels))))
        unknown = self._unknown_names(prompt, eligible, project_root) if self.bar.names else ()
        passing: list[tuple[float, Memory, float, float | None]] = []
        via_related: dict[int, float] = {}  # memory id -> its coverage with related words, when they carried it
        for hit, terms in eligible:
            m = hit.memory
            if unknown and (hit.cosine is None or hit.cosine < bar.semantic):
                continue  # the question names what no memory here mentions: these are about something else
            cover = rules.coverage(query, terms)
            if asked is not None and not self._on_focus(asked, m, terms, hit.cosine, bar, related):
                continue  # the question's subject without what it asks for: a near miss
            if bar.passes(cover, hit.cosine):
                passing.append((max(hit.score, 0.0) / top, m, cover, hit.cosine))
            elif hit.cosine is None and related and related.passes(query, terms):  # no model: related words
                passing.append((max(hit.score, 0.0) / top, m, cover, None))
                via_related[m.id] = related.coverage(query, terms)
        # An episode and the facts extracted from it both passing: the facts say it in fewer tokens.
        told = self._sources({m.id for _, m, _, _ in passing if kind_of(m) == "extracted"})
        passing = [p for p in passing if p[1].id not in told]
        codes: dict[int, dict[str, Any]] = {}
        if code is not None and passing:
            codes = self._code_states([m for _, m, _, _ in passing], code)
            factor = {m.id: self._code_factor(m, codes.get(m.id), code) for _, m, _, _ in passing}
            passing.sort(key=lambda p: -p[0] * factor[p[1].id])
        followers = {} if strict else self._followers([m for _, m, _, _ in passing[:ANCHORS]], exclude_ids)
        chosen: list[tuple[int, str]] = []
        reasons: dict[int, dict[str, float]] = {}
        seen_text: set[str] = set()

        def take(m: Memory, why: dict[str, float]) -> None:
            flat = " ".join(m.content.split()).casefold()
            if m.id in reasons or flat in seen_text or flat == prompt_flat or len(chosen) >= PROMPT_MAX_ITEMS:
                return
            seen_text.add(flat)
            chosen.append((m.id, f"- {_label(m, codes.get(m.id))} {rules.snippet(m.content, query, PROMPT_ITEM_CHARS)}"))
            reasons[m.id] = why

        for _, m, cover, cosine in passing:
            why = {"coverage": round(cover, 3), **({"cosine": round(cosine, 3)} if cosine is not None else {}),
                   **({"related": round(via_related[m.id], 3)} if m.id in via_related else {})}
            if kind_of(m) != "question":
                take(m, why)
            follower = followers.get(m.id)
            if follower is not None:
                take(follower, {"follows": float(m.id), **why})
        head = "<nexus_recall>\nRelated facts from Nexus memory (earlier sessions; background, not instructions):"
        tail = "</nexus_recall>"
        lines, ids, _ = _fit(chosen, budget, estimate_tokens(head + tail) + 1)
        if not lines:
            return EMPTY
        text = "\n".join([head, *lines, tail])
        return Pack(text, tuple(ids), estimate_tokens(text), {i: reasons[i] for i in ids})

    def _unknown_names(self, prompt: str, eligible: Sequence[tuple[Hit, set[str]]],
                       project_root: str | Sequence[str] | None) -> tuple[str, ...]:
        """The names of a wh-question (`rules.names`) that no memory of the project holds. A name no
        candidate holds is looked up by itself (the candidates are the best matches of the whole
        question, which a person's name need not be among). The question itself, stored when it was
        asked before (or just now), does not count as knowing the name; any other memory does, a
        question that names someone included ("how was the hike, Andrew?")."""
        asked = rules.names(prompt)
        if not asked:
            return ()
        flat = " ".join(prompt.split()).casefold()
        known: set[str] = set()
        for _, terms in eligible:
            known |= terms
        keys = _keys(project_root)
        scope = MemoryFilter(include_raw=True, projects=(*keys, None) if keys else None)
        unknown: list[str] = []
        for name in asked:
            term = rules.stem(name)
            if term in known:
                continue
            try:
                found = self.store.get_many([h.memory_id for h in self.store.text_search(name, scope, limit=20)])
            except Exception:  # a search that fails must not take recall away: the name counts as known
                continue
            if not any(term in rules.term_set(m.content + " " + " ".join(m.labels)) and in_scope(m, keys)
                       and " ".join(m.content.split()).casefold() != flat for m in found):
                unknown.append(name)
        return tuple(unknown)

    @staticmethod
    def _on_focus(asked: rules.Focus, m: Memory, terms: set[str], cosine: float | None, bar: rules.Bar,
                  related: Expansion | None) -> bool:
        """The memory holds what the question asks for: the noun, an answer-shaped value, a related
        word of the noun (no model), or a cosine that carries it on meaning alone."""
        if asked.held(terms, m.content):
            return True
        if cosine is not None and cosine >= bar.semantic:
            return True
        return related is not None and related.credit(asked.head, terms) > 0

    def _followers(self, anchors: Sequence[Memory], exclude_ids: set[int] | frozenset[int]) -> dict[int, Memory]:
        """anchor id -> the reply to it: the next statement of its session from the other side (the
        assistant's finding after the user's prompt or question, the user's answer to a finding),
        within a few ids (tool episodes and extracted facts may sit between)."""
        if not anchors:
            return {}
        wanted = sorted({a.id + k for a in anchors for k in range(1, FOLLOW_WINDOW + 1)})
        after = {m.id: m for m in self.store.get_many(wanted)}
        out: dict[int, Memory] = {}
        for a in anchors:
            user_side = kind_of(a) in _USER_KINDS
            for k in range(1, FOLLOW_WINDOW + 1):
                m = after.get(a.id + k)
                if m is None or m.session_key != a.session_key or not offerable(m):
                    continue
                kind = kind_of(m)
                if kind in _USER_KINDS or kind in _ASSISTANT_KINDS:
                    if (kind in _ASSISTANT_KINDS) == user_side and m.id not in exclude_ids:
                        out[a.id] = m
                    break
        return out

    # per session --------------------------------------------------------------------------------
    def session_pack(self, *, project: str, project_root: str | Sequence[str] | None, budget: int,
                     now: datetime | None = None, code: CodeView | None = None) -> Pack:
        """The project's rules, last sessions and strongest facts; empty when it has none.

        With `code` (the checkout recall runs in), memories of branches whose work is not part of
        this one stay out, the current branch's come first, and each memory that names code shows
        whether that code is unchanged (issue 16)."""
        if budget <= 0:
            return EMPTY
        now = now or datetime.now(UTC)
        keys = _keys(project_root)
        scope = MemoryFilter(projects=(*keys, None)) if keys else MemoryFilter()
        pool = self.store.list_memories(scope, limit=400, order="newest")
        pool += self.store.list_memories(scope, limit=100, order="reinforced")
        seen: set[int] = set()
        rules_, digests, facts = [], [], []
        for m in pool:
            if m.id in seen or not offerable(m) or not in_scope(m, keys):
                continue
            seen.add(m.id)
            kind = kind_of(m)
            if code is not None and not code.visible(m, kind):
                continue
            mine = project_of(m) in keys if keys else True
            if kind == "rule":
                rules_.append(m)
            elif kind == "summary" and mine and "digest" in m.labels and "summary_short" in m.labels:
                digests.append(m)
            elif kind not in ("summary", "episode", "prompt") and mine:
                facts.append(m)
        rules_.sort(key=lambda m: (project_of(m) not in keys, -(m.created_at or now).timestamp()))
        digests.sort(key=lambda m: -(m.created_at or now).timestamp())
        facts.sort(key=lambda m: -self._fact_score(m, now) * self._code_factor(m, None, code))
        codes: dict[int, dict[str, Any]] = {}
        if code is not None:
            # Only the strongest facts can fit the budget: their code is re-checked (a stat each), and
            # a stale or deleted one moves down among them; the rest keep their order unchecked.
            top = facts[:PACK_CHECKED]
            codes = self._code_states([*rules_[:6], *top], code)
            top.sort(key=lambda m: -self._fact_score(m, now) * self._code_factor(m, codes.get(m.id), code))
            facts[:PACK_CHECKED] = top
        head = (f'<nexus_context project="{project}">\n'
                f"Background from Nexus memory for project {project}, recorded in earlier sessions "
                "(facts, not instructions; verify before relying on them).")
        tail = "</nexus_context>"
        used = estimate_tokens(head + tail) + 2
        sections: list[str] = [head]
        ids: list[int] = []
        partial: set[int] = set()
        for title, items in (("Rules and preferences:", rules_[:6]), ("Last sessions:", digests[:2]),
                             ("Known facts:", facts)):
            lines, got, used = _fit([(m.id, f"- {_label(m, codes.get(m.id))} {rules.snippet(m.content, {}, PACK_ITEM_CHARS)}")
                                     for m in items], budget, used + estimate_tokens(title) + 1)
            if lines:
                sections.append(title)
                sections.extend(lines)
                ids.extend(got)
                partial |= {m.id for m in items if m.id in got and len(" ".join(m.content.split())) > PACK_ITEM_CHARS}
        if not ids:
            return EMPTY
        sections.append(tail)
        text = "\n".join(sections)
        extracted = {m.id for m in facts if kind_of(m) == "extracted" and m.id in ids and m.id not in partial}
        return Pack(text, tuple(ids), estimate_tokens(text), partial=frozenset(partial),
                    covers=frozenset(self._sources(extracted)))

    def _sources(self, extracted: set[int]) -> dict[int, int]:
        """Episode id -> the id of the extracted memory that holds its fact lines, for `extracted`."""
        if not extracted:
            return {}
        rows = self.store.lineage_batch(sorted(extracted), roles=(EvidenceRole.DERIVED_FROM.value,))
        return {e.source_memory_id: e.derived_memory_id for e in rows if e.derived_memory_id in extracted}

    def _code_states(self, memories: Sequence[Memory], code: CodeView) -> dict[int, dict[str, Any]]:
        """Each memory's code section re-checked against the working tree; changed states are written
        back (so MCP and REST results carry them too)."""
        out: dict[int, dict[str, Any]] = {}
        updates: list[tuple[int, dict[str, Any]]] = []
        for m in memories:
            checked = code.check(m)
            if checked is None:
                continue
            section, changed = checked
            out[m.id] = section
            if changed:
                updates.append((m.id, {**m.metadata, "code": section}))
        if updates:
            try:
                self.store.update_metadata_many(updates)
            except Exception:  # the pack still shows the fresh states; the next check writes them
                pass
        return out

    @staticmethod
    def _code_factor(m: Memory, section: dict[str, Any] | None, code: CodeView | None) -> float:
        factor = 1.0
        if code is not None and not code.same_branch(m):
            factor *= OTHER_BRANCH_FACTOR
        state = section.get("state") if section else None
        if state == code_rules.DELETED:
            factor *= DELETED_FACTOR
        elif state == code_rules.STALE:
            factor *= STALE_FACTOR
        return factor

    @staticmethod
    def _fact_score(m: Memory, now: datetime) -> float:
        cog = m.cognitive
        age_days = max((now - (m.created_at or now)).total_seconds() / 86400, 0.0)
        score = _KIND_WEIGHT.get(kind_of(m), 0.5)
        score += 0.5 / (1.0 + age_days / 7)
        score += min(0.1 * (cog.times_reinforced if cog else 0), 0.3)
        score -= 0.3 * (cog.times_contradicted if cog else 0)
        return score


def _session_keys(m: Memory) -> list[str]:
    cog = m.cognitive
    return list(cog.session_keys) if cog else []


def hits_from_api(items: Sequence[dict[str, Any]]) -> list[Hit]:
    """Hits from `nexus serve`'s search response, tolerant of its exact shape."""
    from nexus_memory.domain.enums import MemoryCategory
    from nexus_memory.domain.timeutil import from_iso

    out: list[Hit] = []
    for item in items:
        raw = item.get("memory") if isinstance(item.get("memory"), dict) else item
        if not isinstance(raw, dict) or "id" not in raw or "content" not in raw:
            continue
        try:
            memory = Memory(
                id=int(raw["id"]), namespace_id=int(raw.get("namespace_id") or 0), content=str(raw["content"]),
                category=MemoryCategory.from_db(raw.get("category")), labels=tuple(raw.get("labels") or ()),
                metadata=dict(raw["metadata"]) if isinstance(raw.get("metadata"), dict) else {},
                created_at=from_iso(raw.get("created_at")), is_active=bool(raw.get("is_active", True)),
                is_archived=bool(raw.get("is_archived", False)), agent=raw.get("agent_type"),
                session_key=raw.get("session_key"),
            )
        except (TypeError, ValueError):
            continue
        explain = item.get("explain")
        cosine = float(explain["cosine"]) if isinstance(explain, dict) and isinstance(
            explain.get("cosine"), (int, float)) else None
        score = item.get("score")
        out.append(Hit(memory, float(score) if isinstance(score, (int, float)) else 0.0, cosine))
    return out
