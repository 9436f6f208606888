"""Hybrid search ranking (pure): fuse BM25 and vector candidates, then apply light priors.

Same code for every backend and surface; every number that goes into a score is
returned as a named component so `--explain` can show it.

Fusion (measured on LoCoMo on our machines, docs/search.md):
- "minmax" (default): each retriever's scores min-max normalised over the
  candidate union, then `(1 - w) * bm25 + w * dense` with dense weight w = 0.5
  (0.3-0.6 works; 0.5 won the leave-conversations-out check of issue 14); a candidate
  missing from one list scores 0 there.
- "rrf": reciprocal-rank fusion with k = 10, scaled to [0, 1]. Standard RRF
  (k = 60) fused worse than BM25 alone, so it is not the default.

Neighbourhood stage (issue 14, measured on LoCoMo, docs/search.md), after fusion and before
the priors, over the whole candidate pool:
- entity: a query that names a memory's observer or subject (a person who spoke, the author of
  an imported note) raises that memory: `(rel + e) / (1 + e)`, the others `rel / (1 + e)`,
  e = 0.5. Only when the name tells candidates apart (some match, some do not), and never the
  memory's own agent namespace (hook captures have it as observer). The service then searches
  for the query without the names (`without_names`); when it names one person, the vector side
  embeds the question as that person would ask it (`first_person`: "What does Melanie paint?" ->
  "What do I paint?"), since what they said is stored in their first person.
- session: a memory's relevance is fused with the best relevance among the candidates of its
  session (`session_key`): `(rel + s * session_best) / (1 + s)`, s = 0.6. What else was said in
  the same session is evidence that this session is the one asked about; a memory without a
  session is its own neighbourhood (its relevance is unchanged).

Turn form (issue 14, measured on LoCoMo, docs/search.md): a memory that carries a perspective
(an observer or subject other than its own agent namespace: a turn of an imported conversation)
says less about that person when it only asks (its text ends with a question mark) or speaks to
the other party (more second- than first-person pronouns). Its relevance is multiplied by
`(1 - q * question_turn) * (1 - a * addressed_turn)`, q = a = 0.1 (`form`). Only ever lowers.

Priors (upstream reference 5.7, made light; the step functions are shared with the
working representation in `domain/ranking.py`): a prior in [0, 1] from confidence,
reinforcement, a recency step and a level bonus moves the score by at most
`prior_weight / 2` either way; penalties for raw activity, archived memories,
superseded statements and age-based decay are subtracted. Relevance decides;
priors break near-ties.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from nexus_memory.domain import ranking as rules
from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.models import Memory, Neighbourhood

DEFAULT_CONFIDENCE = rules.DEFAULT_CONFIDENCE
_BONUS_LEVELS = frozenset({CognitiveLevel.DERIVED, CognitiveLevel.SUMMARY_SHORT, CognitiveLevel.SUMMARY_LONG})
#: Upstream's maximum decay penalty (on its 0..1 blended scale), scaled to ours below.
_UPSTREAM_DECAY_MAX = 0.15


@dataclass(frozen=True, slots=True)
class RankingConfig:
    fusion: str = "minmax"  # minmax | rrf
    dense_weight: float = 0.5
    rrf_k: int = 10
    #: Candidates taken from each retriever: max(candidates, limit * candidate_factor).
    candidates: int = 50
    candidate_factor: int = 3
    #: Vector candidates below this cosine that BM25 did not find either are dropped
    #: (unrelated MiniLM pairs score about -0.1 to 0.15), so vector search can say "nothing".
    min_cosine: float = 0.15
    #: Neighbourhood stage (hybrid mode): weight of the best relevance in the memory's session,
    #: and the boost of a memory whose observer or subject the query names. 0 turns one off.
    session_weight: float = 0.6
    entity_weight: float = 0.5
    #: When the query names who some candidates are by or about, search again without the names.
    entity_requery: bool = True
    #: ... and when it names exactly one person, the vector side searches for the question as that
    #: person would ask it ("What activities do I partake in?"): their memories are in the first person.
    first_person_query: bool = True
    #: Turn form: relevance multipliers for a perspective memory that only asks, or that speaks to
    #: the other party rather than about its speaker. 0 turns one off.
    question_penalty: float = 0.1
    addressed_penalty: float = 0.1
    prior_weight: float = 0.1
    raw_penalty: float = 0.1  # raw hook activity when include_raw (else it is filtered out)
    raw_penalty_excluded: float = 1.0
    archived_penalty: float = 0.5
    superseded_penalty: float = 0.1
    decay_enabled: bool = True
    decay_age_days: int = 90
    decay_access_boost_days: int = 30
    decay_max_penalty: float = 0.05

    def candidate_count(self, limit: int) -> int:
        return max(self.candidates, limit * self.candidate_factor)


def minmax(scores: Mapping[int, float], ids: list[int]) -> dict[int, float]:
    """Min-max normalise over `ids` (the candidate union). An id without a score
    normalises to 0, and then the scale starts at a raw 0 (or lower, if a score is).
    All-equal scores normalise to 1.0 for the ids that have one."""
    present = [scores[i] for i in ids if i in scores]
    if not present:
        return {i: 0.0 for i in ids}
    low = min(min(present), 0.0) if len(present) < len(ids) else min(present)
    high = max(present)
    if high <= low:
        return {i: (1.0 if i in scores else 0.0) for i in ids}
    return {i: ((scores[i] - low) / (high - low) if i in scores else 0.0) for i in ids}


def _ranks(scores: Mapping[int, float]) -> dict[int, int]:
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return {mid: rank for rank, (mid, _) in enumerate(ordered, 1)}


def drop_weak(dense: Mapping[int, float], bm25: Mapping[int, float], min_cosine: float) -> dict[int, float]:
    """Vector candidates worth keeping: any that BM25 also found, else cosine >= min_cosine."""
    return {i: s for i, s in dense.items() if i in bm25 or s >= min_cosine}


def fuse(bm25: Mapping[int, float], dense: Mapping[int, float], config: RankingConfig) -> dict[int, dict[str, float]]:
    """Per candidate: its raw scores, ranks, normalised scores and `relevance` in [0, 1]."""
    dense = drop_weak(dense, bm25, config.min_cosine)
    ids = sorted(set(bm25) | set(dense))
    bm25_rank, dense_rank = _ranks(bm25), _ranks(dense)
    out: dict[int, dict[str, float]] = {}
    if config.fusion == "rrf":
        k = float(config.rrf_k)
        top = 2.0 / (k + 1.0)
        for i in ids:
            parts: dict[str, float] = {}
            score = 0.0
            if i in bm25:
                parts.update(bm25=bm25[i], bm25_rank=float(bm25_rank[i]))
                score += 1.0 / (k + bm25_rank[i])
            if i in dense:
                parts.update(cosine=dense[i], vector_rank=float(dense_rank[i]))
                score += 1.0 / (k + dense_rank[i])
            parts["relevance"] = score / top
            out[i] = parts
        return out
    w = min(max(config.dense_weight, 0.0), 1.0)
    b_norm, d_norm = minmax(bm25, ids), minmax(dense, ids)
    for i in ids:
        mm: dict[str, float] = {}
        if i in bm25:
            mm.update(bm25=bm25[i], bm25_rank=float(bm25_rank[i]))
        if i in dense:
            mm.update(cosine=dense[i], vector_rank=float(dense_rank[i]))
        mm.update(bm25_norm=b_norm[i], cosine_norm=d_norm[i])
        mm["relevance"] = (1.0 - w) * b_norm[i] + w * d_norm[i]
        out[i] = mm
    return out


_WORD = re.compile(r"[^\W_]+(?:[-_.][^\W_]+)*")


def entity_names(who: Neighbourhood) -> tuple[str, ...]:
    """Who a memory is by or about (observer, subject), casefolded; not its own agent namespace
    (the default observer of everything an agent stores) and not names without a letter."""
    agent = (who.agent or "").casefold()
    out: list[str] = []
    for name in (who.observer, who.subject):
        key = name.strip().casefold() if name else ""
        if key and key != agent and key not in out and any(ch.isalpha() for ch in key):
            out.append(key)
    return tuple(out)


def query_words(query: str) -> frozenset[str]:
    """The query's words (and hyphen/underscore/dot compounds), casefolded, for entity matching."""
    return frozenset(w.casefold() for w in _WORD.findall(query))


