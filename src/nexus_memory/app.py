"""Composition root: the only place that reads settings and picks adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nexus_memory.config import Settings, cognitive_system_settings, load_settings
from nexus_memory.domain.enums import RuntimeShutdownReason
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.embeddings.base import Embedder, LazyEmbedder
from nexus_memory.services.embeddings import EmbeddingService
from nexus_memory.services.events import EventBus
from nexus_memory.services.memories import MemoryService
from nexus_memory.storage.base import Store

if TYPE_CHECKING:
    # Built on first use: a command pays only for the services it touches (`nexus store` needs
    # neither search, the session runtime, cognition nor the LLM layer, and importing them all
    # would double its cold start).
    from nexus_memory.llm.gateway import LLMGateway
    from nexus_memory.runtime.controller import RuntimeController
    from nexus_memory.services.cognition import CognitionService
    from nexus_memory.services.costs import CostService
    from nexus_memory.services.overview import OverviewService
    from nexus_memory.services.recall import RecallService
    from nexus_memory.services.search import SearchService
    from nexus_memory.services.sessions import SessionService


T = TypeVar("T")


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The configured backend: PostgreSQL when a URL is set, else the SQLite file."""
    if settings.database_url:
        from nexus_memory.errors import NotAvailable

        try:
            from nexus_memory.storage.postgres import PostgresStore
        except ImportError:
            raise NotAvailable(
                "the PostgreSQL backend is not installed",
                hint="pip install 'nexus-memory[postgres]', or unset NEXUS_DATABASE_URL to use SQLite",
            ) from None
        store: Any = PostgresStore(settings.database_url, migrate=migrate)
    else:
        from nexus_memory.storage.sqlite import SQLiteStore

        store = SQLiteStore(settings.database_path, busy_timeout_ms=settings.busy_timeout_ms, migrate=migrate)
    if settings.fts_budget < 0:
        from nexus_memory.errors import ConfigError

        raise ConfigError(f"NEXUS_FTS_BUDGET={settings.fts_budget} is negative", hint="use 0 (always exact) or more")
    # 0 means no bound: every query is ranked with exact BM25, whatever it costs.
    store.fts_budget = settings.fts_budget or 10**12
    return store  # type: ignore[no-any-return,unused-ignore]


