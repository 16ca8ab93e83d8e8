"""The training reference for drift: per-feature bins, proportions and a sample, from RUN_DIR/data/train.npz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.errors import DataError
from phoneprice_edge.io_utils import atomic_write_json, sha256_file
from phoneprice_edge.schema import FeatureSchema

REFERENCE_FORMAT = "phoneprice_edge.monitor.reference/1"
SAMPLE_MAX = 5000


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X float64 [n, F] and y of a run's data/*.npz (export.runner.load_split, widened)."""
    from phoneprice_edge.export.runner import load_split

    if not path.is_file():
        raise DataError(f"{path}: not found (is this a run folder written by pe-train?)")
    X, y = load_split(path)
    return X.astype(np.float64), y


def feature_bins(x: np.ndarray, bins: int, max_categories: int) -> dict[str, Any]:
    """Categories (few distinct values) or inner quantile edges (continuous) for one feature."""
    x = x[np.isfinite(x)]
    uniq = np.unique(x)
    if len(uniq) <= max_categories:
        return {"type": "categorical", "categories": uniq.tolist()}
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    return {"type": "quantile", "edges": edges.tolist()}


def bin_counts(x: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Counts per bin of the finite values of x; categorical bins get a last 'other' bin."""
    x = x[np.isfinite(x)]
    if spec["type"] == "categorical":
        cats = np.asarray(spec["categories"], dtype=np.float64)
        idx = np.searchsorted(cats, x)
        idx_c = np.clip(idx, 0, len(cats) - 1)
        hit = cats[idx_c] == x
        out = np.bincount(idx_c[hit], minlength=len(cats)).astype(np.float64)
        return np.append(out, float((~hit).sum()))
    edges = np.asarray(spec["edges"], dtype=np.float64)
    return np.bincount(np.searchsorted(edges, x, side="left"),
                       minlength=len(edges) + 1).astype(np.float64)


def bin_labels(spec: dict[str, Any]) -> list[str]:
    if spec["type"] == "categorical":
        return [f"{c:g}" for c in spec["categories"]] + ["other"]
    e = spec["edges"]
    return [f"<={e[0]:g}"] + [f"({a:g},{b:g}]" for a, b in zip(e[:-1], e[1:], strict=True)] + [f">{e[-1]:g}"]


def predict_classes(run_dir: Path, X: np.ndarray) -> np.ndarray | None:
    """Class indices from the run's best checkpoint (rows with a non-finite value are skipped: -1)."""
    ckpt = run_dir / "checkpoints" / "best_model.pt"
    if not ckpt.is_file():
        return None
    from phoneprice_edge.checkpoint import load_model
    from phoneprice_edge.evaluate import predict_logits

    out = np.full(len(X), -1, dtype=np.int64)
    ok = np.isfinite(X).all(axis=1)
    if ok.any():
        out[ok] = predict_logits(load_model(ckpt).model, X[ok]).argmax(1)
    return out


def build_reference(run_dir: str | Path, *, bins: int = 10, max_categories: int = 25,
                    seed: int = 0, write: bool = True) -> dict[str, Any]:
    """Reference statistics of the run's training split; written to RUN_DIR/monitor/reference.json."""
    run_dir = Path(run_dir)
    schema = FeatureSchema.load(run_dir / "schema.json")
    train = run_dir / "data" / "train.npz"
    X, y = load_npz(train)
    if X.ndim != 2 or X.shape[1] != schema.n_features:
        raise DataError(f"{train}: X has shape {X.shape}, schema has {schema.n_features} features")
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(X), size=min(len(X), SAMPLE_MAX), replace=False))
    feats = []
    for j, name in enumerate(schema.feature_names):
        spec = feature_bins(X[:, j], bins, max_categories)
        counts = bin_counts(X[:, j], spec)
        feats.append({"name": name, **spec, "props": (counts / max(counts.sum(), 1)).tolist(),
                      "sample": np.sort(X[take, j]).tolist()})
    c = schema.n_classes
    pred = predict_classes(run_dir, X)
    ref: dict[str, Any] = {
        "format": REFERENCE_FORMAT, "train_sha256": sha256_file(train), "n_rows": int(len(X)),
        "bins": bins, "max_categories": max_categories, "classes": list(schema.classes),
        "features": feats,
        "true_props": _props(y, c),
        "pred_props": None if pred is None else _props(pred[pred >= 0], c),
    }
    if write:
        atomic_write_json(run_dir / "monitor" / "reference.json", ref)
    return ref


def _props(v: np.ndarray, c: int) -> list[float]:
    counts = np.bincount(np.asarray(v, dtype=np.int64), minlength=c)[:c].astype(np.float64)
    return (counts / max(counts.sum(), 1)).tolist()


def load_reference(run_dir: str | Path, *, bins: int = 10, max_categories: int = 25) -> dict[str, Any]:
    """RUN_DIR/monitor/reference.json, rebuilt when absent, stale (train.npz changed) or binned otherwise."""
    run_dir = Path(run_dir)
    path = run_dir / "monitor" / "reference.json"
    train = run_dir / "data" / "train.npz"
    if path.is_file():
        try:
            ref = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            ref = None
        if (isinstance(ref, dict) and ref.get("format") == REFERENCE_FORMAT
                and ref.get("bins") == bins and ref.get("max_categories") == max_categories
                and train.is_file() and ref.get("train_sha256") == sha256_file(train)):
            return ref
    return build_reference(run_dir, bins=bins, max_categories=max_categories)