def mentioned(name: str, words: frozenset[str]) -> bool:
    """Whether the query words contain the name (a name of several words needs them all)."""
    parts = _WORD.findall(name)
    return len(name) >= 2 and bool(parts) and (name in words or all(p in words for p in parts))


def named_entities(candidates: Iterable[int], who: Mapping[int, Neighbourhood],
                   query: str) -> tuple[set[str], set[int]]:
    """(names of candidates' observers or subjects that the query mentions, the candidates by or
    about one of them). The candidates are empty unless the names tell them apart (some match,
    some do not); the names are returned either way, so the retrievers can search without them."""
    ids = list(candidates)
    words = query_words(query)
    names_of = {mid: entity_names(who[mid]) for mid in ids if mid in who}
    named = {n for names in names_of.values() for n in names if mentioned(n, words)}
    matches = {mid for mid, names in names_of.items() if any(n in named for n in names)}
    if len(matches) == len(ids):
        matches = set()
    return named, matches


def without_names(query: str, names: Iterable[str]) -> str:
    """The query with the names (and a possessive 's after them) taken out, for the retrievers to
    search for the rest: the entity component already rewards a memory by or about them."""
    out = query
    for name in sorted(names, key=len, reverse=True):
        words = [re.escape(w) for w in _WORD.findall(name)]
        if words:
            out = re.sub(r"(?<![\w-])" + r"\W+".join(words) + r"(?:['’]s)?(?![\w-])", " ", out, flags=re.IGNORECASE)
    return " ".join(out.split())


