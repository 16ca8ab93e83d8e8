"""Evaluation: metrics (numpy, scikit-learn's formulas), metrics.json, report.md and plots for a run, a file or an artifact."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.io_utils import atomic_write_json, atomic_write_text


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, X: np.ndarray, batch: int = 65536) -> np.ndarray:
    """float32 logits of a torch model on raw features (eval mode, CPU)."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(torch.from_numpy(np.ascontiguousarray(X[i:i + batch], dtype=np.float32)).to(device))
           .cpu().numpy() for i in range(0, len(X), batch)]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def compute_metrics(y_true: np.ndarray, logits: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted P/R/F1, one-vs-rest macro AUC, confusion matrix, per-class report."""
    return metrics_from_prob(y_true, softmax(np.asarray(logits, dtype=np.float64)), classes)


def metrics_from_prob(y_true: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """compute_metrics on class probabilities already computed (softmax of the logits).

    numpy (phoneprice_edge.metrics: scikit-learn's formulas, the same floats), so that neither
    `pe train` nor `pe eval` pays for importing scikit-learn here.
    """
    from phoneprice_edge.metrics import classification_metrics

    return classification_metrics(y_true, prob, classes)


@dataclass
class EvalResult:
    """Where an evaluation wrote its files, and the metrics."""

    out_dir: Path
    metrics: dict[str, Any]
    plots: list[Path]


def _eval_data(run_dir: Path, data: str | None, schema: Any) -> tuple[np.ndarray, np.ndarray, str]:
    if data is None:
        from phoneprice_edge.training.rundir import load_npz

        path = run_dir / "data" / "val.npz"
        if not path.is_file():
            raise UsageError(f"{run_dir}: no data/val.npz (not a finished training run?)")
        X, y = load_npz(path)
        return X, y, "validation rows (data/val.npz)"
    from phoneprice_edge.data import load_dataset

    base = type(schema)(schema.features, schema.label, schema.classes, meta=schema.meta)
    ds = load_dataset(data, schema=base)
    if ds.y is None:
        raise DataError(f"{data}: no label column {schema.label!r}; evaluation needs labelled rows")
    return ds.X, ds.y, str(data)


def _logits(run_dir: Path, artifact: str | None, X: np.ndarray) -> tuple[np.ndarray, str]:
    if artifact is None:
        from phoneprice_edge.checkpoint import load_model

        loaded = load_model(run_dir / "checkpoints" / "best_model.pt")
        return predict_logits(loaded.model, X), "checkpoints/best_model.pt (PyTorch)"
    try:
        from phoneprice_edge.backends.registry import load_backend
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("phoneprice_edge"):
            raise UsageError("--artifact needs phoneprice_edge.backends.registry, which is not "
                             "in this build yet") from None
        raise
    with load_backend(artifact, device="cpu") as backend:
        return np.asarray(backend.run(np.ascontiguousarray(X, dtype=np.float32))), f"artifact {artifact}"


def evaluate_run(run_dir: str | Path, *, data: str | None = None, artifact: str | None = None,
                 out_dir: str | Path | None = None, plots: bool = True) -> EvalResult:
    """Evaluate a run's best model (or an exported artifact) and write metrics, report and plots.

    Without --data/--artifact the results go into the run folder itself (keeping its `cv`);
    otherwise into RUN_DIR/eval/<name>/ unless out_dir is given.
    """
    from phoneprice_edge.schema import FeatureSchema

    run_dir = Path(run_dir)
    if not (run_dir / "schema.json").is_file():
        raise UsageError(f"{run_dir}: not a run folder (no schema.json)")
    schema = FeatureSchema.load(run_dir / "schema.json")
    X, y, data_name = _eval_data(run_dir, data, schema)
    logits, model_name = _logits(run_dir, artifact, X)
    prob = softmax(np.asarray(logits, dtype=np.float64))
    metrics = metrics_from_prob(y, prob, list(schema.classes))
    metrics.update(data=data_name, model=model_name)
    default_place = data is None and artifact is None
    target = Path(out_dir) if out_dir else run_dir if default_place else \
        run_dir / "eval" / _eval_name(data, artifact)
    previous = _read_json(target / "metrics.json") if default_place or out_dir else {}
    for key in ("cv", "val_held_out", "train_seconds", "train_samples"):
        if key in previous:
            metrics[key] = previous[key]
    atomic_write_json(target / "metrics.json", metrics)
    written: list[Path] = []
    if plots:
        from phoneprice_edge.plots import write_plots

        history = run_dir / "history.jsonl" if default_place else None
        written = write_plots(target / "plots", y, prob, list(schema.classes), history,
                              cm=np.asarray(metrics["confusion_matrix"]))
    atomic_write_text(target / "report.md", render_report(metrics, list(schema.classes), written,
                                                          target))
    return EvalResult(target, metrics, written)


def _eval_name(data: str | None, artifact: str | None) -> str:
    parts = []
    if artifact:
        parts.append(Path(artifact).name)
    if data:
        parts.append(Path(str(data)).stem.replace(" ", "_") or "data")
    return "_on_".join(parts)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def render_report(m: dict[str, Any], classes: list[str], plots: list[Path], base: Path) -> str:
    """report.md: headline metrics, cv, confusion matrix, per-class table, plot links."""
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.2f}%"

    auc = "n/a" if m["auc_ovr_macro"] is None else f"{m['auc_ovr_macro']:.4f}"
    lines = ["# Evaluation report", "", f"- model: {m.get('model', '')}",
             f"- data: {m.get('data', '')} ({m['n']} rows)", "",
             "| metric | value |", "|---|---|", f"| accuracy | {pct(m['accuracy'])} |",
             f"| macro precision / recall / F1 | {m['macro_precision']:.4f} / "
             f"{m['macro_recall']:.4f} / {m['macro_f1']:.4f} |",
             f"| weighted precision / recall / F1 | {m['weighted_precision']:.4f} / "
             f"{m['weighted_recall']:.4f} / {m['weighted_f1']:.4f} |",
             f"| one-vs-rest macro AUC | {auc} |", ""]
    if m.get("val_held_out") is False:
        lines += ["Note: after a k-fold `--refit`, the validation rows were also trained on; "
                  "the cross-validation scores below are the honest estimate.", ""]
    if "cv" in m:
        cv = m["cv"]
        lines += [f"## {cv.get('k', len(cv['folds']))}-fold cross-validation", "",
                  f"accuracy {pct(cv['accuracy_mean'])} ± {pct(cv['accuracy_std'])}, "
                  f"macro F1 {cv['macro_f1_mean']:.4f}", "", "| fold | accuracy | macro F1 |",
                  "|---|---|---|"]
        lines += [f"| {f['fold']} | {pct(f['accuracy'])} | {f['macro_f1']:.4f} |" for f in cv["folds"]]
        lines.append("")
    lines += ["## Confusion matrix (rows: true, columns: predicted)", "",
              "| | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    lines += [f"| **{c}** | " + " | ".join(str(v) for v in row) + " |"
              for c, row in zip(classes, m["confusion_matrix"], strict=True)]
    lines += ["", "## Classification report", "", "```",
              _report_text(m["report"], classes), "```", ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.relative_to(base).as_posix()})" for p in plots]
    return "\n".join(lines) + "\n"


def _report_text(report: dict[str, Any], classes: list[str]) -> str:
    """The scikit-learn text layout rebuilt from its dict form (same numbers, no second pass)."""
    rows = [f"{'':>14}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>10}", ""]
    for name in [*classes, "macro avg", "weighted avg"]:
        r = report[name]
        rows.append(f"{name:>14}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1-score']:>10.4f}"
                    f"{int(r['support']):>10d}")
        if name == classes[-1]:
            rows += ["", f"{'accuracy':>14}{'':>20}{report['accuracy']:>10.4f}"
                         f"{int(report['macro avg']['support']):>10d}"]
    return "\n".join(rows)
