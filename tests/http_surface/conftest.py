from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from nexus_memory.app import App
from tests.servekit import LiveServer


@pytest.fixture
def server(app: App) -> Iterator[LiveServer]:
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as c:
        yield c