def make_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, wrapped so nothing heavy loads before the first embed."""
    import os

    from nexus_memory.errors import ConfigError

    backend = settings.embedding_backend
    if backend == "none":
        return None
    if backend == "onnx":
        from nexus_memory.embeddings import onnx

        if settings.embedding_model.strip().lower() not in onnx.ALIASES:
            raise ConfigError(
                f"the onnx backend ships only all-MiniLM-L6-v2, not '{settings.embedding_model}'",
                hint="unset NEXUS_EMBEDDING_MODEL, or use NEXUS_EMBEDDING_BACKEND=http for other models",
            )
        threads = settings.embedding_threads or None

        def load_onnx() -> Embedder:
            return onnx.OnnxEmbedder(threads=threads, kernel=settings.embedding_kernel,
                                     cache_dir=settings.paths.model_cache_dir,
                                     prepare_kernel=settings.embedding_kernel_prepare)

        def kernel(loaded: Embedder | None) -> dict[str, Any] | None:
            return onnx.kernel_details(loaded, settings.embedding_kernel, settings.paths.model_cache_dir)

        return LazyEmbedder(onnx.MODEL_ID, onnx.DIMENSION, load_onnx, check=onnx.missing_packages, details=kernel)
    base_url = settings.embedding_base_url
    api_key = os.environ.get(settings.embedding_api_key_env) if settings.embedding_api_key_env else None
    dimension = settings.embedding_dimension if "NEXUS_EMBEDDING_DIMENSION" in settings.extra else None

    def load_http() -> Embedder:
        from nexus_memory.embeddings.http import HttpEmbedder

        return HttpEmbedder(base_url or "", settings.embedding_model, api_key=api_key, dimension=dimension,
                            timeout=settings.embedding_timeout_secs)

    def check_http() -> str | None:
        return None if base_url else "the http embedding backend needs NEXUS_EMBEDDING_BASE_URL"

    return LazyEmbedder(settings.embedding_model, dimension or settings.embedding_dimension, load_http,
                        check=check_http)


def _rebuild_checkpoint(settings: Settings) -> tuple[Path, str]:
    from nexus_memory.storage.common import sha1_hex

    label = str(settings.public_dict()["database_url"] or settings.database_path)
    digest = sha1_hex(label)[:12]
    return settings.paths.state_dir / f"embeddings-rebuild-{digest}.json", label


@dataclass
class App:
    """The services of one process, wired by `build_app`. A `with` block closes it.

    Services a command may not touch are built on first use from the `make_*` builders that
    `build_app` sets (`nexus store` then imports neither search, the session runtime, cognition
    nor the LLM layer); a builder of None means the service is not available in this process.
    """

    settings: Settings
    store: Store
    events: EventBus
    memories: MemoryService
    clock: Clock = utcnow
    embeddings: EmbeddingService | None = None
    make_search: Callable[[], SearchService] | None = field(default=None, repr=False)
    make_sessions: Callable[[], SessionService] | None = field(default=None, repr=False)
    make_cognition: Callable[[], CognitionService] | None = field(default=None, repr=False)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def search(self) -> SearchService:
        return _built(self.make_search, "search")

    @cached_property
    def sessions(self) -> SessionService:
        return _built(self.make_sessions, "the session runtime")

    @cached_property
    def cognition(self) -> CognitionService:
        """The dream cycle, job queue, digests, lineage and working representation (issue 6)."""
        return _built(self.make_cognition, "the cognition engine")

    @property
    def has_cognition(self) -> bool:
        """Whether a cognition service is available (built or buildable)."""
        return "cognition" in self.__dict__ or self.make_cognition is not None

    @cached_property
    def recall(self) -> RecallService:
        """What goes back to the model: the session pack and per-prompt recall (the memory loop)."""
        from nexus_memory.services.recall import RecallService

        lexicon = None
        if self.settings.recall_expansion:  # related words when no cosine is at hand (docs/search.md)
            from nexus_memory.embeddings.lexicon import Lexicon

            lexicon = Lexicon().neighbours
        from nexus_memory.domain.recall import Bar

        bar = Bar(focus=self.settings.recall_focus, names=self.settings.recall_names)
        return RecallService(self.store, bar=bar, lexicon=lexicon)

    @cached_property
    def costs(self) -> CostService:
        """What memory costs each agent: the injection ledger and the daily cap (issue 16)."""
        from nexus_memory.services.costs import CostService

        return CostService(self.store, daily_cap=self.settings.daily_token_cap, caps=self.settings.daily_token_caps)

    @property
    def runtime(self) -> RuntimeController:
        return self.sessions.controller

    @property
    def overview(self) -> OverviewService:
        """Read-only views shared by the MCP server, the HTTP API and the dashboard."""
        from nexus_memory.services.overview import OverviewService

        return OverviewService(self.store, self.sessions.controller)


def _built(make: Callable[[], T] | None, what: str) -> T:
    if make is None:
        from nexus_memory.errors import NotAvailable

        raise NotAvailable(f"{what} is not set up in this process", hint="build the app with build_app()")
    return make()


def build_app(settings: Settings | None = None, *, clock: Clock = utcnow, store: Store | None = None,
              embeddings: bool = True, cognition: bool = True) -> App:
    """Wire the services. `embeddings=False` (the hook path) leaves vectors out entirely:
    no embed on store and bm25-only search; the model is never loaded either way
    until something is embedded. `cognition=False` (the hook path too) keeps session start and
    end from draining jobs or dreaming inline: the hooks hand that work to a detached worker."""
    settings = settings or load_settings()
    store = store or open_store(settings)
    events = EventBus()
    checkpoint, label = _rebuild_checkpoint(settings)
    vectors = EmbeddingService(store, make_embedder(settings) if embeddings else None,
                               backend=settings.embedding_backend if embeddings else "none",
                               checkpoint_path=checkpoint, database_label=label)
    memories = MemoryService(store, events=events, default_agent=settings.default_agent, clock=clock,
                             indexer=vectors.on_stored)
    def make_search() -> SearchService:
        from nexus_memory.services.search import SearchService

        return SearchService(store, vectors, clock=clock)

    def make_sessions() -> SessionService:
        from nexus_memory.runtime.controller import RuntimeController
        from nexus_memory.services.sessions import SessionService

        controller = RuntimeController(
            store,
            settings.paths.runtime_dir,
            idle_timeout_secs=settings.cognition.runtime_idle_timeout_secs,
            enabled=settings.cognition.auto_runtime_enabled,
            clock=clock,
            project_name=_project_name,
        )
        if cognition:
            controller.on_start = on_start
            controller.on_shutdown = on_shutdown
        return SessionService(controller, events)

    def make_cognition() -> CognitionService:
        from nexus_memory.services.cognition import CognitionService

        cognition = CognitionService(
            store, settings.cognition, llm=_build_llm(settings, clock), clock=clock,
            state_dir=settings.paths.state_dir, config_dir=settings.paths.config_dir,
            data_dir=settings.paths.data_dir, system=cognitive_system_settings(settings),
        )
        if vectors.available():  # cheap: finds the packages without importing them
            cognition.set_vectors(vectors.vectors_for)
            cognition.set_semantic(_hybrid_semantic(app.search), "hybrid")
        return cognition

    def on_start(agent: str, key: str, cwd: str | None) -> None:
        app.cognition.on_runtime_start(agent, key, cwd)

    def on_shutdown(agent: str, key: str, cwd: str | None, reason: RuntimeShutdownReason) -> None:
        app.cognition.on_runtime_shutdown(agent, key, cwd, reason)

    app = App(settings, store, events, memories, clock, embeddings=vectors, make_search=make_search,
              make_sessions=make_sessions, make_cognition=make_cognition)
    return app


def _build_llm(settings: Settings, clock: Clock) -> LLMGateway | None:
    """The optional LLM behind its daily token budget; None when no provider is configured."""
    if settings.llm_provider.strip().lower() in ("", "none", "off", "disabled"):
        return None
    # Imported only when a provider is configured: the HTTP client stack costs every command ~20 ms.
    import os

    from nexus_memory.errors import ConfigError
    from nexus_memory.llm.factory import make_chain
    from nexus_memory.llm.gateway import LLMGateway
    from nexus_memory.llm.ledger import TokenLedger

    env = {**os.environ, **settings.extra}
    ledger = TokenLedger(settings.paths.state_dir / "llm-ledger.json",
                         daily_budget=settings.llm_daily_token_budget, clock=clock)
    try:
        client = make_chain(settings.llm_provider, model=settings.llm_model, base_url=settings.llm_base_url,
                            api_key_env=settings.llm_api_key_env, env=env)
    except ConfigError as exc:
        # A broken LLM setting must not break every command: stages stay deterministic, `llm test` says why.
        return LLMGateway(None, ledger, config_error=exc.one_line())
    return LLMGateway(client, ledger)


def _hybrid_semantic(search: SearchService) -> Callable[[str, MemoryFilter, int], list[tuple[int, float]]]:
    """The working representation's semantic bucket, fed by hybrid search relevance (0..1)."""
    from nexus_memory.domain.enums import SearchMode
    from nexus_memory.services.search import SearchQuery

    def semantic(text: str, flt: MemoryFilter, limit: int) -> list[tuple[int, float]]:
        outcome = search.run(SearchQuery(text, flt, max(1, min(limit, 1000)), SearchMode.HYBRID))
        return [(h.memory.id, h.components.get("relevance", h.score)) for h in outcome.hits]

    return semantic


def _project_name(cwd: str | None) -> str | None:
    if not cwd:
        return None
    from nexus_memory.project import resolve_project

    try:
        return resolve_project(Path(cwd), with_remote=False).display_name
    except OSError:
        return None
