"""The pure rules of code-aware memory (domain/code.py): references, spans, changes, the branch rule."""

from __future__ import annotations

from nexus_memory.domain import code
from nexus_memory.domain.code import CodeRef, Made, branch_visible, code_refs

SOURCE = '''import os


class Store:
    """A store."""

    def get(self, key):
        return self.data[key]

    def put(self, key, value):
        self.data[key] = value


function render(props) {
  return props.x;
}
'''.splitlines()


def test_file_references_with_lines_and_symbols_are_found_and_urls_and_versions_are_not() -> None:
    text = ("Fixed src/store.py:10-12 and `lib/app.ts#L5`, see src/store.py::Store.get; docs at "
            "https://example.com/a/b.py, version 1.2.3, e.g. and ./README.md.")
    assert code_refs(text) == [CodeRef("src/store.py", 10, 12, None), CodeRef("lib/app.ts", 5, 5, None),
                               CodeRef("README.md", None, None, None)]
    assert code_refs("see app.py::App.close") == [CodeRef("app.py", None, None, "App.close")]
    assert code_refs("lines 30-20 of a.py:30-20") == [CodeRef("a.py", 20, 30, None)]


def test_a_symbol_span_covers_its_block_in_python_and_in_brace_languages() -> None:
    assert code.symbol_span(SOURCE, "Store.get") == (7, 8)
    assert code.symbol_span(SOURCE, "Store") == (4, 11)
    assert code.symbol_span(SOURCE, "render") == (14, 16)  # the closing brace belongs to the block
    assert code.symbol_span(SOURCE, "Store.missing") is None
    assert code.symbol_span(SOURCE, "gone") is None


def test_a_moved_span_is_found_again_and_a_changed_one_says_what_changed() -> None:
    block = code.span_text(SOURCE, 7, 8)
    moved = ["# a new header", "", *SOURCE]
    assert code.find_block(moved, block) == (9, 10)
    assert code.find_block(SOURCE, "def nowhere():\n    pass") is None
    assert code.what_changed("a\nb\nc", "a\nB2\nc\nd") == "+2 -1 lines, now: B2"
    assert code.content_hash("x = 1  \r\ny\n") == code.content_hash("x = 1\ny")
    assert code.content_hash("x = 1") != code.content_hash("x = 2")


def test_the_worst_anchor_decides_and_the_label_says_it() -> None:
    assert code.worst(["verified", "possibly_stale"]) == "possibly_stale"
    assert code.worst(["verified", "deleted", "possibly_stale"]) == "deleted"
    assert code.state_label({"state": "verified"}) == "code verified"
    assert code.state_label({"state": "possibly_stale", "changes": ["a.py:1-2 +1 -1 lines"]}) == \
        "possibly stale: a.py:1-2 +1 -1 lines"
    assert code.state_label({"state": "deleted", "changes": []}) == "stale: its code was deleted"
    assert code.state_label({}) == ""


def test_the_branch_rule() -> None:
    calls: list[Made] = []

    def merged(made: Made) -> bool:
        calls.append(made)
        return made.branch == "feature/done"

    def visible(kind: str, branch: str | None, commit: str | None = "c1") -> bool:
        return branch_visible(kind, Made(branch, commit), "main", "h1", merged)

    assert visible("finding", None, None)  # made outside git or before issue 16
    assert visible("finding", "main")  # this branch
    assert visible("rule", "feature/abandoned")  # not about code
    assert visible("finding", "feature/done")
    assert not visible("finding", "feature/abandoned")
    assert [m.branch for m in calls] == ["feature/done", "feature/abandoned"]  # git asked only when needed
    assert branch_visible("finding", Made("x", "c1"), "main", None, merged)  # no commits yet: nothing to compare
