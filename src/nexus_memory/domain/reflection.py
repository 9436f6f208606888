"""Reflection rules: when two statements reinforce or contradict each other (pure, stdlib only).

Upstream (reference 5.6, defect 12) compared case-sensitive whitespace tokens,
pair by pair. Here:

* tokens are Unicode-normalised, case-folded, apostrophes folded ("don't" ->
  "dont") and lightly stemmed, and stop words are ignored for similarity;
* candidate pairs come from an inverted index over the tokens (plus any pairs
  the embedding layer found), so a thousand memories do not mean half a
  million comparisons;
* a contradiction needs real overlap plus one of: a negation whose scope
  covers a term the other statement asserts, an antonym swap
  (enabled/disabled, always/never, ...), or the same statement with different
  numbers ("pool size 10" vs "pool size 20");
* with embeddings, paraphrases count as reinforcement (cosine >= 0.86) and a
  close paraphrase with opposite polarity counts as a contradiction.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

REINFORCE_JACCARD = 0.80
CONTRADICT_JACCARD = 0.30
INSIGHT_JACCARD = 0.55
REINFORCE_COSINE = 0.86
CONTRADICT_COSINE = 0.72
INSIGHT_COSINE = 0.80
NEGATION_SCOPE = 3

NEGATIONS = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without",
    "dont", "doesnt", "didnt", "cant", "wont", "isnt", "arent", "wasnt", "werent", "shouldnt",
    "wouldnt", "couldnt", "hasnt", "havent", "hadnt", "mustnt", "stop", "stopped", "avoid",
    "instead", "longer", "removed", "dropped", "replaced", "abandoned", "deprecated",
})

# Pairs of words that flip a statement. Both directions are looked up.
_ANTONYMS = (
    ("enabled", "disabled"), ("enable", "disable"), ("true", "false"), ("on", "off"),
    ("allow", "deny"), ("allowed", "forbidden"), ("include", "exclude"),
    ("increase", "decrease"), ("accept", "reject"), ("success", "failure"), ("pass", "fail"),
    ("passes", "fails"), ("valid", "invalid"), ("sync", "async"), ("synchronous", "asynchronous"),
    ("before", "after"), ("required", "optional"), ("public", "private"), ("tabs", "spaces"),
    ("fixed", "broken"), ("works", "broken"), ("safe", "unsafe"), ("like", "dislike"),
    ("stateless", "stateful"), ("mutable", "immutable"),
)
ANTONYMS: dict[str, frozenset[str]] = {}
for _a, _b in _ANTONYMS:
    ANTONYMS[_a] = ANTONYMS.get(_a, frozenset()) | {_b}
    ANTONYMS[_b] = ANTONYMS.get(_b, frozenset()) | {_a}

STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "up", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your", "also", "just", "very", "really", "now"]
)

_WORD = re.compile(r"[^\W_]+(?:[.+#][^\W_]+)*|[.;:!?]", re.UNICODE)
CLAUSE = "|"
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def _stem(token: str) -> str:
    """A deliberately small stemmer: plural and -ing/-ed endings, applied to both sides alike."""
    if len(token) <= 3 or _NUMBER.match(token):
        return token
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            if suffix == "s" and token.endswith("ss"):
                continue
            return token[: -len(suffix)] + repl
    return token


def tokens(text: str) -> list[str]:
    """Normalised word tokens in order; negations kept, clause ends marked with CLAUSE."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("'", "").replace("\u2019", "").replace("`", "")
    out: list[str] = []
    for raw in _WORD.findall(folded):
        if raw in ".;:!?":
            out.append(CLAUSE)
            continue
        tok = raw.strip(".+#") or raw
        out.append(tok if tok in NEGATIONS or tok in ANTONYMS else _stem(tok))
    return out


