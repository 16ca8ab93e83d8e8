"""Drive a benchmark: load each artifact per thread count, time every batch size, collect a report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phoneprice_edge.backends.base import Backend
from phoneprice_edge.backends.common import artifact_file
from phoneprice_edge.bench import harness as h
from phoneprice_edge.bench.env import capture_env
from phoneprice_edge.bench.int8 import int8_flags
from phoneprice_edge.bench.overhead import measure_overhead, round_plan, summarise
from phoneprice_edge.bench.timing import N_BUFFERS
from phoneprice_edge.errors import BackendUnavailable, UsageError

Progress = Callable[[int], None]


@dataclass
class BenchReport:
    """What pe-bench writes to report.json: env, results, overhead (+ settings and skipped)."""

    env: dict[str, Any]
    results: list[dict[str, Any]]
    overhead: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    compare: dict[str, Any] | None = None
    int8_flags: list[str] = field(default_factory=list)  # int8 no smaller or no faster than fp32 (bench/int8.py)

    def to_dict(self) -> dict[str, Any]:
        d = {"env": self.env, "settings": self.settings, "results": self.results,
             "overhead": self.overhead, "skipped": self.skipped, "int8_flags": self.int8_flags}
        if self.compare is not None:
            d["compare"] = self.compare
        return d


def artifacts_of(cfg: h.BenchConfig) -> list[h.Artifact]:
    """The artifacts to time, the reference checkpoint first when asked for."""
    arts = [h.describe_artifact(p, cfg.run_dir, cfg.batch_sizes) for p in cfg.artifacts]
    if cfg.reference and cfg.run_dir is not None:
        sizes = cfg.batch_sizes or tuple(sorted({b for a in arts for b in a.batch_sizes}))
        arts.insert(0, h.reference_artifact(cfg.run_dir, sizes or None))
    names = [a.name for a in arts]
    if len(set(names)) != len(names):
        raise UsageError(f"artifact names must be unique (folder names), got {names}")
    return arts


def count_points(cfg: h.BenchConfig, arts: list[h.Artifact] | None = None) -> int:
    """How many (artifact, threads, batch) points the sweep has (for a progress bar)."""
    arts = artifacts_of(cfg) if arts is None else arts
    return sum(len(a.batch_sizes) for a in arts) * len(cfg.threads)


def open_backend(art: h.Artifact, cfg: h.BenchConfig, loader: h.Loader,
                 threads: int) -> tuple[Backend, float]:
    """Load (timed) one artifact for one thread count and check it runs on the requested device."""
    h.prime_imports(art.target)
    if art.name == h.REFERENCE and cfg.reference_loader is not None and cfg.run_dir is not None:
        ref_load, run_dir = cfg.reference_loader, cfg.run_dir
        backend, ms = h.timed_load(lambda: ref_load(run_dir, cfg.device, threads))
    else:
        backend, ms = h.timed_load(lambda: loader(art.path, device=cfg.device, threads=threads))
    try:
        h.check_device(backend, art.name, cfg.device)
    except BackendUnavailable:
        backend.close()
        raise
    return backend, ms


def _sweep_one(art: h.Artifact, threads: int, cfg: h.BenchConfig, loader: h.Loader,
               rows: np.ndarray, progress: Progress) -> tuple[list[dict[str, Any]], dict | None]:
    backend, load_ms = open_backend(art, cfg, loader, threads)
    rows_out: list[dict[str, Any]] = []
    overhead = None
    try:
        for batch in art.batch_sizes:
            stats, peak, extra = h.measure_point(backend, rows, batch, cfg.plan, cfg.device)
            rows_out.append({**h.result_row(art, cfg.device, batch, threads, stats, load_ms, peak,
                                            backend.name), **extra})
            progress(1)
        if cfg.overhead and art.target == "onnx" and art.manifest is not None:
            path = artifact_file(art.path, art.manifest, "onnx")
            overhead = measure_overhead(backend, path, rows, threads, rounds=cfg.overhead_rounds,
                                        plan=round_plan(cfg.plan))
            overhead = {"artifact": art.name, "precision": art.precision, **overhead}
    finally:
        backend.close()
    return rows_out, overhead


def run_bench(cfg: h.BenchConfig, loader: h.Loader | None = None,
              progress: Progress | None = None,
              skipped: list[dict[str, str]] | None = None, arts: list[h.Artifact] | None = None,
              rows: np.ndarray | None = None) -> BenchReport:
    """Time every artifact x thread count x batch size; skipped lists artifacts left out earlier.

    arts (artifacts_of(cfg)) and rows (the validation rows) are built here unless the caller
    already has them."""
    loader = loader or h.default_loader
    progress = progress or (lambda n: None)
    rows = bench_rows(cfg) if rows is None else rows
    h.cuda_sync(cfg.device)  # a requested CUDA device that is absent fails here, before any work
    results: list[dict[str, Any]] = []
    overhead: list[dict[str, Any]] = []
    skipped = list(skipped or [])
    arts = artifacts_of(cfg) if arts is None else arts
    for art in arts:
        for threads in cfg.threads:
            try:
                got, ovh = _sweep_one(art, threads, cfg, loader, rows, progress)
            except BackendUnavailable as exc:
                if not cfg.skip_unavailable:
                    raise
                skipped.append({"artifact": art.name, "reason": str(exc)})
                progress(len(art.batch_sizes) * (len(cfg.threads) - cfg.threads.index(threads)))
                break
            results.extend(got)
            if ovh is not None:
                overhead.append(ovh)
    files = {a.name: dict(a.manifest.files) if a.manifest else {} for a in arts}
    return BenchReport(env=capture_env(list(cfg.threads), cfg.device), results=results,
                       overhead=summarise(overhead), settings=settings_of(cfg), skipped=skipped,
                       int8_flags=int8_flags(results, files))


def bench_rows(cfg: h.BenchConfig) -> np.ndarray:
    """What every point feeds: the run's validation rows, else the artifacts' golden rows."""
    if cfg.run_dir is not None:
        return h.load_val_rows(cfg.run_dir)
    return h.golden_inputs(cfg.artifacts)


def settings_of(cfg: h.BenchConfig) -> dict[str, Any]:
    """The sweep's own settings, recorded so that a later run can be made comparable."""
    p = cfg.plan
    return {"run_dir": str(cfg.run_dir) if cfg.run_dir else None,
            "inputs": "validation rows" if cfg.run_dir else "golden rows", "device": cfg.device, "threads": list(cfg.threads),
            "batch_sizes": list(cfg.batch_sizes) if cfg.batch_sizes else "per manifest",
            "min_iters": p.min_iters, "min_time_s": p.min_time_s, "warmup_iters": p.warmup_iters,
            "warmup_time_s": p.warmup_time_s, "input_buffers": N_BUFFERS,
            "timer": "time.perf_counter_ns around each backend.run call",
            "throughput": "throughput_rows_s = batch / mean latency (carries every preemption of "
                          "a busy machine); throughput_p50_rows_s = batch / p50",
            "load_ms": "files to a ready backend (manifest sha256 check, session creation or "
                       "compilation), runtime library already imported",
            "peak_rss": "process-wide high-water mark during the point (VmHWM reset per point "
                        "on Linux), includes Python and every loaded runtime"}




def make_remeasure(cfg: h.BenchConfig, loader: h.Loader | None = None,
                   arts: list[h.Artifact] | None = None, rows: np.ndarray | None = None
                   ) -> Callable[[dict[str, Any]], float]:
    """A function that times one result row's point again and returns its new p50 (us); arts and
    rows as for run_bench."""
    loader = loader or h.default_loader
    rows = bench_rows(cfg) if rows is None else rows
    by_name = {a.name: a for a in (artifacts_of(cfg) if arts is None else arts)}

    def remeasure(row: dict[str, Any]) -> float:
        art = by_name[row["artifact"]]
        backend, _ = open_backend(art, cfg, loader, int(row["threads"]))
        try:
            stats, _, _ = h.measure_point(backend, rows, int(row["batch_size"]), cfg.plan, cfg.device)
        finally:
            backend.close()
        return stats.p50_us

    return remeasure