_AUX_AS_I = {"does": "do", "has": "have", "is": "am", "was": "was", "did": "did", "can": "can", "could": "could",
             "would": "would", "will": "will", "should": "should", "might": "might", "may": "may"}
#: Words after a name that show it is not the subject of a verb ("... motivated Caroline to ...").
_NOT_A_VERB = frozenset({"to", "and", "or", "with", "about", "in", "on", "at", "for", "from", "of", "by", "as", "than",
                         "that", "the", "a", "an", "during", "after", "before", "when", "while", "like", "into",
                         "over", "last", "this", "recently"})
_THIRD_TO_FIRST = {"her": "my", "his": "my", "their": "my", "she": "I", "he": "I", "herself": "myself",
                   "himself": "myself", "themselves": "myself"}


def _as_i(verb: str) -> str:
    """A verb after a name, as it reads after "I": is -> am, has -> have, likes -> like, went -> went."""
    low = verb.lower()
    if low in ("is", "has", "does", "was"):
        return {"is": "am", "has": "have", "does": "do", "was": "was"}[low]
    if low.endswith("ies") and len(low) > 4:
        return verb[:-3] + "y"
    if low.endswith("es") and len(low) > 3 and low[-3] in "sxzh":
        return verb[:-2]
    if low.endswith("s") and not low.endswith(("ss", "us", "is")) and len(low) > 2:
        return verb[:-1]
    return verb


def first_person(query: str, names: Iterable[str]) -> str:
    """The query as the one person it names would ask it about themselves, for the vector side:
    "What activities does Melanie partake in?" -> "What activities do I partake in?", "Melanie's
    kids" -> "my kids", her/his/she/he -> my/I. What a person said is stored in their own first
    person, and a query with the name simply taken out ("What activities does partake in?")
    embeds worse (measured on LoCoMo, docs/search.md). "" unless exactly one name is mentioned or
    nothing changes. English only; other text just loses the name, as `without_names` does."""
    unique = {n for n in names if n}
    if len(unique) != 1:
        return ""
    words = [re.escape(w) for w in _WORD.findall(next(iter(unique)))]
    if not words:
        return ""
    name = r"(?<![\w-])" + r"\W+".join(words) + r"(?![\w-])"
    out = re.sub(name + r"['’]s\b", "my", query, flags=re.IGNORECASE)

    def aux(m: re.Match[str]) -> str:
        word = _AUX_AS_I[m.group(1).lower()]
        return (word.capitalize() if m.group(1)[0].isupper() else word) + " I"

    out = re.sub(r"\b(" + "|".join(_AUX_AS_I) + r")\s+" + name, aux, out, flags=re.IGNORECASE)

    def subject(m: re.Match[str]) -> str:
        verb = m.group(1)
        return ("me " + verb) if verb.lower() in _NOT_A_VERB else ("I " + _as_i(verb))

    out = re.sub(name + r"\s+([^\W\d_]+)", subject, out, flags=re.IGNORECASE)
    out = re.sub(name, "me", out, flags=re.IGNORECASE)
    out = re.sub(r"\b(" + "|".join(_THIRD_TO_FIRST) + r")\b",
                 lambda m: _THIRD_TO_FIRST[m.group(1).lower()], out, flags=re.IGNORECASE)
    out = " ".join(out.split())
    return out if out != " ".join(query.split()) else ""


