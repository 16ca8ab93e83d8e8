"""The sweep: every artifact x thread count x batch size, timed through the toolkit's Backend.

Runtime side: with a run folder it feeds the run's validation rows, without one each artifact's
golden rows; the eager reference is injected by the caller (BenchConfig.reference_loader)."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.artifact import Manifest, read_manifest
from phoneprice_edge.backends.base import Backend
from phoneprice_edge.bench.int8 import share_of
from phoneprice_edge.bench.timing import (
    LatencyStats,
    PeakRSS,
    TimingPlan,
    cuda_event_stats,
    make_inputs,
    time_calls,
)
from phoneprice_edge.devices import is_cuda, parse_device
from phoneprice_edge.errors import BackendUnavailable, DataError, UsageError

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 64, 1024)
REFERENCE = "reference"  # the artifact name of the eager PyTorch checkpoint row
Loader = Callable[..., Backend]  # load_backend(artifact_dir, device=..., threads=...)


@dataclass
class BenchConfig:
    """What to measure: which artifacts, batch sizes, thread counts and device, and for how long."""

    run_dir: Path | None  # None: no run folder (golden rows as inputs, no parity, no reference)
    artifacts: list[Path]
    batch_sizes: tuple[int, ...] | None = None  # None: each manifest's benchmark sizes
    threads: tuple[int, ...] = (1,)
    device: str = "cpu"
    plan: TimingPlan = field(default_factory=TimingPlan)
    reference: bool = False  # also time the eager PyTorch checkpoint
    overhead: bool = True  # time bare onnxruntime beside the ONNX backend at batch 1
    overhead_rounds: int = 7
    skip_unavailable: bool = False  # --all: a runtime missing here is noted, not fatal
    # the eager checkpoint as a Backend (run_dir, device, threads) -> Backend; build side
    reference_loader: Callable[[Path, str, int], Backend] | None = None

    def __post_init__(self) -> None:
        try:
            parse_device(self.device)
        except UsageError as exc:
            raise UsageError(f"--{exc}") from None
        if not self.threads or any(t < 1 for t in self.threads):
            raise UsageError(f"thread counts must be >= 1, got {list(self.threads)}")
        if self.batch_sizes is not None and (not self.batch_sizes or min(self.batch_sizes) < 1):
            raise UsageError(f"batch sizes must be >= 1, got {list(self.batch_sizes)}")
        if self.reference and (self.run_dir is None or self.reference_loader is None):
            raise UsageError("--reference needs --run RUN_DIR (the checkpoint) and torch")


@dataclass
class Artifact:
    """One thing to time: an export folder (or the reference checkpoint) and its facts."""

    name: str
    path: Path
    target: str
    precision: str
    fmt: str
    size_bytes: int
    batch_sizes: tuple[int, ...]
    parity: dict[str, Any] | None
    manifest: Manifest | None = None
    inputs: str = "validation"  # or "golden": no run folder, the artifacts' golden rows


def discover_artifacts(run_dir: Path, device: str) -> tuple[list[Path], list[dict[str, str]]]:
    """Every export folder of the run that can run on device; the others with the reason."""
    from phoneprice_edge.targets import TARGETS

    export = Path(run_dir) / "export"
    found = sorted(p.parent for p in export.glob("*/manifest.json")) if export.is_dir() else []
    if not found:
        raise UsageError(f"{export}: no exported artifacts (run pe-export --run {run_dir} --all)")
    keep, skipped = [], []
    for path in found:
        spec = TARGETS.get(read_manifest(path).target)
        if device == "cpu" and spec is not None and spec.needs_gpu:
            skipped.append({"artifact": path.name, "reason": f"{spec.name} needs a GPU"})
        else:
            keep.append(path)
    return keep, skipped


def load_val_rows(run_dir: Path) -> np.ndarray:
    """The validation rows (raw features) that every point feeds, tiled, to the backend."""
    path = Path(run_dir) / "data" / "val.npz"
    if not path.is_file():
        raise DataError(f"{path}: validation rows not found (is {run_dir} a training run?)")
    try:
        with np.load(path) as z:
            x = np.ascontiguousarray(z["X"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable split file ({exc})") from None
    if x.ndim != 2 or x.shape[0] == 0 or not np.isfinite(x).all():
        raise DataError(f"{path}: X must be a finite, non-empty [N, F] array, got {list(x.shape)}")
    return x


def golden_inputs(paths: list[Path]) -> np.ndarray:
    """Without a run folder: the golden rows of the artifacts (each one's, in order, of one
    feature count), the inputs every point feeds."""
    from phoneprice_edge.verify import read_golden

    blocks = [read_golden(p, read_manifest(p)).inputs for p in paths]
    if len({b.shape[1] for b in blocks}) > 1:
        raise UsageError("the artifacts take different feature counts; bench them separately")
    x = np.ascontiguousarray(np.concatenate(blocks))
    if x.shape[0] == 0:
        raise DataError("the artifacts' golden rows are empty; give --run RUN_DIR")
    return x


def read_parity(run_dir: Path | None, name: str) -> dict[str, Any] | None:
    """RUN_DIR/parity/<name>.json, or None where parity has not been run (or no run folder)."""
    if run_dir is None:
        return None
    path = Path(run_dir) / "parity" / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def describe_artifact(path: Path, run_dir: Path | None,
                      batch_sizes: tuple[int, ...] | None) -> Artifact:
    """Read the manifest facts the report needs (size, target, precision, benchmark sizes)."""
    m = read_manifest(path)
    size = sum((path / f).stat().st_size for f in m.files if (path / f).is_file())
    sizes = batch_sizes or m.benchmark_batch_sizes or DEFAULT_BATCH_SIZES
    return Artifact(name=path.name, path=path, target=m.target,
                    precision=m.precision, fmt=m.fmt, size_bytes=size,
                    batch_sizes=tuple(int(b) for b in sizes), parity=read_parity(run_dir, path.name),
                    manifest=m, inputs="validation" if run_dir is not None else "golden")


def reference_artifact(run_dir: Path, batch_sizes: tuple[int, ...] | None) -> Artifact:
    """The eager PyTorch checkpoint (checkpoints/best_model.pt) as a row of its own."""
    ckpt = Path(run_dir) / "checkpoints" / "best_model.pt"
    if not ckpt.is_file():
        raise UsageError(f"{ckpt}: no checkpoint to time as the reference")
    return Artifact(name=REFERENCE, path=ckpt, target="torch", precision="fp32", fmt="pytorch",
                    size_bytes=ckpt.stat().st_size, batch_sizes=batch_sizes or DEFAULT_BATCH_SIZES,
                    parity={"passed": True, "accuracy_candidate": reference_accuracy(run_dir)})


def reference_accuracy(run_dir: Path) -> float | None:
    """The reference's validation accuracy as the parity reports recorded it (None if none has)."""
    for path in sorted((Path(run_dir) / "parity").glob("*.json")):
        acc = (read_parity(run_dir, path.stem) or {}).get("accuracy_reference")
        if isinstance(acc, float | int):
            return float(acc)
    return None


