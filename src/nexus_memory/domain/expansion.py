"""Related words for per-prompt recall without a model (pure): which words a prompt's words stand
for, and how much of the prompt a memory covers when related words count.

Without `nexus serve` the hook has no cosine (loading onnxruntime and MiniLM costs ~250 ms, more
than a prompt hook may take), so only shared words count, and a paraphrase ("which host holds
the pre-production DB?" for "staging database: db-stage-7.internal") shares none. A table of
word neighbours, computed offline from the same model (embeddings/lexicon.py,
scripts/build_lexicon.py), stands in: each content word of the prompt brings its nearest words.
They serve twice:
- retrieval: a second full-text query of the related words finds memories that share no word
  with the prompt (the hook appends those hits after the plain ones);
- the bar: a memory that lacks a query term but holds a related word gets part of that term's
  weight, `weight * similarity`, so it counts less than the word itself. A memory must then hold
  `Expansion.bar` of the prompt's weight, higher than the lexical bar, since related words are
  weaker evidence (a sibling, "blue" for "red", is as near as a synonym in such a table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from nexus_memory.domain.recall import STOP_WORDS, stem, tokens

#: word -> its neighbours (word, cosine), best first: what a lexicon lookup returns.
Lookup = Callable[[Sequence[str]], Mapping[str, Sequence[tuple[str, float]]]]


@dataclass(frozen=True, slots=True)
class Related:
    stem: str
    word: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Expansion:
    """Each query term (a stem) -> the related words that may stand in for it."""

    related: Mapping[str, tuple[Related, ...]] = field(default_factory=dict)
    #: A compound term (`pre-production`) -> its parts' stems: it is held as much as its parts are.
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: What a related word is worth, times its similarity, against the word itself (1.0).
    weight: float = 0.6
    #: Share of the query's weight a memory must hold when related words count.
    bar: float = 0.35

    def __bool__(self) -> bool:
        return any(self.related.values())

    def words(self, limit: int = 24) -> list[str]:
        """The related words to search for, the most similar first, one per stem."""
        best: dict[str, Related] = {}
        for rel in (r for rs in self.related.values() for r in rs):
            if rel.stem not in best or rel.similarity > best[rel.stem].similarity:
                best[rel.stem] = rel
        return [r.word for r in sorted(best.values(), key=lambda r: (-r.similarity, r.word))][:limit]

    def credit(self, term: str, memory_terms: set[str]) -> float:
        """What the memory holds of one query term: 1 for the term, else its best related word."""
        if term in memory_terms:
            return 1.0
        parts = self.parts.get(term)
        if parts:
            return sum(self.credit(p, memory_terms) for p in parts) / len(parts)
        return max((self.weight * r.similarity for r in self.related.get(term, ()) if r.stem in memory_terms),
                   default=0.0)

    def coverage(self, query: Mapping[str, float], memory_terms: set[str]) -> float:
        """Share of the query's rarity-weighted terms the memory holds, related words counted (0..1)."""
        total = sum(query.values())
        if total <= 0:
            return 0.0
        return sum(w * self.credit(t, memory_terms) for t, w in query.items()) / total

    def passes(self, query: Mapping[str, float], memory_terms: set[str]) -> bool:
        return self.coverage(query, memory_terms) >= self.bar


def expand(text: str, terms: Iterable[str], lookup: Lookup, *, min_similarity: float = 0.6, per_term: int = 4,
           weight: float = 0.6, bar: float = 0.35) -> Expansion:
    """The related words of the query's terms: each content word of `text` (and its parts) is looked
    up as written, then as its stem; a neighbour that is itself a query term, a stop word or the
    same stem is left out (it already counts in full)."""
    wanted = set(terms)
    surface: dict[str, list[str]] = {}
    parts: dict[str, tuple[str, ...]] = {}
    for tok in tokens(text):
        if not tok.isalnum() and stem(tok) in wanted:
            pieces = tuple(dict.fromkeys(stem(p) for p in re.split(r"[.\-_]", tok) if p and stem(p) in wanted))
            if pieces:
                parts[stem(tok)] = pieces
        if tok in STOP_WORDS or len(tok) < 2 or not tok.isalpha():
            continue
        term = stem(tok)
        if term in wanted:
            forms = surface.setdefault(term, [])
            for form in (tok, term):
                if form not in forms:
                    forms.append(form)
    if not surface:
        return Expansion(parts=parts, weight=weight, bar=bar)
    found = lookup(sorted({f for forms in surface.values() for f in forms}))
    related: dict[str, tuple[Related, ...]] = {}
    for term, forms in surface.items():
        best: dict[str, Related] = {}
        for form in forms:
            for word, sim in found.get(form, ()):
                s = stem(word)
                if sim < min_similarity or s in wanted or word in STOP_WORDS:
                    continue
                if s not in best or sim > best[s].similarity:
                    best[s] = Related(s, word, sim)
        if best:
            related[term] = tuple(sorted(best.values(), key=lambda r: -r.similarity)[:per_term])
    return Expansion(related, parts, weight=weight, bar=bar)
