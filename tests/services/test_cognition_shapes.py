"""CognitionService returns typed results; the JSON the surfaces make of them keeps its old shape."""

from __future__ import annotations

import json
from pathlib import Path

from nexus_memory.app import App
from tests.services.cognition_shapes import THREAD_STATUS, rendered, scenario, shapes

EXPECTED = Path(__file__).resolve().parents[1] / "data" / "cognition_shapes.json"


def test_typed_results_render_the_shapes_the_dicts_had(app: App, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".nexus").mkdir(parents=True)
    results = scenario(app, project)
    expected = json.loads(EXPECTED.read_text())
    got = shapes(results)
    assert list(got) == list(expected)
    for name, want in expected.items():
        assert got[name] == want, name
    assert rendered(results["thread_status_child"]) == THREAD_STATUS  # the child's report comes through as sent
    typed = {name: type(value).__name__ for name, value in results.items()
             if value is not None and isinstance(value, dict)}
    assert typed == {}, "these still return dicts"