def neighbourhood(scored: Mapping[int, dict[str, float]], who: Mapping[int, Neighbourhood], query: str,
                  config: RankingConfig) -> dict[int, dict[str, float]]:
    """The entity and session stage (module docstring) over the candidate pool; returns new
    component dicts with `relevance` replaced, the fusion's kept as `fused_relevance`, and
    `entity_match` / `session_best` where they apply. Candidates not loaded keep theirs."""
    s_w, e_w = max(config.session_weight, 0.0), max(config.entity_weight, 0.0)
    rel = {mid: parts["relevance"] for mid, parts in scored.items()}
    matches = named_entities(scored, who, query)[1] if e_w else set()
    if matches:
        rel = {mid: (r + e_w * (mid in matches)) / (1.0 + e_w) for mid, r in rel.items()}
    keys = {mid: n.session_key for mid, n in who.items() if mid in scored and n.session_key}
    best: dict[str, float] = {}
    if s_w:
        for mid, key in keys.items():
            best[key] = max(best.get(key, 0.0), rel[mid])
    out: dict[int, dict[str, float]] = {}
    for mid, parts in scored.items():
        new = dict(parts)
        new["fused_relevance"] = parts["relevance"]
        if matches:
            new["entity_match"] = 1.0 if mid in matches else 0.0
        r = rel[mid]
        if s_w:
            session_best = best[keys[mid]] if mid in keys else r
            new["session_best"] = session_best
            r = (r + s_w * session_best) / (1.0 + s_w)
        new["relevance"] = r
        out[mid] = new
    return out


def single(scores: Mapping[int, float], kind: str) -> dict[int, dict[str, float]]:
    """Relevance for one retriever alone: BM25 divided by the best BM25; cosine as is."""
    ranks = _ranks(scores)
    if kind == "bm25":
        best = max(scores.values(), default=0.0)
        return {i: {"bm25": s, "bm25_rank": float(ranks[i]), "relevance": s / best if best > 0 else 0.0}
                for i, s in scores.items()}
    return {i: {"cosine": s, "vector_rank": float(ranks[i]), "relevance": max(s, 0.0)} for i, s in scores.items()}


_BRACKETED = re.compile(r"\[[^\]]*\]")
#: First- and second-person words (lowercase, straight apostrophes), and what may stick to a word.
_FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves", "i'm", "i've",
                           "i'd", "i'll", "we're", "we've", "we'd", "we'll"})
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'd", "you'll"})
_PUNCTUATION = "\"'.,;:!?()[]{}-–—…*_/"


def turn_form(memory: Memory, config: RankingConfig) -> dict[str, float]:
    """`question_turn`, `addressed_turn` (0/1) and their multiplier `form` for a memory with a
    perspective (module docstring); {} for any other memory or with both penalties off."""
    q_w, a_w = max(config.question_penalty, 0.0), max(config.addressed_penalty, 0.0)
    if not (q_w or a_w) or not entity_names(Neighbourhood.of(memory)):
        return {}
    text = _BRACKETED.sub(" ", memory.content).strip()  # a bracketed note (a photo's caption) is not the turn
    asks = 1.0 if text.endswith("?") else 0.0
    first = second = 0
    for word in text.lower().replace("’", "'").split():  # str.split: a regex scan cost ~10x more per memory
        word = word.strip(_PUNCTUATION)
        first += word in _FIRST_PERSON
        second += word in _SECOND_PERSON
    addressed = 1.0 if second > first else 0.0
    return {"question_turn": asks, "addressed_turn": addressed,
            "form": (1.0 - min(q_w, 1.0) * asks) * (1.0 - min(a_w, 1.0) * addressed)}


