"""The embedding port and a lazy wrapper that loads a model on first use.

Callers know a model's id and dimension without loading it (status, search
planning), and the hook path never pays for onnxruntime: only `embed` loads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of one model.

    `model_id` is stored with every vector, so it must name the exact weights
    (two models never share an id); `dimension` is the vector length.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order. Batching is the adapter's job."""
        ...


class LazyEmbedder:
    """An Embedder whose model is built by `loader` on the first `embed` call."""

    def __init__(
        self,
        model_id: str,
        dimension: int,
        loader: Callable[[], Embedder],
        *,
        check: Callable[[], str | None] | None = None,
        details: Callable[[Embedder | None], dict[str, Any] | None] | None = None,
    ) -> None:
        self._model_id = model_id
        self._dimension = dimension
        self._loader = loader
        self._check = check
        self._details = details
        self._inner: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension if self._inner is not None else self._dimension

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    def unavailable_reason(self) -> str | None:
        """Why the model cannot load (e.g. a missing package), without loading it; None if it can."""
        return self._check() if self._check is not None and self._inner is None else None

    def details(self) -> dict[str, Any] | None:
        """Adapter facts for status output (the onnx kernel), given the loaded model if there is one."""
        return self._details(self._inner) if self._details is not None else None

    def load(self) -> Embedder:
        with self._lock:
            if self._inner is None:
                inner = self._loader()
                if inner.model_id != self._model_id:
                    raise RuntimeError(f"loader built model {inner.model_id!r}, expected {self._model_id!r}")
                self._inner = inner
            return self._inner

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.load().embed(texts)
