"""Recall rules (pure): is a memory relevant to a prompt, and which part of it to show.

The per-prompt bar is lexical evidence weighted by rarity: each query term counts by its inverse
document frequency in the whole store, and a memory must hold enough of the query's weight. A
question whose distinctive words the store has never seen ("what is the Kubernetes namespace?" in
a project without Kubernetes) leaves every memory below the bar, so nothing is injected; common
words ("service", "port") alone never carry a memory over it. A semantic signal (the cosine of a
hybrid hit) can carry a paraphrase over the bar on its own.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import NamedTuple

from nexus_memory.domain.agents import is_agent_name

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


class Bar(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """When a memory is relevant to a prompt. Tuned on bench/loop.py (docs/architecture.md)."""

    #: Share of the query's IDF weight a memory must hold on words alone (bench/loop.py: 0.25 keeps
    #: every unanswerable probe out; 0.2 lets one in, 0.3 loses a tenth of the evidence).
    lexical: float = 0.25
    #: Cosine (MiniLM, query vs memory) that counts as relevant with few or no shared words.
    semantic: float = 0.62
    #: Lexical share that, with a cosine of at least `semantic_support`, also counts.
    lexical_with_support: float = 0.3
    semantic_support: float = 0.45
    #: A "what/which X" question's X must be held too (`Focus`): the subject alone is a near miss.
    focus: bool = True
    #: A wh-question's names (`names`) that no memory of the project holds leave only close cosines.
    names: bool = True

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


# What a question asks for ----------------------------------------------------------------------
# A near miss shares a question's subject and lacks what it asks: "which terraform version is pinned?"
# against "the terraform state lives in acme-tf-state-eu". Word coverage cannot tell the two apart
# (the subject is the rarest word), so a "what/which" question's asked-for noun, its *focus*, must be
# held by a memory too: the word itself, a value shaped like its answer (a version for "version", a
# number for "port"), a related word, or, with a model, a close cosine.


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_Q_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./']*")
_AUX = _set("is are was were does do did has have had can could should will would may might must am be "
            "isn't aren't wasn't weren't doesn't don't didn't hasn't haven't hadn't can't couldn't shouldn't won't "
            "wouldn't")
_COPULA = frozenset({"is", "are", "was", "were"})
_DETERMINERS = _set("the a an our this that these those its my your their his her any some")
_NP_END = _set("of for in on at to from with by about into over under between during after before than as per "
               "that which who whom we i you they he she it")
#: Heads that name the thing itself ("which Redis instance", "what feature flag service"): the words
#: before them are what is asked, and a memory naming those is on point.
_GENERIC_WORDS = """instance service tool system server library package framework one thing app application program
    platform provider solution approach way method option setting setup product software"""
#: "what kind of music": the noun after `of` is the focus.
_KIND = _set("kind type sort brand genre style form aspect part piece")
#: What an answer to "which <head>" looks like when it does not repeat the head word: shape -> (pattern,
#: flags, the heads that take it). Compiled when a question asks for one (a hook is a fresh process).
_SHAPES: dict[str, tuple[str, int, str]] = {
    # a number alone or with its unit ("45 seconds", "300ms", "5%"), not a digit in a name ("eu-west-3")
    "number": (r"(?<![\w.-])\d+(?:[.,]\d+)*(?:[a-z]{1,7}|%)?(?![\w-])", re.I,
               "number count limit size rate timeout ttl period duration interval delay threshold quota maximum "
               "minimum max min amount percentage percent level age price cost budget length capacity retention"),
    # a version ("1.9.8", "v22.11") or a revision id (a short hash: "9d04be", "3f2a9c1")
    "version": (r"\bv?\d+\.\d+|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,40}\b", re.I,
                "version release revision commit tag sha hash"),
    "port": (r"(?<![\w.-])\d{2,5}(?![\w.-])", 0, "port"),
    "host": (r"[a-z0-9][a-z0-9-]*\.[a-z0-9.-]*[a-z]|://|localhost|\b\d{1,3}(?:\.\d{1,3}){3}\b", re.I,
             "host hostname address url endpoint domain registry mirror bucket database db cluster ip"),
    "command": (r"`[^`]+`|^\s*\$ \S", re.M, "command"),
    "path": (r"[\w.-]*/[\w./-]+|\b\w+\.[a-z]{1,5}\b", re.I,
             "path file folder directory dir location module script config"),
    "date": (r"\b\d{4}-\d\d-\d\d\b|\b\d{1,2}[/.]\d{1,2}\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
             r"[a-z]*\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\b(?:19|20)\d\d\b", re.I,
             "date day deadline month year birthday anniversary when time"),
    "name": (r"\b[A-Z][a-z]{2,}", 0,
             "name person city country state place team company organization band author artist owner maintainer"),
}


@functools.cache
def _tables() -> tuple[dict[str, str], frozenset[str]]:
    """(head stem -> its answer shape, the generic heads' stems), built on first use."""
    shapes = {stem(w): name for name, (_, _, heads) in _SHAPES.items() for w in heads.split()}
    return shapes, frozenset(stem(w) for w in _GENERIC_WORDS.split())


@functools.cache
def shape_pattern(name: str) -> re.Pattern[str]:
    pattern, flags, _ = _SHAPES[name]
    return re.compile(pattern, flags)


class Focus(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """The noun a "what/which" question asks for (a stem), and what an answer to it looks like."""

    head: str
    #: The kind of value that answers it (`_SHAPES`: number, version, port, host, ...), if any.
    shape: str | None = None
    #: The words before the head ("task" of "task queue"): a compound that names a kind of thing.
    modifiers: tuple[str, ...] = ()
    #: Other stems of the head word ("names" stems to `nam`, "name" to `name`).
    forms: tuple[str, ...] = ()

    def held(self, memory_terms: set[str], text: str) -> bool:
        """The memory names the head, holds a value shaped like its answer, or, for a compound whose
        head has no such shape ("which task queue"), names all its modifiers (a thing, not an
        attribute of one: "which terraform version" needs a version)."""
        if self.head in memory_terms or any(f in memory_terms for f in self.forms):
            return True
        if self.shape is not None:
            return shape_pattern(self.shape).search(text) is not None
        return bool(self.modifiers) and all(m in memory_terms for m in self.modifiers)


def focus(question: str) -> Focus | None:
    """The asked-for noun of a "what/which" question when it names an *attribute*; None otherwise.

    The noun phrase after the question word ends at an auxiliary, a preposition, a pronoun or a new
    subject (a capitalised name after a common noun: "the reason Audrey couldn't ..."), or before a
    verb that takes an object ("which bucket stores the backups"); its last word is the head. A
    possessive moves the phrase on ("Caroline's identity"); "what kind of X" asks for X.

    Only an attribute is a focus: a head whose answers have a shape (a version, a port, a number, a
    host, a path, a date), or one the question ties to its subject with `of`/`for` ("what is the
    retry policy for partner webhooks?"). A class of things ("what activities does Melanie do?",
    "which Redis instance") is answered by its members, which seldom name the class: the question's
    words stay the only test there.
    """
    cased = _Q_WORD.findall(question)
    words = [w.lower() for w in cased]
    try:
        i = next(k for k, w in enumerate(words) if w in ("what", "which", "what's", "whats"))
    except StopIteration:
        return None
    rest, rest_cased = words[i + 1:], cased[i + 1:]
    if words[i] in ("what's", "whats"):
        rest, rest_cased = ["is", *rest], ["is", *rest_cased]
    if not rest:
        return None
    copula = False
    if rest[0] in _AUX:
        if rest[0] not in _COPULA:
            return None  # "what does X use": asks about a verb's object; the words are the test
        rest, rest_cased, copula = rest[1:], rest_cased[1:], True
    elif len(rest) > 1 and rest[1] in _DETERMINERS:
        return None  # "what broke the build": a verb, not a noun, follows the question word
    if rest and rest[0] in _DETERMINERS:
        rest, rest_cased = rest[1:], rest_cased[1:]
    phrase: list[str] = []
    tied = False  # the phrase is tied to a subject: "the X of/for S", "S's X"
    for k, w in enumerate(rest):
        if w in _AUX or w in _NP_END:
            if w == "of" and phrase and phrase[-1] in _KIND:
                phrase = []  # "what kind of music": the focus is what follows
                continue
            tied = copula and w in ("of", "for")
            break
        if phrase and k + 1 < len(rest) and rest[k + 1] in _DETERMINERS:
            break  # "which bucket stores the ...": `stores` is the verb
        if phrase and rest_cased[k][:1].isupper() and rest_cased[k - 1][:1].islower():
            break  # "the reason Audrey couldn't ...": a new subject
        if w.endswith("'s"):
            phrase, tied = [], True  # a possessive: "Caroline's identity" asks for the identity
            continue
        phrase.append(w)
    phrase = [w for w in phrase if w not in STOP_WORDS and not w.isdigit()]
    if not phrase:
        return None
    word = phrase[-1]
    forms = tuple(dict.fromkeys(stem(w) for w in (word, word.rstrip("'"), word.rstrip("'s"), word + "s")))
    head = forms[0]
    shapes, generic = _tables()
    if any(f in generic for f in forms) or word in _KIND:
        return None
    shape = next((shapes[f] for f in forms if f in shapes), None)
    if shape is None and not tied:
        return None  # a class of things, not an attribute
    return Focus(head, shape, tuple(stem(w) for w in phrase[:-1]), forms[1:])


# Names the project has never mentioned --------------------------------------------------------
# "which feature flag service does the iOS app use?" in a project whose memories never say iOS: the
# other words ("feature", "flag") find notes on a `feature_flags` module, and they clear the bar. A
# name (a word written with a capital inside the sentence: iOS, GraphQL, Kubernetes, Vivaldi) picks
# out one thing; a memory without it is about something else, and a related word is no stand-in
# (a name's neighbours are its rivals: android for ios, madrid for barcelona).

_WH = _set("what which where who whom whose when how why what's whats")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)")


def names(prompt: str) -> tuple[str, ...]:
    """The names a one-sentence wh-question uses, lowercased: words with a capital letter that do not
    start it (`iOS`, `GraphQL`, the parts of `Witcher-inspired`), letters only, no stop words, months
    or weekdays. Empty for anything else: a task, several sentences, a yes/no question ("does the app
    use Sentry?" is answered by the memory of what it uses instead)."""
    text = prompt.strip()
    if not text or len([s for s in _SENTENCE_END.split(text) if s.strip()]) != 1:
        return ()
    words = _Q_WORD.findall(text)
    if not words or words[0].lower() not in _WH:
        return ()
    out: dict[str, None] = {}
    for word in words[1:]:
        for part in word.split("-"):
            part = re.sub(r"'s?$", "", part).rstrip(".")
            if len(part) < 2 or not part.isalpha() or part == part.lower() or part.lower() in STOP_WORDS:
                continue
            if shape_pattern("date").fullmatch(part):
                continue  # May, Friday: when things happened, not what they are
            if is_agent_name(part) or part.lower() == "nexus":
                continue  # "what did Codex find?": the agents are who made the memories, not in their words
            out.setdefault(part.lower(), None)
    return tuple(out)