def priors(memory: Memory, now: datetime, *, include_raw: bool, config: RankingConfig) -> dict[str, float]:
    """The prior terms of one memory, its combined `prior`, its `penalty` and its turn `form`
    (when it has one)."""
    cog = memory.cognitive  # parsed once here: this runs for every search candidate
    confidence = cog.confidence if cog and cog.confidence is not None else DEFAULT_CONFIDENCE
    reinforcement = min((cog.times_reinforced if cog else 0) / 5.0, 1.0)
    fresh = rules.recency_score(memory.created_at or now, now)
    bonus = 1.0 if cog is not None and cog.level in _BONUS_LEVELS else 0.0
    prior = 0.40 * confidence + 0.20 * reinforcement + 0.25 * fresh + 0.15 * bonus
    penalty = 0.0
    parts = {"confidence": confidence, "reinforcement": reinforcement, "recency": fresh, "level_bonus": bonus,
             "prior": prior, **turn_form(memory, config)}
    if memory.is_raw_activity:
        raw = config.raw_penalty if include_raw else config.raw_penalty_excluded
        parts["raw_penalty"] = raw
        penalty += raw
    if memory.is_archived:
        parts["archived_penalty"] = config.archived_penalty
        penalty += config.archived_penalty
    if cog is not None and cog.resolution_status == rules.RESOLUTION_SUPERSEDED:
        parts["superseded_penalty"] = config.superseded_penalty
        penalty += config.superseded_penalty
    decay = decay_penalty(memory, now, config)
    if decay:
        parts["decay_penalty"] = decay
        penalty += decay
    parts["penalty"] = penalty
    return parts


def decay_penalty(memory: Memory, now: datetime, config: RankingConfig) -> float:
    """Upstream's memory decay (nothing before `decay_age_days`, a recent access resets
    the clock), scaled so its maximum is `decay_max_penalty`."""
    if not config.decay_enabled:
        return 0.0
    upstream = rules.decay_penalty(memory.created_at, memory.last_accessed, now, age_days=config.decay_age_days,
                                   access_boost_days=config.decay_access_boost_days)
    return round(upstream / _UPSTREAM_DECAY_MAX * config.decay_max_penalty, 6)


def max_prior_gain(config: RankingConfig) -> float:
    """The most the priors can raise a relevance (prior = 1, no penalty; the turn form only lowers)."""
    return config.prior_weight * 0.5


def final_score(parts: Mapping[str, float], config: RankingConfig) -> float:
    """relevance * form + prior_weight * (prior - 0.5) - penalty, clamped at -1."""
    score = parts["relevance"] * parts.get("form", 1.0) + config.prior_weight * (parts.get("prior", 0.5) - 0.5) - parts.get("penalty", 0.0)
    return max(score, -1.0)


def rank(
    relevance: Mapping[int, dict[str, float]],
    memories: Mapping[int, Memory],
    now: datetime,
    *,
    include_raw: bool,
    config: RankingConfig,
    limit: int,
    known_priors: Mapping[int, dict[str, float]] | None = None,
) -> list[tuple[int, float, dict[str, float]]]:
    """(memory id, final score, every component) best first; ties go to the lower id.
    `known_priors`: `priors` already computed for some of the memories (same `now`)."""
    out = []
    for mid, parts in relevance.items():
        memory = memories.get(mid)
        if memory is None:
            continue
        prior = known_priors.get(mid) if known_priors is not None else None
        if prior is None:
            prior = priors(memory, now, include_raw=include_raw, config=config)
        merged = {**parts, **prior}
        score = final_score(merged, config)
        merged["score"] = score
        out.append((mid, score, merged))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out[:limit]
