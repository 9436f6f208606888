"""Schemathesis fuzzes every operation of the OpenAPI document: no input may cause a server error.

Bounded: a fixed number of examples per operation and generation mode (valid and invalid
data), derandomized so a failure reproduces. Driven through Hypothesis directly rather
than schemathesis' pytest plugin, which does not support pytest 9 yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from nexus_memory import StoreRequest
from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from tests.servekit import LiveServer

EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def live_api(tmp_path: Any) -> Iterator[LiveServer]:
    app = build_app(load_settings({"NEXUS_HOME": str(tmp_path / "fuzz"), "NEXUS_EMBEDDING_BACKEND": "none"}))
    for i in range(5):
        app.memories.store(StoreRequest(content=f"seed memory {i}", agent="codex"))
    with LiveServer(app) as server:
        yield server
    app.close()


@pytest.mark.slow
def test_no_input_causes_a_server_error(live_api: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(live_api.url + "/api/v1/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                response = case.call(base_url=live_api.url, timeout=10)
                calls.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {case.body!r} {case.query!r}: "
                                    f"{response.status_code} {response.text[:200]}")

            try:
                check()
            except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    assert failures == []
    assert len(calls) > 10 * len(operations)
