"""Settings: read once, from the environment (NEXUS_*) and an optional TOML file.

Only the composition root (`app.py`) and the CLI's entry point call `load_settings`;
everything else receives a frozen `Settings`. One database path for every surface
(an upstream defect was four different defaults).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from nexus_memory.errors import ConfigError

APP_DIR = "nexus-memory-system"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    state_dir: Path
    config_dir: Path

    @property
    def runtime_dir(self) -> Path:
        return self.state_dir / "runtime"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def model_cache_dir(self) -> Path:
        """Files derived from installed models (the int8 embedding kernel); safe to delete."""
        return self.state_dir / "models"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"


def resolve_paths(env: Mapping[str, str]) -> Paths:
    """XDG directories, or everything under NEXUS_HOME when it is set."""
    home = env.get("NEXUS_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "data", root / "state", root / "config")
    user_home = Path(env.get("HOME") or Path.home())

    def xdg(var: str, default: str) -> Path:
        value = env.get(var)
        return Path(value).expanduser() if value else user_home / default

    return Paths(
        xdg("XDG_DATA_HOME", ".local/share") / APP_DIR,
        xdg("XDG_STATE_HOME", ".local/state") / APP_DIR,
        xdg("XDG_CONFIG_HOME", ".config") / APP_DIR,
    )


@dataclass(frozen=True)
class CognitionSettings:
    """Upstream `CognitionConfig` defaults; env `NEXUS_COGNITION_<UPPER_NAME>`."""

    auto_runtime_enabled: bool = True
    derive_enabled: bool = True
    digest_enabled: bool = True
    reflect_enabled: bool = True
    activity_distill_enabled: bool = True
    dream_on_session_end: bool = True
    checkpoint_flush_enabled: bool = True
    runtime_idle_timeout_secs: int = 900
    max_job_batch: int = 8
    lease_ttl_secs: int = 120
    representation_max_items: int = 24
    digest_short_target_tokens: int = 600
    digest_long_target_tokens: int = 1800
    direct_enrichment_timeout_secs: int = 8
    activity_distill_min_events: int = 8
    activity_distill_max_events: int = 60
    include_raw_by_default: bool = False
    session_end_dream_timeout_secs: int = 8
    retry_buffer_drain_limit: int = 8
    contradiction_belief_revision_enabled: bool = True
    contradiction_confidence_penalty: float = 0.15
    memory_decay_enabled: bool = True
    memory_decay_age_days: int = 90
    memory_decay_access_boost_days: int = 30
    adaptive_dream_enabled: bool = True
    adaptive_dream_min_interval_secs: int = 60
    adaptive_dream_max_interval_secs: int = 1800


@dataclass(frozen=True)
class Settings:
    paths: Paths
    database_path: Path
    database_url: str | None = None
    default_agent: str = "default"
    host: str = "127.0.0.1"
    port: int = 8768
    api_token: str | None = None
    #: Extra browser origins allowed to call the HTTP API (exact, comma separated), e.g. http://localhost:3000.
    cors_origins: str | None = None
    #: Where `nexus serve` runs store-time embedding and the cognition worker: process, thread or off.
    serve_background: str = "process"
    # embeddings: "onnx" (local MiniLM, offline), "http" (OpenAI-compatible), "none"
    embedding_backend: str = "onnx"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_base_url: str | None = None
    embedding_api_key_env: str = "OPENAI_API_KEY"
    embedding_dimension: int = 384
    embedding_timeout_secs: float = 60.0
    #: Threads per run of the local (onnx) model; 0 = min(2, CPUs). `nexus serve` and `nexus worker` use 1.
    embedding_threads: int = 0
    #: How the local model multiplies its int8 weights: auto (int8 when measured faster here), int8, fp32.
    embedding_kernel: str = "auto"
    #: False in the worker of `nexus serve`: the server prepares the int8 kernel, the worker waits for it.
    embedding_kernel_prepare: bool = True
    # LLM: "none" keeps every stage on its deterministic path
    llm_provider: str = "none"
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key_env: str | None = None
    llm_daily_token_budget: int = 200_000
    subconscious_mode: str = "whisper"
    #: Per-prompt recall without a model also counts words related to the prompt's (the shipped neighbour
    #: table, domain/expansion.py). Off by default: measured neutral to +0.006 (BENCHMARKS.md, issue 12).
    recall_expansion: bool = False
    #: A "what/which X" question's asked-for noun must be held by a recalled memory (the word, a value
    #: shaped like its answer, or a close cosine): near misses on the subject stay out (domain/recall.py).
    recall_focus: bool = True
    #: A wh-question naming something no candidate memory mentions ("the iOS app" in a project that never
    #: said iOS) gets only memories close in meaning, i.e. none without a model (domain/recall.names).
    recall_names: bool = True
    #: Tokens of memory injected per agent per day (session packs, prompt recall, MCP results) after which
    #: session packs stop and prompt recall keeps only strongly relevant memories (docs/configuration.md).
    #: 0 turns the cap off.
    daily_token_cap: int = 1_000_000  # a runaway guard (~1,500 full packs a day); budgets go lower
    #: Per-agent caps over `daily_token_cap`: "claude-code=20000,codex=5000".
    daily_token_caps: str = ""
    busy_timeout_ms: int = 10_000
    # Postings scored with exact BM25 per full-text query; 0 = always exact (see docs/configuration.md)
    fts_budget: int = 4000
    cognition: CognitionSettings = field(default_factory=CognitionSettings)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def store_id(self) -> str:
        """Which database this process works on, as 16 hex digits. A hook sends it to the `nexus serve`
        on its port and takes that server's hits only when the server works on the same store: another
        store's server (another NEXUS_HOME, a test's) must not answer for this one."""
        import zlib
        from urllib.parse import urlsplit

        if self.database_url:
            u = urlsplit(self.database_url)
            ident = f"postgres:{u.username or ''}@{u.hostname or ''}:{u.port or 5432}{u.path}"
        else:
            ident = "sqlite:" + os.path.realpath(self.database_path)
        raw = ident.encode("utf-8")
        return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"

    def public_dict(self) -> dict[str, Any]:
        """Everything `nexus config show` prints; secrets are never included."""
        out: dict[str, Any] = {
            "data_dir": str(self.paths.data_dir),
            "state_dir": str(self.paths.state_dir),
            "config_dir": str(self.paths.config_dir),
            "config_file": str(self.paths.config_file),
            "database_path": str(self.database_path),
            "database_url": _redact_url(self.database_url) if self.database_url else None,
            "backend": "postgres" if self.database_url else "sqlite",
            "default_agent": self.default_agent,
            "host": self.host,
            "port": self.port,
            "api_token": "set" if self.api_token else "not set",
            "cors_origins": self.cors_origins,
            "serve_background": self.serve_background,
            "embedding_backend": self.embedding_backend,
            "embedding_model": self.embedding_model,
            "embedding_base_url": self.embedding_base_url,
            "embedding_dimension": self.embedding_dimension,
            "llm_provider": self.llm_provider,
            "llm_model": self.llm_model,
            "llm_daily_token_budget": self.llm_daily_token_budget,
            "subconscious_mode": self.subconscious_mode,
            "daily_token_cap": self.daily_token_cap,
            "daily_token_caps": self.daily_token_caps,
        }
        out["cognition"] = {f.name: getattr(self.cognition, f.name) for f in fields(self.cognition)}
        return out


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _coerce(name: str, raw: object, default: object) -> object:
    if isinstance(default, bool):
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}='{raw}' is not a boolean", hint="use true or false")
    if isinstance(default, int):
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}='{raw}' is not a whole number", hint="use digits only") from None
    if isinstance(default, float):
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}='{raw}' is not a number", hint="for example 0.15") from None
    return str(raw)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import tomllib  # only when there is a file: keeps the common start-up path short
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove the file") from None


#: Settings that take one of a few words (checked by load_settings).
_CHOICES = {
    "embedding_backend": ("onnx", "http", "none"),
    "embedding_kernel": ("auto", "int8", "fp32"),
    "subconscious_mode": ("whisper", "full", "off"),
    "serve_background": ("process", "thread", "off"),
}

_ENV_MAP = {
    "database_url": "NEXUS_DATABASE_URL",
    "default_agent": "NEXUS_DEFAULT_AGENT",
    "host": "NEXUS_HOST",
    "port": "NEXUS_PORT",
    "api_token": "NEXUS_API_TOKEN",
    "cors_origins": "NEXUS_CORS_ORIGINS",
    "serve_background": "NEXUS_SERVE_BACKGROUND",
    "embedding_backend": "NEXUS_EMBEDDING_BACKEND",
    "embedding_model": "NEXUS_EMBEDDING_MODEL",
    "embedding_base_url": "NEXUS_EMBEDDING_BASE_URL",
    "embedding_api_key_env": "NEXUS_EMBEDDING_API_KEY_ENV",
    "embedding_dimension": "NEXUS_EMBEDDING_DIMENSION",
    "embedding_timeout_secs": "NEXUS_EMBEDDING_TIMEOUT_SECS",
    "embedding_threads": "NEXUS_EMBEDDING_THREADS",
    "embedding_kernel": "NEXUS_EMBEDDING_KERNEL",
    "llm_provider": "NEXUS_LLM_PROVIDER",
    "llm_model": "NEXUS_LLM_MODEL",
    "llm_base_url": "NEXUS_LLM_BASE_URL",
    "llm_api_key_env": "NEXUS_LLM_API_KEY_ENV",
    "llm_daily_token_budget": "NEXUS_LLM_DAILY_TOKEN_BUDGET",
    "subconscious_mode": "NEXUS_SUBCONSCIOUS_MODE",
    "recall_expansion": "NEXUS_RECALL_EXPANSION",
    "recall_focus": "NEXUS_RECALL_FOCUS",
    "recall_names": "NEXUS_RECALL_NAMES",
    "daily_token_cap": "NEXUS_DAILY_TOKEN_CAP",
    "daily_token_caps": "NEXUS_DAILY_TOKEN_CAPS",
    "busy_timeout_ms": "NEXUS_BUSY_TIMEOUT_MS",
    "fts_budget": "NEXUS_FTS_BUDGET",
}


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < config file < environment < explicit overrides (CLI flags)."""
    env = dict(os.environ if env is None else env)
    paths = resolve_paths(env)
    file_values = _read_file(Path(env["NEXUS_CONFIG_FILE"]) if env.get("NEXUS_CONFIG_FILE") else paths.config_file)
    base = Settings(paths=paths, database_path=paths.data_dir / "nexus.db")
    caps = file_values.get("daily_token_caps")
    if isinstance(caps, dict):  # a [daily_token_caps] table in config.toml: agent = tokens
        file_values = {**file_values, "daily_token_caps": ",".join(f"{k}={v}" for k, v in caps.items())}
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name in ("paths", "database_path", "cognition", "extra"):
            continue
        default = getattr(base, f.name)
        raw: Any = file_values.get(f.name)
        env_name = _ENV_MAP.get(f.name)
        if env_name and env.get(env_name) not in (None, ""):
            raw = env[env_name]
        if raw is not None:
            values[f.name] = _coerce(env_name or f.name, raw, default) if default is not None else str(raw)
    # NEXUS_EMBEDDINGS_ENABLED=false is the upstream switch for "no embeddings".
    if str(env.get("NEXUS_EMBEDDINGS_ENABLED", "")).lower() in ("0", "false", "no", "off"):
        values["embedding_backend"] = "none"
    db_path = env.get("NEXUS_DATABASE_PATH") or file_values.get("database_path")
    values["database_path"] = Path(db_path).expanduser() if db_path else base.database_path
    cog_file = file_values.get("cognition") if isinstance(file_values.get("cognition"), dict) else {}
    cog_values: dict[str, Any] = {}
    cog_base = CognitionSettings()
    for f in fields(CognitionSettings):
        raw = (cog_file or {}).get(f.name)
        env_name = f"NEXUS_COGNITION_{f.name.upper()}"
        if env.get(env_name) not in (None, ""):
            raw = env[env_name]
        if raw is not None:
            cog_values[f.name] = _coerce(env_name, raw, getattr(cog_base, f.name))
    values["cognition"] = CognitionSettings(**cog_values)
    values["extra"] = {k: v for k, v in env.items() if k.startswith("NEXUS_")}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("database_path") is not None:
        values["database_path"] = Path(values["database_path"]).expanduser()
    settings = Settings(paths=paths, **values)
    for name, allowed in _CHOICES.items():
        value = getattr(settings, name)
        if value not in allowed:
            raise ConfigError(f"unknown {_ENV_MAP[name]} '{value}'", hint=f"use one of: {', '.join(allowed)}")
    if settings.daily_token_cap < 0:
        raise ConfigError(f"NEXUS_DAILY_TOKEN_CAP={settings.daily_token_cap} is negative",
                          hint="use 0 (no cap) or a token count such as 100000")
    if settings.daily_token_caps:
        from nexus_memory.domain.costs import parse_caps

        parse_caps(settings.daily_token_caps)
    if settings.embedding_threads < 0:
        raise ConfigError(f"NEXUS_EMBEDDING_THREADS={settings.embedding_threads} is negative",
                          hint="use 0 (automatic) or a thread count such as 1")
    return settings


