"""Surgical JSON/TOML/text edits: only our members change, the rest stays byte-for-byte."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nexus_memory.errors import IntegrationError
from nexus_memory.integrations.settings_file import BACKUP_SUFFIX, JsonDoc, replace_block, write_atomic

ODD = """{
    "model":   "opus",
    "permissions": {"allow": ["Bash(ls:*)"],   "deny": []},
    "hooks": {
        "PreToolUse": [ { "matcher": "Bash", "hooks": [ {"type": "command", "command": "guard.sh"} ] } ]
    },
    "note": "unicode ✓ \\u00e9"
}
"""


def test_append_and_remove_restore_the_original_bytes() -> None:
    doc = JsonDoc(ODD, "s.json")
    doc.ensure(["hooks", "Stop"], [{"hooks": [{"type": "command", "command": "nexus hook x Stop"}]}])
    doc.append(["hooks", "PreToolUse"], {"hooks": [{"type": "command", "command": "nexus hook x PreToolUse"}]})
    data = json.loads(doc.text)
    assert data["hooks"]["Stop"][0]["hooks"][0]["command"] == "nexus hook x Stop"
    assert len(data["hooks"]["PreToolUse"]) == 2
    assert '"permissions": {"allow": ["Bash(ls:*)"],   "deny": []}' in doc.text  # untouched formatting
    doc.remove(["hooks", "PreToolUse", 1])
    doc.remove(["hooks", "Stop"])
    assert doc.text == ODD


def test_new_members_follow_the_file_indentation() -> None:
    doc = JsonDoc('{\n\t"a": 1\n}\n', "t.json")
    doc.ensure(["hooks"], {"E": []})
    assert '\n\t"hooks": {\n\t\t"E": []\n\t}' in doc.text
    compact = JsonDoc('{"a":1}', "c.json")
    compact.ensure(["b"], {"c": [1]})
    assert json.loads(compact.text) == {"a": 1, "b": {"c": [1]}}


def test_empty_and_missing_documents() -> None:
    doc = JsonDoc(None, "new.json")
    doc.ensure(["mcpServers"], {})
    doc.set_member(["mcpServers"], "x", {"command": "nexus"})
    assert json.loads(doc.text) == {"mcpServers": {"x": {"command": "nexus"}}}
    doc.set_member(["mcpServers"], "x", {"command": "nexus", "args": ["mcp"]})
    assert json.loads(doc.text)["mcpServers"]["x"]["args"] == ["mcp"]


@pytest.mark.parametrize("bad", ['{"a": 1,}', "[1, 2]", '{"a": }', "not json", '{"a": 1} trailing'])
def test_malformed_documents_are_refused(bad: str) -> None:
    with pytest.raises(IntegrationError) as err:
        JsonDoc(bad, "/x/settings.json")
    assert "/x/settings.json" in err.value.message
    assert "nothing was changed" in (err.value.hint or "") or "fix the file by hand" in (err.value.hint or "")


def test_write_atomic_keeps_mode_and_backup(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text("{}\n")
    os.chmod(target, 0o600)
    write_atomic(target, '{"a": 1}\n')
    assert target.read_text() == '{"a": 1}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert (tmp_path / ("settings.json" + BACKUP_SUFFIX)).read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_replace_block_round_trip() -> None:
    original = "# Notes\n\nkeep me\n"
    added = replace_block(original, "<!-- B -->", "<!-- E -->", "body\n")
    assert "keep me\n\n<!-- B -->\nbody\n<!-- E -->\n" in added
    again = replace_block(added, "<!-- B -->", "<!-- E -->", "body\n")
    assert again == added
    changed = replace_block(added, "<!-- B -->", "<!-- E -->", "new\n")
    assert "new\n" in changed and "body" not in changed
    assert replace_block(changed, "<!-- B -->", "<!-- E -->", None) == original
