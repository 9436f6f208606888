"""Nexus Memory: a local-first persistent memory shared by AI coding agents.

The public Python API. Heavy parts (embeddings, server, PostgreSQL) load lazily.
"""

from __future__ import annotations

__version__ = "0.1.0"

from nexus_memory.app import App, build_app
from nexus_memory.config import Settings, load_settings
from nexus_memory.domain.agents import canonicalize_agent_type, normalize_project_path
from nexus_memory.domain.enums import (
    CognitiveLevel,
    MemoryCategory,
    MemoryLaneType,
    PerspectiveSource,
    RelationType,
    RuntimeMode,
    RuntimeShutdownReason,
    SearchMode,
)
from nexus_memory.domain.models import (
    AgentNamespace,
    CognitiveMetadata,
    Memory,
    MemoryFilter,
    PerspectiveKey,
)
from nexus_memory.domain.sessions import derive_session_key, sanitize_component
from nexus_memory.errors import (
    ConfigError,
    Conflict,
    IntegrationError,
    InvalidInput,
    NexusError,
    NotFound,
    StorageError,
)
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchHit, SearchQuery

__all__ = [
    "AgentNamespace",
    "App",
    "CognitiveLevel",
    "CognitiveMetadata",
    "ConfigError",
    "Conflict",
    "IntegrationError",
    "InvalidInput",
    "Memory",
    "MemoryCategory",
    "MemoryFilter",
    "MemoryLaneType",
    "NexusError",
    "NotFound",
    "PerspectiveKey",
    "PerspectiveSource",
    "RelationType",
    "RuntimeMode",
    "RuntimeShutdownReason",
    "SearchHit",
    "SearchMode",
    "SearchQuery",
    "Settings",
    "StorageError",
    "StoreRequest",
    "__version__",
    "build_app",
    "canonicalize_agent_type",
    "derive_session_key",
    "load_settings",
    "normalize_project_path",
    "sanitize_component",
]