@dataclass(frozen=True)
class CognitiveSystemSettings:
    """Upstream `CognitiveSystemConfig` (hot cache, context budget, dream triggers), read from NEXUS_* env."""

    enabled: bool = True
    hot_cache_max_entries: int = 20
    context_allocation_pct: float = 0.10
    nap_on_session_end: bool = True
    nap_idle_timeout_secs: int = 600
    dream_memory_threshold: int = 20
    deep_dream_cooldown_hours: int = 24
    deep_dream_inactivity_mins: int = 30


_COGNITIVE_SYSTEM_ENV = {
    "enabled": "NEXUS_COGNITIVE_ENABLED",
    "hot_cache_max_entries": "NEXUS_HOT_CACHE_MAX",
    "context_allocation_pct": "NEXUS_CONTEXT_ALLOCATION_PCT",
    "nap_on_session_end": "NEXUS_NAP_ON_SESSION_END",
    "nap_idle_timeout_secs": "NEXUS_NAP_IDLE_TIMEOUT_SECS",
    "dream_memory_threshold": "NEXUS_DREAM_THRESHOLD",
    "deep_dream_cooldown_hours": "NEXUS_DEEP_DREAM_COOLDOWN_HOURS",
    "deep_dream_inactivity_mins": "NEXUS_DEEP_DREAM_INACTIVITY_MINS",
}


def cognitive_system_settings(settings: Settings) -> CognitiveSystemSettings:
    """The cognitive-system knobs from the NEXUS_* variables captured in `settings.extra`."""
    base = CognitiveSystemSettings()
    values: dict[str, Any] = {}
    for name, env_name in _COGNITIVE_SYSTEM_ENV.items():
        raw = settings.extra.get(env_name)
        if raw not in (None, ""):
            values[name] = _coerce(env_name, raw, getattr(base, name))
    return CognitiveSystemSettings(**values)
