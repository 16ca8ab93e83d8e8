"""The harness's own overhead: the toolkit's ONNX Runtime backend against a bare InferenceSession.

Both run the same ONNX file, inputs and session settings at batch 1, interleaved in rounds
(ABAB... with the order flipped every round) so that a noisy, shared machine hits both alike;
the figure is the median over rounds of the per-round p50 ratio.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.backends.base import Backend
from phoneprice_edge.bench.timing import TimingPlan, make_inputs, time_calls

OVERHEAD_LIMIT = 1.3  # backend p50 / bare p50 at batch 1
ROUND_PLAN = TimingPlan(min_iters=200, min_time_s=0.15, warmup_iters=20, warmup_time_s=0.02)


def find_session(backend: Backend) -> Any | None:
    """The onnxruntime.InferenceSession a backend holds (any attribute), or None."""
    import onnxruntime as ort

    for value in vars(backend).values():
        if isinstance(value, ort.InferenceSession):
            return value
    return None


def bare_session(backend: Backend, path: Path, threads: int) -> Any:
    """A plain InferenceSession on path with the backend's own session options and providers.

    Where the backend's session cannot be found, the settings a user would write by hand:
    intra-op threads as given, one inter-op thread, every graph optimisation, CPU provider.
    """
    import onnxruntime as ort

    theirs = find_session(backend)
    if theirs is not None:
        providers = theirs.get_providers()
        prov_opts = theirs.get_provider_options()
        return ort.InferenceSession(str(path), sess_options=theirs.get_session_options(),
                                    providers=providers,
                                    provider_options=[prov_opts.get(p, {}) for p in providers])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def round_plan(point_plan: TimingPlan) -> TimingPlan:
    """Rounds as long as ROUND_PLAN, shorter when the sweep itself was asked to be short."""
    return TimingPlan(min_iters=min(ROUND_PLAN.min_iters, point_plan.min_iters),
                      min_time_s=min(ROUND_PLAN.min_time_s, max(0.01, point_plan.min_time_s / 3)),
                      warmup_iters=ROUND_PLAN.warmup_iters, warmup_time_s=0.02)


def measure_overhead(backend: Backend, path: Path, rows: np.ndarray, threads: int,
                     rounds: int = 7, plan: TimingPlan = ROUND_PLAN) -> dict[str, Any]:
    """Interleaved rounds of backend.run and bare session.run at batch 1; medians and the ratio."""
    sess = bare_session(backend, path, threads)
    in_name = sess.get_inputs()[0].name

    def bare(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {in_name: x})[0]

    inputs = make_inputs(rows, 1)
    same = bool(np.allclose(backend.run(inputs[0]), bare(inputs[0]), rtol=1e-5, atol=1e-6))
    backend_p50: list[float] = []
    bare_p50: list[float] = []
    for r in range(max(1, rounds)):
        order = (("backend", backend.run), ("bare", bare))
        for label, fn in order if r % 2 == 0 else order[::-1]:
            stats, _ = time_calls(fn, inputs, plan)
            (backend_p50 if label == "backend" else bare_p50).append(stats.p50_us)
    ratios = [a / b for a, b in zip(backend_p50, bare_p50, strict=True)]
    ratio = statistics.median(ratios)
    return {
        "onnx_file": path.name, "threads": threads, "batch_size": 1, "rounds": len(ratios),
        "providers": sess.get_providers(),
        "backend_p50_us": round(statistics.median(backend_p50), 3),
        "bare_p50_us": round(statistics.median(bare_p50), 3),
        "ratio": round(ratio, 3), "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3), "within_limit": ratio <= OVERHEAD_LIMIT,
        "same_outputs": same,
    }


def summarise(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The report.json "overhead" object: what was compared, the limit and every point."""
    worst = max((p["ratio"] for p in points), default=None)
    return {
        "what": "toolkit ONNX Runtime backend .run vs bare onnxruntime.InferenceSession.run, "
                "same file, inputs and session options, batch 1, interleaved rounds, medians",
        "limit": OVERHEAD_LIMIT,
        "max_ratio": worst,
        "passed": None if worst is None else worst <= OVERHEAD_LIMIT,
        "points": points,
    }
