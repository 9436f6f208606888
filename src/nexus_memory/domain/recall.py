"""Recall rules (pure): is a memory relevant to a prompt, and which part of it to show.

The per-prompt bar is lexical evidence weighted by rarity: each query term counts by its inverse
document frequency in the whole store, and a memory must hold enough of the query's weight. A
question whose distinctive words the store has never seen ("what is the Kubernetes namespace?" in
a project without Kubernetes) leaves every memory below the bar, so nothing is injected; common
words ("service", "port") alone never carry a memory over it. A semantic signal (the cosine of a
hybrid hit) can carry a paraphrase over the bar on its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9][a-z0-9_]*(?:[.\-][a-z0-9_]+)*", re.I)
_HUMP = re.compile(r"[a-z0-9][A-Z]")  # a lower letter or digit then a capital: camelCase, not `URL`, `Node`
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_STOP_TEXT = """
a about above after again against all am an and any are aren't as at be because been before being below between
both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each few for from
further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself his
how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
not of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll she's should
shouldn't so some such than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're we've were
weren't what what's when when's where where's which while who who's whom why why's with won't would wouldn't you
you'd you'll you're you've your yours yourself yourselves also just get got use used using make made please need
want tell know think like thing things anything something did does done last time ever still now yes okay ok hey
hi thanks thank really much many one two lot bit way well back go going went gone come came take took give gave
see saw look looked find found let us via per etc
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def stem(word: str) -> str:
    """A light English stemmer: enough to match "databases" with "database" and "timing" with "time"."""
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("edly", ""), ("ed", ""), ("ly", ""),
                         ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss" if suffix == "s" else "\0"):
            w = w[: len(w) - len(suffix)] + repl
            break
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "lsz":  # running -> runn -> run
        w = w[:-1]
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def tokens(text: str, *, camel: bool = False) -> list[str]:
    """Words and compound tokens (`db-stage-7`, `settings.yaml`, `DB_HOST`), lowercased, with their
    parts; with `camel`, the parts of camelCase identifiers too (a memory's `minSdk` holds `min` and
    `sdk`: the question says "SDK"). Queries keep their words whole: their weights stay as tuned."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        raw = m.group(0)
        tok = raw.lower()
        out.append(tok)
        pieces = [p for p in re.split(r"[._\-]", raw) if p] if any(c in tok for c in "._-") else [raw]
        for piece in pieces:
            if len(pieces) > 1:
                out.append(piece.lower())
            humps = [c for c in _CAMEL.findall(piece) if len(c) > 1] if camel and _HUMP.search(piece) else []
            if len(humps) > 1:
                out.extend(c.lower() for c in humps)
    return out


def query_terms(text: str) -> list[str]:
    """Distinct stems of the content words of a query, in order."""
    seen: dict[str, None] = {}
    for tok in tokens(text):
        if tok in STOP_WORDS or len(tok) < 2:
            continue
        seen.setdefault(stem(tok), None)
    return list(seen)


def term_set(text: str) -> set[str]:
    """The stems a memory's text holds (camelCase identifiers with their parts)."""
    return {stem(t) for t in tokens(text, camel=True)}


def idf(total: int, df: int) -> float:
    """BM25's inverse document frequency, never below a small floor."""
    n = max(total, 1)
    return max(math.log(1.0 + (n - df + 0.5) / (df + 0.5)), 0.05)


def weights(terms: list[str], total: int, df: Mapping[str, int]) -> dict[str, float]:
    return {t: idf(total, int(df.get(t, 0))) for t in terms}


def coverage(query: Mapping[str, float], memory_terms: set[str]) -> float:
    """Share of the query's rarity-weighted terms that the memory holds (0..1)."""
    total = sum(query.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in query.items() if t in memory_terms) / total


@dataclass(frozen=True, slots=True)
class Bar:
    """When a memory is relevant to a prompt. Tuned on bench/loop.py (docs/architecture.md)."""

    #: Share of the query's IDF weight a memory must hold on words alone (bench/loop.py: 0.25 keeps
    #: every unanswerable probe out; 0.2 lets one in, 0.3 loses a tenth of the evidence).
    lexical: float = 0.25
    #: Cosine (MiniLM, query vs memory) that counts as relevant with few or no shared words.
    semantic: float = 0.62
    #: Lexical share that, with a cosine of at least `semantic_support`, also counts.
    lexical_with_support: float = 0.3
    semantic_support: float = 0.45

    def passes(self, cover: float, cosine: float | None) -> bool:
        if cover >= self.lexical:
            return True
        if cosine is None:
            return False
        return cosine >= self.semantic or (cover >= self.lexical_with_support and cosine >= self.semantic_support)


#: The bar once an agent's daily token cap is spent (domain/costs.py): only a memory that holds most
#: of what the prompt asks about, or one very close in meaning, is still worth its tokens.
STRICT = Bar(lexical=0.6, semantic=0.75, lexical_with_support=0.5, semantic_support=0.65)


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`$(\[])|\n+")


def snippet(text: str, query: Mapping[str, float], width: int) -> str:
    """The most relevant part of `text` within `width` characters, on one line.

    A long memory (a tool's output, a long finding) is cut to the window of sentences or lines
    that holds the most query weight; its first line (the command, the file) is kept as a head
    when it fits, so the reader knows where the lines come from.
    """
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    parts = [p.strip() for p in _SENTENCE.split(text) if p.strip()]
    if len(parts) <= 1:
        return flat[: width - 1] + "…"
    scores = [sum(w for t, w in query.items() if t in term_set(p)) for p in parts]
    best_score, best = -1.0, (0, 1)
    for i in range(len(parts)):
        used, score = 0, 0.0
        for j in range(i, len(parts)):
            used += len(parts[j]) + 1
            if used > width and j > i:
                break
            score += scores[j]
            if score > best_score:
                best_score, best = score, (i, j + 1)
    i, j = best
    body = " ".join(" ".join(p.split()) for p in parts[i:j])
    head = " ".join(parts[0].split()) if i > 0 else ""
    if head and len(head) + len(body) + 3 <= width:
        body = f"{head} … {body}"
    elif i > 0:
        body = "… " + body
    if j < len(parts):
        body += " …"
    return body if len(body) <= width else body[: width - 1] + "…"