def default_loader(path: Path, device: str = "cpu", **opts: Any) -> Backend:
    """The toolkit's registry (imported late, so the harness loads without every runtime)."""
    from phoneprice_edge.backends.registry import load_backend

    return load_backend(path, device=device, **opts)


def cuda_sync(device: str) -> Callable[[], None] | None:
    """torch.cuda.synchronize for CUDA points (so no kernel is still running when the clock stops)."""
    if not is_cuda(device):
        return None
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        raise BackendUnavailable(f"--device {device} was requested but torch sees no CUDA device")
    return functools.partial(torch.cuda.synchronize, device)


def check_device(backend: Backend, artifact: str, device: str) -> None:
    """Refuse to report a CPU run as a GPU run (a provider that silently fell back)."""
    got = str(getattr(backend, "device", "cpu"))
    if is_cuda(device) and not is_cuda(got):
        raise BackendUnavailable(f"{artifact}: asked for {device} but the {backend.name} backend runs "
                                 f"on {got}")


def result_row(art: Artifact, device: str, batch: int, threads: int, stats: LatencyStats,
               load_ms: float, peak_mb: float | None, backend_name: str) -> dict[str, Any]:
    """One results[] entry of report.json (the keys in CLI.md first, then extras)."""
    parity = art.parity or {}
    mean_s = stats.mean_us / 1e6
    return {
        "artifact": art.name, "target": art.target, "precision": art.precision, "device": device,
        "batch_size": batch, "threads": threads, "p50_us": round(stats.p50_us, 3),
        "p90_us": round(stats.p90_us, 3), "p99_us": round(stats.p99_us, 3),
        "mean_us": round(stats.mean_us, 3),
        "throughput_rows_s": round(batch / mean_s, 1) if mean_s > 0 else None,
        "load_ms": round(load_ms, 3), "size_bytes": art.size_bytes,
        "parity_passed": parity.get("passed"),
        "std_us": round(stats.std_us, 3), "min_us": round(stats.min_us, 3), "iters": stats.iters,
        "wall_s": round(stats.wall_s, 3),
        "throughput_p50_rows_s": round(batch / (stats.p50_us / 1e6), 1) if stats.p50_us > 0 else None,
        "peak_rss_mb": round(peak_mb, 1) if peak_mb is not None else None,
        "accuracy": parity.get("accuracy_candidate"), "format": art.fmt, "backend": backend_name,
        "int8_mac_share": share_of(art.manifest), "inputs": art.inputs,
    }


