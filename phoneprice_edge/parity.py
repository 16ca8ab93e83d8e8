"""Numerical parity of an exported artifact against the PyTorch reference.

Top-1 agreement is a numerical property of the artifact, so it is judged over every row of the
run's table (training plus validation rows: 2000 on the phone data, where 400 would leave a
4-row margin), reported with the number of disagreeing rows and a 95% Wilson interval.
Accuracy (reference and candidate), max abs/rel errors and batch invariance use the validation
split.

Relative error is |cand - ref| / max(|ref|, 1): relative for large logits, absolute near zero
(so a logit of 1e-6 does not blow the ratio up). Batch invariance: row i of a batch of N must
give its batch-1 answer (within batch_max_abs, or, when that is None as for int8 with per-call
activation scales, the same top-1 class for at least min_top1_agreement of the rows).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.artifact import Manifest, read_manifest
from phoneprice_edge.backends.base import Backend
from phoneprice_edge.export.manifest import update_manifest
from phoneprice_edge.export.profile import Tolerance
from phoneprice_edge.io_utils import atomic_write_json, atomic_write_text

BATCH_SIZES = (1, 7, 64, 1024)


@dataclass
class ParityReport:
    """The result of one parity check (written to RUN_DIR/parity/<profile>.json)."""

    passed: bool
    max_abs_diff: float
    max_rel_diff: float
    top1_agreement: float
    accuracy_reference: float
    accuracy_candidate: float
    batch_invariant: bool
    profile: str = ""
    target: str = ""
    precision: str = ""
    n_rows: int = 0
    tolerance: dict[str, Any] = field(default_factory=dict)
    batch_max_abs_diff: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    n_rows_all: int = 0  # rows the top-1 agreement is judged on (training + validation)
    disagreeing_rows: int = 0
    top1_agreement_ci95: list[float] = field(default_factory=list)
    top1_agreement_val: float = 1.0
    int8_share: dict[str, Any] | None = None  # int8 layers and weight MACs (int8 artifacts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff_stats(cand: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max abs diff, max rel diff with the max(|ref|, 1) denominator)."""
    d = np.abs(cand.astype(np.float64) - ref.astype(np.float64))
    return float(d.max()), float((d / np.maximum(np.abs(ref), 1.0)).max())


