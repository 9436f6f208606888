"""Extractive rules (pure): what in an agent's activity is worth keeping as a fact, without an LLM.

The memory model (docs/architecture.md, "The memory loop") keeps every event whole as an episode;
these rules pick the lines of a tool's output that carry facts (hosts and ports, paths, versions,
config keys and values, error messages, test outcomes), tell a question from a statement, and
recognise rules, decisions, revisions and the command a failure and its fix share. They are
deliberately conservative: a line is kept because of its shape, never because of its topic, so
they hold on projects nobody wrote them for.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable
from typing import NamedTuple

#: At most this many lines (and characters) are extracted from one tool output.
MAX_LINES = 12
MAX_CHARS = 1200
LINE_CHARS = 240


class _LinePatterns(NamedTuple):
    key_value: re.Pattern[str]
    host_port: re.Pattern[str]
    url: re.Pattern[str]
    version: re.Pattern[str]
    path: re.Pattern[str]
    error: re.Pattern[str]
    outcome: re.Pattern[str]
    noise: re.Pattern[str]
    table_port: re.Pattern[str]
    named_number: re.Pattern[str]
    numbered_name: re.Pattern[str]


@functools.cache
def _lines() -> _LinePatterns:
    """The shapes of a fact-carrying line of tool output, compiled on first use: the prompt hook
    classifies what the user typed with the sentence patterns below and never reads a tool's output."""
    return _LinePatterns(
        key_value=re.compile(r"^\s*[\"']?[A-Za-z_][\w.\-\[\]]{1,60}[\"']?\s*(=|:)\s*\S"),
        host_port=re.compile(r"\b[a-z0-9][a-z0-9.\-]*:\d{2,5}\b|\b(?:\d{1,3}\.){3}\d{1,3}\b", re.I),
        url=re.compile(r"\b[a-z][a-z0-9+.\-]*://\S+", re.I),
        version=re.compile(r"(?<![\w.])v?\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?(?![\w.])"),
        path=re.compile(r"(?:^|[\s'\"(=:])(?:\.{0,2}/)?[\w.\-]+(?:/[\w.\-]+)*\.[A-Za-z][\w]{0,6}\b"),
        error=re.compile(r"\b(error|exception|traceback|failed|failure|fatal|denied|refused|not found|timed? ?out|"
                         r"cannot|can't|unable|invalid|missing|no such|panic)\b", re.I),
        outcome=re.compile(r"\b\d+ (passed|failed|errors?|skipped|warnings?|tests?)\b|\b(ok|FAILED|PASSED|SUCCESS)\b"
                           r"|\bexit(?:ed)? (?:code|status)\b", re.I),
        noise=re.compile(r"^[\s=\-_*#.~+|:\u2500-\u257f]*$|^\s*\.+[FEsx.]*\s*(\[\s*\d+%\])?$|^\s*(\d+%|\|[#=\s]+\|)"),
        table_port=re.compile(r"\d+->\d+/(tcp|udp)"),
        # Facts said in words: "the staging database is db-stage-7 on port 6543", "running release 4.2 in eu-west-1".
        named_number=re.compile(r"\b(port|version|release|build|region|pid|timeout|limit|size|id|node|python|"
                                r"postgres(?:ql)?|redis|java|go|ruby|rust)\s*:?\s*v?\d", re.I),
        numbered_name=re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d+[a-z]?\b", re.I),
    )


_QUESTION_START = re.compile(
    r"^(who|what|when|where|which|why|how|whose|whom|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"shall|may|might|have|has|had|am)\b", re.I)
_REQUEST_START = re.compile(r"^(can|could|would|will) you\b|^(please|pls)\b", re.I)
# A standing instruction starts a sentence with its verb ("Always use pnpm", "Never commit .env",
# "From now on ...", "Note for the future: ..."), or says what must or should always be done.
_RULE = re.compile(
    r"(?:^|[.!?;:]\s+|\n)\s*(?:please\s+)?(always|never|from now on|in (?:the )?future|going forward|don't|do not|"
    r"make sure|remember(?: that| to)?|note(?: for the future| that|:)|prefer|only use|avoid|stop using|use \S+ "
    r"(?:instead|only|rather)|please (?:use|run|keep|write|put|add|call))\b|"
    r"\b(?:we|you|i) (?:must|should|have to)(?: always| never| not)?\b|\b(?:i|we) (?:prefer|like to keep)\b|"
    r"\b(?:must|should) (?:always|never)\b", re.I)
_DECISION = re.compile(
    r"\b(decided|decision|we will|we'll|we are going to|going with|chose|choose|picked|instead of|rather than|"
    r"root cause|the fix|fixed|found it|turned out|the cause|because)\b", re.I)
_REVISION = re.compile(
    r"\b(no longer|not anymore|anymore|upgraded|downgraded|changed (?:to|from)|moved (?:to|from)|switched|"
    r"replaced|renamed|instead of|rather than|change of plan|(?:is|are|was|were) gone|dropped|drop the|removed|"
    r"deprecated|superseded|migrated|(?:is|are) now|now (?:uses?|runs?|points?|lives?|on|at|in))\b", re.I)
_TERM = re.compile(r"[a-z0-9][a-z0-9_]*(?:[.\-/][a-z0-9_]+)*", re.I)
_FILLER_TEXT = """a an and are as at be been by for from has have in into is it its of on or so that the
this to was were will with we our you your i my me they them their there here now then than also just
not no yes all any some one new old use uses used using run runs ran"""
_FILLER = frozenset(_FILLER_TEXT.split())
#: An older statement is revised when at least this share of its distinct terms recur in the revision.
REVISION_OVERLAP = 0.3


