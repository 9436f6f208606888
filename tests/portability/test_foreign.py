"""Importers for the MCP memory server's memory.jsonl and CLAUDE.md / AGENTS.md bullets."""

from __future__ import annotations

import json
from pathlib import Path

from nexus_memory.app import App
from nexus_memory.domain.enums import MemoryCategory
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.services.portability.foreign import (
    import_instructions,
    import_mcp_memory,
    instruction_bullets,
)
from tests.conftest import run_nexus

MCP_LINES = [
    {"type": "entity", "name": "Alice", "entityType": "person",
     "observations": ["Works on the billing service", "Prefers Go"]},
    {"type": "entity", "name": "Acme", "entityType": "organization", "observations": []},
    {"type": "relation", "from": "Alice", "to": "Acme", "relationType": "works_at"},
]

CLAUDE_MD = """# Project guide

Some prose that is not a bullet.

## Code style
- Use 4 spaces, never tabs
- Keep functions short;
  split anything over 40 lines
* [x] Type hints everywhere

```bash
- this is inside a code fence
```

### Testing
1. Run `make test` before every commit
2) Never mock the database
"""


def test_mcp_memory_jsonl(app: App, tmp_path: Path) -> None:
    path = tmp_path / "memory.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in MCP_LINES) + "\n{broken\n" +
                    json.dumps({"type": "entity", "observations": ["no name"]}) + "\n", "utf-8")
    report = import_mcp_memory(app.memories, path, agent="claude")
    assert (report.created, report.merged) == (4, 0)
    assert [n for n, _ in report.skipped] == [4, 5]
    contents = {m.content for m in app.store.list_memories(MemoryFilter(agents=("claude-code",)))}
    assert contents == {"Alice (person): Works on the billing service", "Alice (person): Prefers Go",
                        "Acme is a organization", "Alice works_at Acme"}
    alice = app.store.list_memories(MemoryFilter(labels=("entity:Alice",)))
    assert len(alice) == 3 and all(m.category is MemoryCategory.FACTS for m in alice)
    again = import_mcp_memory(app.memories, path, agent="claude-code")
    assert (again.created, again.merged) == (0, 4)
    assert app.store.count(MemoryFilter()) == 4


def test_instruction_bullets_parse_headings_continuations_and_fences() -> None:
    bullets = list(instruction_bullets(CLAUDE_MD))
    assert bullets == [
        (6, "Use 4 spaces, never tabs", "Project guide > Code style"),
        (7, "Keep functions short; split anything over 40 lines", "Project guide > Code style"),
        (9, "Type hints everywhere", "Project guide > Code style"),
        (16, "Run `make test` before every commit", "Project guide > Code style > Testing"),
        (17, "Never mock the database", "Project guide > Code style > Testing"),
    ]


def test_claude_md_becomes_preference_memories(app: App, tmp_path: Path) -> None:
    path = tmp_path / "CLAUDE.md"
    path.write_text(CLAUDE_MD, "utf-8")
    report = import_instructions(app.memories, path, agent="claude-code")
    assert report.created == 5
    prefs = app.store.list_memories(MemoryFilter(categories=(MemoryCategory.PREFERENCES,)), order="oldest")
    assert len(prefs) == 5 and prefs[0].content == "Use 4 spaces, never tabs"
    assert set(prefs[0].labels) == {"preference", "imported", "source:CLAUDE.md"}
    assert prefs[-1].context == "CLAUDE.md > Project guide > Code style > Testing"
    assert import_instructions(app.memories, path, agent="claude-code").created == 0


def test_cli_guesses_the_format(tmp_path: Path) -> None:
    mcp = tmp_path / "memory.jsonl"
    mcp.write_text("\n".join(json.dumps(x) for x in MCP_LINES) + "\n", "utf-8")
    done = run_nexus("import", str(mcp), "--agent", "codex", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 4
    agents_md = tmp_path / "AGENTS.md"
    agents_md.write_text("- Always answer in English\n", "utf-8")
    done = run_nexus("import", str(agents_md), "--agent", "codex")
    assert done.returncode == 0 and "1 memories created" in done.stdout
    listed = json.loads(run_nexus("list", "--agent", "codex", "-g", "preferences", "--json").stdout)
    assert [m["content"] for m in listed["memories"]] == ["Always answer in English"]