@dataclass(frozen=True, slots=True)
class Statement:
    """Precomputed features of one memory's text."""

    key: int
    content: frozenset[str]
    negated: frozenset[str]
    numbers: frozenset[str]
    polar: frozenset[str]
    created: float = 0.0
    negative: bool = False  # a negation word anywhere

    @property
    def has_negation(self) -> bool:
        return bool(self.negated)


def analyse(key: int, text: str, created: float = 0.0) -> Statement:
    toks = tokens(text)
    content: set[str] = set()
    negated: set[str] = set()
    numbers: set[str] = set()
    polar: set[str] = set()
    asserted: set[str] = set()
    scope = 0
    for tok in toks:
        if tok == CLAUSE:
            scope = 0
            continue
        if tok in NEGATIONS:
            scope = NEGATION_SCOPE
            continue
        if tok in ANTONYMS:
            polar.add(tok)
        if tok in STOP_WORDS:
            continue
        if _NUMBER.match(tok):
            numbers.add(tok)
        content.add(tok)
        if scope > 0:
            negated.add(tok)
            scope -= 1
        else:
            asserted.add(tok)
    # A term negated in one clause and asserted in another ("not tabs; use spaces") is not negated.
    negated -= asserted
    negative = any(tok in NEGATIONS for tok in toks)
    return Statement(key, frozenset(content), frozenset(negated), frozenset(numbers), frozenset(polar), created,
                     negative)


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) if inter else 0.0


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared terms over the smaller side; 0 unless at least two terms are shared."""
    inter = len(a & b)
    if inter < 2:
        return 0.0
    return inter / min(len(a), len(b))


def _words(st: Statement) -> frozenset[str]:
    return st.content - st.numbers


def conflict_reason(a: Statement, b: Statement) -> str | None:
    """Why two overlapping statements disagree, or None."""
    # A negation in one covers a term the other asserts without negating it.
    if (a.negated & (b.content - b.negated)) or (b.negated & (a.content - a.negated)):
        return "negation"
    # An antonym swap: one says enabled, the other disabled.
    for word in a.polar - b.polar:
        flips = ANTONYMS[word]
        if flips & b.polar and not flips & a.polar:
            return "antonym"
    # Same statement, different numbers: "pool size 10" vs "pool size 20 after the load test".
    # The shorter statement's words must all appear in the longer one, so "the CLI uses 20 workers"
    # does not conflict with "the billing service uses 10 workers".
    if a.numbers and b.numbers and a.numbers != b.numbers:
        wa, wb = _words(a), _words(b)
        small, large = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
        if len(small) >= 2 and small <= large and not (a.numbers <= b.numbers or b.numbers <= a.numbers):
            return "value"
    return None


REINFORCEMENT = "reinforcement"
CONTRADICTION = "contradiction"
RELATED = "related"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str  # reinforcement | contradiction | related
    similarity: float
    reason: str


def classify(a: Statement, b: Statement, cosine: float | None = None) -> Verdict | None:
    """Reinforcement, contradiction, a related pair (insight edges) or nothing."""
    sim = jaccard(a.content, b.content)
    close = (sim >= CONTRADICT_JACCARD or overlap(a.content, b.content) >= 0.5
             or (cosine or 0.0) >= CONTRADICT_COSINE)
    conflict = conflict_reason(a, b) if close else None
    if conflict is None and cosine is not None and cosine >= REINFORCE_COSINE and a.negative != b.negative:
        # The same meaning by the vectors, opposite polarity by the words: a paraphrased contradiction.
        conflict = "polarity"
    if conflict is not None:
        return Verdict(CONTRADICTION, max(sim, cosine or 0.0), conflict)
    if sim >= REINFORCE_JACCARD:
        return Verdict(REINFORCEMENT, sim, "token overlap")
    if cosine is not None and cosine >= REINFORCE_COSINE:
        return Verdict(REINFORCEMENT, cosine, "paraphrase")
    if sim >= INSIGHT_JACCARD or (cosine is not None and cosine >= INSIGHT_COSINE):
        return Verdict(RELATED, max(sim, cosine or 0.0), "related")
    return None


def shared_counts(
    statements: Sequence[Statement],
    *,
    max_df_ratio: float = 0.2,
    min_df_cap: int = 50,
) -> dict[tuple[int, int], int]:
    """(i, j), i < j -> number of informative tokens the two statements share.

    Tokens carried by more than `max(min_df_cap, n * max_df_ratio)` statements are
    too common to find anything and are skipped; a pair that only shares such
    tokens cannot reach the contradiction overlap anyway.
    """
    n = len(statements)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, st in enumerate(statements):
        for tok in st.content:
            postings[tok].append(i)
    cap = max(min_df_cap, int(n * max_df_ratio))
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for members in postings.values():
        if len(members) < 2 or len(members) > cap:
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                counts[(i, j)] += 1
    return counts


def candidate_pairs(
    statements: Sequence[Statement],
    *,
    extra: Iterable[tuple[int, int]] = (),
) -> set[tuple[int, int]]:
    """Pairs that could be anything but unrelated: enough shared tokens to reach a threshold, plus `extra`."""
    sizes = [len(st.content) for st in statements]
    pairs: set[tuple[int, int]] = set()
    for (i, j), inter in shared_counts(statements).items():
        if inter < 2 and sizes[i] + sizes[j] > 3 * inter / CONTRADICT_JACCARD:
            continue  # one shared term among many: neither threshold can be reached
        a, b = sizes[i], sizes[j]
        union = a + b - inter
        if (union and inter / union >= CONTRADICT_JACCARD) or (inter >= 2 and inter / min(a, b) >= 0.5):
            pairs.add((i, j))
    for i, j in extra:
        if i != j:
            pairs.add((min(i, j), max(i, j)))
    return pairs


@dataclass(slots=True)
class PairFinding:
    left: int  # index into the statement list
    right: int
    verdict: Verdict


@dataclass(slots=True)
class ReflectionPlan:
    reinforcements: list[PairFinding] = field(default_factory=list)
    contradictions: list[PairFinding] = field(default_factory=list)
    related: list[PairFinding] = field(default_factory=list)
    pairs_compared: int = 0

    def components(self, n: int, min_size: int = 3) -> list[list[int]]:
        """Connected components (by index) over reinforcement and related edges."""
        parent = list(range(n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for f in (*self.reinforcements, *self.related):
            ra, rb = find(f.left), find(f.right)
            if ra != rb:
                parent[ra] = rb
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(n):
            groups[find(i)].append(i)
        return [sorted(g) for g in groups.values() if len(g) >= min_size]


def plan_reflection(
    statements: Sequence[Statement],
    cosines: Mapping[tuple[int, int], float] | None = None,
) -> ReflectionPlan:
    """Classify every candidate pair once; `cosines` maps (i, j), i < j, to embedding similarity."""
    cos = cosines or {}
    plan = ReflectionPlan()
    pairs = candidate_pairs(statements, extra=cos.keys())
    plan.pairs_compared = len(pairs)
    for i, j in sorted(pairs):
        verdict = classify(statements[i], statements[j], cos.get((i, j)))
        if verdict is None:
            continue
        finding = PairFinding(i, j, verdict)
        if verdict.kind == REINFORCEMENT:
            plan.reinforcements.append(finding)
        elif verdict.kind == CONTRADICTION:
            plan.contradictions.append(finding)
        else:
            plan.related.append(finding)
    return plan


def insight_confidence(size: int) -> float:
    """Upstream: min(0.72 + 0.05 * (size - 3), 0.92)."""
    return min(0.72 + 0.05 * (size - 3), 0.92)


__all__ = [
    "CONTRADICTION",
    "REINFORCEMENT",
    "Statement",
    "Verdict",
    "analyse",
    "candidate_pairs",
    "classify",
    "conflict_reason",
    "insight_confidence",
    "jaccard",
    "plan_reflection",
    "tokens",
]
