"""Nexus Memory: a local-first persistent memory shared by AI coding agents.

The public Python API. Heavy parts (embeddings, server, PostgreSQL) load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Names load on first use (PEP 562), so `import nexus_memory` and every `nexus`
# command pay only for the modules they touch. Type checkers see the real imports.
if TYPE_CHECKING:

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
_EXPORTS: dict[str, str] = {
    "AgentNamespace": "nexus_memory.domain.models",
    "App": "nexus_memory.app",
    "CognitiveLevel": "nexus_memory.domain.enums",
    "CognitiveMetadata": "nexus_memory.domain.models",
    "ConfigError": "nexus_memory.errors",
    "Conflict": "nexus_memory.errors",
    "IntegrationError": "nexus_memory.errors",
    "InvalidInput": "nexus_memory.errors",
    "Memory": "nexus_memory.domain.models",
    "MemoryCategory": "nexus_memory.domain.enums",
    "MemoryFilter": "nexus_memory.domain.models",
    "MemoryLaneType": "nexus_memory.domain.enums",
    "NexusError": "nexus_memory.errors",
    "NotFound": "nexus_memory.errors",
    "PerspectiveKey": "nexus_memory.domain.models",
    "PerspectiveSource": "nexus_memory.domain.enums",
    "RelationType": "nexus_memory.domain.enums",
    "RuntimeMode": "nexus_memory.domain.enums",
    "RuntimeShutdownReason": "nexus_memory.domain.enums",
    "SearchHit": "nexus_memory.services.search",
    "SearchMode": "nexus_memory.domain.enums",
    "SearchQuery": "nexus_memory.services.search",
    "Settings": "nexus_memory.config",
    "StorageError": "nexus_memory.errors",
    "StoreRequest": "nexus_memory.services.memories",
    "build_app": "nexus_memory.app",
    "canonicalize_agent_type": "nexus_memory.domain.agents",
    "derive_session_key": "nexus_memory.domain.sessions",
    "load_settings": "nexus_memory.config",
    "normalize_project_path": "nexus_memory.domain.agents",
    "sanitize_component": "nexus_memory.domain.sessions",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nexus_memory' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