def is_question(text: str) -> bool:
    """A question asks; it holds no fact of its own. Requests ("can you ...") are instructions."""
    flat = " ".join(text.split())
    if not flat or _REQUEST_START.search(flat) or not _QUESTION_START.search(flat):
        return False
    if flat.endswith("?"):
        return len(flat) < 400 and flat.count(". ") == 0
    return len(flat) < 160 and "." not in flat.rstrip(".")


def is_rule(text: str) -> bool:
    """A standing instruction or preference of the user's ("always use pnpm", "never commit .env")."""
    return bool(_RULE.search(text))


def is_decision(text: str) -> bool:
    return bool(_DECISION.search(text))


def is_revision(text: str) -> bool:
    return bool(_REVISION.search(text))


#: Tools whose output is only a receipt ("the file has been updated"): what they changed is the episode.
EDIT_TOOLS = frozenset({"edit", "multiedit", "replace", "str_replace", "apply_patch", "edit_file", "patch", "write",
                        "write_file", "create_file", "notebookedit"})


def tool_facts(tool: str, command: str | None, target: str, output: str, failed: bool) -> str | None:
    """The fact lines of a tool's output as one line of text, headed by what ran; None when it holds none."""
    if tool.lower() in EDIT_TOOLS:
        return None
    lines = informative_lines(output)
    if not lines or not strong(lines):
        return None
    head = f"`{' '.join(command.split())[:200]}`" if command else f"{tool} {target}".strip()
    return f"{head}{' failed' if failed else ''}: " + "; ".join(lines)


def subject_terms(text: str) -> set[str]:
    """Distinct content terms of a statement (lowercased, light plural folding)."""
    out = set()
    for tok in _TERM.findall(text.lower()):
        if tok in _FILLER or len(tok) < 2:
            continue
        out.add(tok[:-1] if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss") else tok)
    return out


def revises(new: str, old: str) -> bool:
    """`new` (which says something changed) is about what `old` stated, so `old` is superseded.

    The revision must say that something changed ("is now", "no longer", "replaced", "change of
    plan", ...), and the older statement must be about the same thing: at least two of its terms,
    and a good share of them, recur in the revision. "Node is now 22.11.0; 20.18.1 is gone"
    revises "the project runs on Node 20.18.1" but not "the API listens on port 8080".
    """
    if not is_revision(new):
        return False
    o, n = subject_terms(old), subject_terms(new)
    shared = o & n
    return len(shared) >= 2 and len(shared) / max(len(o), 1) >= REVISION_OVERLAP


def _clip(line: str) -> str:
    flat = " ".join(line.split())
    return flat if len(flat) <= LINE_CHARS else flat[: LINE_CHARS - 1] + "…"


def line_weight(line: str) -> int:
    """How much fact a line carries (0 = none): one point per shape it has."""
    p = _lines()
    if not line.strip() or p.noise.match(line) or len(line.strip()) < 3:
        return 0
    weight = 0
    if p.key_value.match(line):
        weight += 2
    if p.host_port.search(line) or p.url.search(line) or p.table_port.search(line):
        weight += 2
    if p.version.search(line):
        weight += 1
    if p.named_number.search(line):
        weight += 2
    elif p.numbered_name.search(line):
        weight += 1
    if p.path.search(line):
        weight += 1
    if p.error.search(line):
        weight += 2
    if p.outcome.search(line):
        weight += 1
    return weight


def informative_lines(text: str, *, limit: int = MAX_LINES, max_chars: int = MAX_CHARS) -> list[str]:
    """The lines of `text` that carry facts, in their order, without repeats, within the caps.

    When more lines qualify than fit, the heaviest win (error lines and config lines first), and
    the output keeps their original order, so a traceback still reads top to bottom.
    """
    seen: set[str] = set()
    scored: list[tuple[int, int, str]] = []
    for n, raw in enumerate(text.splitlines()):
        w = line_weight(raw)
        if not w:
            continue
        line = _clip(raw)
        key = line.casefold()
        if key in seen:
            continue
        seen.add(key)
        scored.append((w, n, line))
    best = sorted(scored, key=lambda t: (-t[0], t[1]))
    kept: list[tuple[int, str]] = []
    used = 0
    for _w, n, line in best:
        if len(kept) >= limit or used + len(line) > max_chars:
            continue
        kept.append((n, line))
        used += len(line) + 2
    return [line for _n, line in sorted(kept)]


def strong(lines: Iterable[str]) -> bool:
    """At least one line worth a fact of its own (not only a path or a version number)."""
    return any(line_weight(line) >= 2 for line in lines)


def command_key(command: str) -> tuple[str, str] | None:
    """(program, first target) of a shell command, so a failure and its fix can be paired.

    `pytest tests/test_x.py::test_y -q` and `pytest tests/test_x.py` share ("pytest", "tests/test_x.py");
    env assignments, `sudo`, `python -m`, `npx` and friends are looked through. For a compound command
    (`a && b`) the last part counts: that is what ran last and what failed or passed.
    """
    parts = re.split(r"&&|\|\||;", command)
    text = parts[-1].strip() if parts else command
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in ("sudo", "env", "time",
                                                                                      "npx", "pnpx", "uv", "poetry")):
        if words[0] in ("uv", "poetry") and len(words) > 1 and words[1] == "run":
            words = words[2:]
            continue
        words = words[1:]
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    rest = words[1:]
    if program.startswith("python") and rest[:1] == ["-m"] and len(rest) > 1:
        program, rest = rest[1], rest[2:]
    target = next((w for w in rest if not w.startswith("-")), "")
    return program, target.split("::", 1)[0]
