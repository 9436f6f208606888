"""docs/cli.md documents every command and flag the argparse parser knows (sqlite-utils test_docs)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
CLI_DOC = REPO / "docs" / "cli.md"
#: Flags every command takes; documented once under "Global flags".
COMMON = {"--help", "--json", "--db", "--database-url"}


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        if prefix:
            yield prefix, parser
        return
    for action in subs:
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen:  # aliases point at the same parser
                continue
            seen.add(id(sub))
            yield from leaf_commands(sub, (*prefix, name))


def long_flags(parser: argparse.ArgumentParser) -> set[str]:
    out = set()
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and not (set(longs) & COMMON):
            out.add(longs[0])
    return out


def sections(text: str) -> dict[str, str]:
    """Heading text -> the body up to the next heading of the same or a higher level."""
    heads = [(m.start(), len(m.group(1)), m.group(2).strip()) for m in re.finditer(r"^(#+)\s+(.*)$", text, re.M)]
    out = {}
    for i, (start, level, title) in enumerate(heads):
        end = len(text)
        for nstart, nlevel, _ in heads[i + 1:]:
            if nlevel <= level:
                end = nstart
                break
        out[title] = text[start:end]
    return out


COMMANDS = sorted(leaf_commands(build_parser()), key=lambda c: c[0])


def test_the_parser_walk_finds_commands() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"store", "search", "list", "session start", "config show"} <= names


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_command_is_documented(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    doc = sections(CLI_DOC.read_text("utf-8"))
    title = f"`nexus {' '.join(path)}`"
    matches = [body for head, body in doc.items() if head.startswith(title)]
    assert matches, f"docs/cli.md has no heading starting with {title}"
    missing = sorted(f for f in long_flags(parser) if f not in matches[0])
    assert missing == [], f"{title}: flags not documented in its section: {missing}"


def test_global_flags_documented() -> None:
    text = CLI_DOC.read_text("utf-8")
    for flag in sorted(COMMON - {"--help"}):
        assert flag in text


def test_declared_commands_match_what_modules_register() -> None:
    """`COMMANDS` lets `nexus <cmd>` build one module's parsers; it must name exactly what it registers."""
    import importlib

    from nexus_memory.cli.main import COMMAND_MODULES

    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        declared = getattr(module, "COMMANDS", None)
        assert declared is not None, f"{name} must declare COMMANDS (else every `nexus` run builds its parsers)"
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        module.register(sub, argparse.ArgumentParser(add_help=False))
        assert sorted(declared) == sorted(sub.choices), name


def test_single_command_parser_equals_the_full_one() -> None:
    full = {" ".join(p) for p, _ in leaf_commands(build_parser())}
    for path, _ in COMMANDS:
        part = {" ".join(p) for p, _ in leaf_commands(build_parser(path[0]))}
        assert " ".join(path) in part and part <= full


def test_every_setting_is_documented() -> None:
    """docs/configuration.md names every variable config.py reads."""
    import ast
    import dataclasses

    from nexus_memory import config

    text = (REPO / "docs" / "configuration.md").read_text("utf-8")
    source = Path(config.__file__).read_text("utf-8")
    literals = {n.value for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and re.fullmatch(r"(NEXUS|XDG)_[A-Z_]+", n.value)}
    literals |= {f"NEXUS_COGNITION_{f.name.upper()}" for f in dataclasses.fields(config.CognitionSettings)}
    literals.discard("NEXUS_COGNITION_")
    assert len(literals) > 40
    missing = sorted(v for v in literals if f"`{v}`" not in text)
    assert missing == []