def prime_imports(target: str) -> None:
    """Import a target's runtime and backend module before its load is timed.

    load_ms then measures what a deployed process pays per model (manifest sha256 check, session
    creation or compilation), not the one-time import of the vendor library.
    """
    import importlib

    from phoneprice_edge.targets import TARGETS

    spec = TARGETS.get(target)
    if spec is None:  # the reference checkpoint
        with contextlib.suppress(ImportError):
            importlib.import_module("torch")
        return
    for module in spec.packages:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    with contextlib.suppress(ImportError, AttributeError):
        spec.load_backend()


def timed_load(load: Callable[[], Backend]) -> tuple[Backend, float]:
    """Load a backend and the wall time it took, in milliseconds (cold: a fresh session)."""
    t0 = time.perf_counter_ns()
    backend = load()
    return backend, (time.perf_counter_ns() - t0) / 1e6


TORCH_BACKENDS = ("torch", "torchscript")


def measure_point(backend: Backend, rows: np.ndarray, batch: int, plan: TimingPlan,
                  device: str) -> tuple[LatencyStats, float | None, dict[str, Any]]:
    """Time backend.run on rotating real-row buffers of one batch size.

    Returns the wall-clock stats, the peak RSS (MB) and extra row fields: for torch backends on
    CUDA, the same calls timed with torch.cuda.Event pairs (gpu_event_p50_us, gpu_event_p99_us).
    """
    inputs = make_inputs(rows, batch)
    with PeakRSS() as mem:
        stats, _ = time_calls(backend.run, inputs, plan, sync=cuda_sync(device))
    extra: dict[str, Any] = {}
    if is_cuda(device) and backend.name in TORCH_BACKENDS:
        import torch

        with torch.cuda.device(device):  # the events are recorded on that GPU's stream
            ev = cuda_event_stats(backend.run, inputs, plan)
        extra = {"gpu_event_p50_us": round(ev.p50_us, 3), "gpu_event_p99_us": round(ev.p99_us, 3)}
    return stats, mem.peak_mb, extra