def wilson_interval(k: int, n: int, z: float = 1.96) -> list[float]:
    """95% Wilson score interval of a proportion k/n ([0, 1] for n = 0)."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z / d * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def agreement(ref: np.ndarray, cand: np.ndarray) -> dict[str, Any]:
    """Top-1 agreement of two logit arrays: share, disagreeing rows, rows, 95% interval."""
    same = int((cand.argmax(1) == ref.argmax(1)).sum())
    n = len(ref)
    return {"top1_agreement": same / n if n else 1.0, "disagreeing_rows": n - same,
            "n_rows_all": n, "top1_agreement_ci95": wilson_interval(same, n)}


def compare(ref: np.ndarray, cand: np.ndarray, y: np.ndarray, tol: Tolerance,
            all_ref: np.ndarray | None = None,
            all_cand: np.ndarray | None = None) -> tuple[dict[str, Any], list[str]]:
    """Metrics of candidate logits against reference logits (validation rows), and the tolerance
    failures; top-1 agreement is judged on all_ref/all_cand (every row) when given."""
    max_abs, max_rel = diff_stats(cand, ref)
    agree_stats = agreement(ref if all_ref is None else all_ref,
                            cand if all_cand is None else all_cand)
    agree = agree_stats["top1_agreement"]
    acc_ref, acc_cand = float((ref.argmax(1) == y).mean()), float((cand.argmax(1) == y).mean())
    fails = []
    if not np.isfinite(cand).all():
        fails.append("candidate produced non-finite logits")
    if tol.max_abs is not None and not max_abs <= tol.max_abs:
        fails.append(f"max abs diff {max_abs:.3g} > {tol.max_abs:g}")
    if tol.max_rel is not None and not max_rel <= tol.max_rel:
        fails.append(f"max rel diff {max_rel:.3g} > {tol.max_rel:g}")
    if agree < tol.min_top1_agreement:
        fails.append(f"top-1 agreement {agree:.4f} < {tol.min_top1_agreement:g} "
                     f"({agree_stats['disagreeing_rows']} of {agree_stats['n_rows_all']} rows differ)")
    drop = (acc_ref - acc_cand) * 100
    if tol.max_accuracy_drop is not None and drop > tol.max_accuracy_drop + 1e-9:  # float slack
        fails.append(f"accuracy drop {drop:.2f} points > {tol.max_accuracy_drop:g}")
    stats = {"max_abs_diff": max_abs, "max_rel_diff": max_rel, **agree_stats,
             "top1_agreement_val": float((cand.argmax(1) == ref.argmax(1)).mean()),
             "accuracy_reference": acc_ref, "accuracy_candidate": acc_cand}
    return stats, fails


def batch_invariance(cand: Backend, x: np.ndarray, single: np.ndarray, tol: Tolerance,
                     sizes: tuple[int, ...]) -> tuple[float, list[str]]:
    """Run batches of each size (val rows tiled); compare row i with its batch-1 answer."""
    worst, fails = 0.0, []
    n_cls = single.shape[1]
    for n in sizes:
        idx = np.arange(n) % len(x)
        out = cand.run(np.ascontiguousarray(x[idx]))
        if out.shape != (n, n_cls) or out.dtype != np.float32:
            fails.append(f"batch {n}: got {out.dtype} {list(out.shape)}, want float32 [{n}, {n_cls}]")
            continue
        d = float(np.abs(out - single[idx]).max())
        worst = max(worst, d)
        if tol.batch_max_abs is not None:
            if not d <= tol.batch_max_abs:
                fails.append(f"batch {n}: rows differ from their batch-1 answers by {d:.3g} "
                             f"> {tol.batch_max_abs:g}")
        else:
            agree = float((out.argmax(1) == single[idx].argmax(1)).mean())
            if agree < tol.min_top1_agreement:
                fails.append(f"batch {n}: top-1 agrees with batch-1 answers for {agree:.4f} "
                             f"< {tol.min_top1_agreement:g}")
    return worst, fails


def check_parity(run_dir: str | Path, artifact_dir: str | Path, device: str = "cpu") -> ParityReport:
    """Compare an export folder with the run's PyTorch checkpoint: top-1 agreement on every row
    of RUN_DIR/data/{train,val}.npz, the rest on the validation rows."""
    from phoneprice_edge.backends.registry import load_backend
    from phoneprice_edge.export.reference import load_reference
    from phoneprice_edge.export.runner import load_split

    run_dir, artifact_dir = Path(run_dir), Path(artifact_dir)
    manifest = read_manifest(artifact_dir)
    tol = _tolerance(manifest)
    x, y = load_split(run_dir / "data" / "val.npz")
    train_x, _ = load_split(run_dir / "data" / "train.npz")
    max_batch = manifest.max_batch
    sizes = tuple(b for b in BATCH_SIZES if b <= max_batch)
    with load_reference(run_dir) as ref_b, load_backend(artifact_dir, device=device) as cand:
        ref = ref_b.run(x)
        full = _batched(cand, x, max_batch)
        single = np.concatenate([cand.run(x[i:i + 1]) for i in range(len(x))])
        train_ref, train_cand = ref_b.run(train_x), _batched(cand, train_x, max_batch)
        stats, fails = compare(ref, full, y, tol, np.concatenate([train_ref, ref]),
                               np.concatenate([train_cand, full]))
        worst, bfails = batch_invariance(cand, x, single, tol, sizes)
    return ParityReport(passed=not fails and not bfails, batch_invariant=not bfails,
                        profile=manifest.profile_name or artifact_dir.name,
                        target=manifest.target, precision=manifest.precision,
                        n_rows=len(x), tolerance=tol.to_dict(), batch_max_abs_diff=worst,
                        batch_sizes=list(sizes), failures=fails + bfails,
                        int8_share=manifest.fact("int8_share"), **stats)


def _batched(backend: Backend, x: np.ndarray, max_batch: int) -> np.ndarray:
    """Run x through the backend in chunks of at most max_batch rows."""
    return np.concatenate([backend.run(x[i:i + max_batch]) for i in range(0, len(x), max_batch)])


def _tolerance(manifest: Manifest) -> Tolerance:
    """The tolerance the profile was exported with, else the precision's defaults."""
    t = manifest.profile.get("tolerance")
    if t:
        return Tolerance(**t)
    return Tolerance.default_for(manifest.precision)


def _interval(ci: Any) -> str:
    return f"{ci[0]:.4f}-{ci[1]:.4f}" if ci else ""


def share_text(share: Any) -> str:
    """The int8 share's one-line summary (export/int8_share.py), or '' for a float artifact."""
    from phoneprice_edge.export.int8_share import share_summary

    return share_summary(share) if share else ""


def save_report(run_dir: str | Path, artifact_dir: str | Path, report: ParityReport) -> Path:
    """RUN_DIR/parity/<profile>.json, the artifact manifest's parity field, and report.md."""
    out = Path(run_dir) / "parity" / f"{report.profile}.json"
    atomic_write_json(out, report.to_dict())
    update_manifest(artifact_dir, parity={k: v for k, v in report.to_dict().items()
                                          if k not in ("tolerance", "failures")})
    write_markdown(Path(run_dir) / "parity")
    return out


def write_markdown(parity_dir: Path) -> Path:
    """A Markdown table of every parity/*.json in the folder (report.md)."""
    rows = ["| profile | target | precision | passed | max abs | max rel | top-1 agree (all rows) | "
            "differing rows | 95% interval | acc ref | acc cand | batch inv. | int8 share |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in sorted(parity_dir.glob("*.json")):
        r = json.loads(p.read_text(encoding="utf-8"))
        rows.append(f"| {r['profile']} | {r['target']} | {r['precision']} | "
                    f"{'yes' if r['passed'] else '**no**'} | {r['max_abs_diff']:.3g} | "
                    f"{r['max_rel_diff']:.3g} | {r['top1_agreement']:.4f} | "
                    f"{r.get('disagreeing_rows', '')} of {r.get('n_rows_all', '')} | "
                    f"{_interval(r.get('top1_agreement_ci95'))} | "
                    f"{r['accuracy_reference']:.4f} | {r['accuracy_candidate']:.4f} | "
                    f"{'yes' if r['batch_invariant'] else 'no'} | {share_text(r.get('int8_share'))} |")
    text = ("# Parity against the PyTorch reference\n\nTop-1 agreement over every row (training "
            "and validation); accuracy, errors and batch invariance on the validation split.\n\n"
            + "\n".join(rows) + "\n")
    return atomic_write_text(parity_dir / "report.md", text)
