"""Drift statistics of a live window against the training reference: PSI, KS, class mix, data quality."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from phoneprice_edge.errors import DataError
from phoneprice_edge.monitor.reference import bin_counts, bin_labels
from phoneprice_edge.monitor.thresholds import DriftThresholds
from phoneprice_edge.schema import FeatureSchema


def psi(ref_props: np.ndarray, live_counts: np.ndarray, ref_n: int) -> float:
    """Population stability index, sum (l - r) ln(l / r), with +0.5 smoothing of both histograms."""
    b = len(live_counts)
    ref_counts = np.asarray(ref_props, dtype=np.float64) * ref_n
    r = (ref_counts + 0.5) / (ref_n + 0.5 * b)
    n = float(live_counts.sum())
    if n == 0:
        return float("nan")
    live = (live_counts + 0.5) / (n + 0.5 * b)
    return float(np.sum((live - r) * np.log(live / r)))


def quality(X: np.ndarray, schema: FeatureSchema) -> dict[str, Any]:
    """Per-feature and per-row rates of missing and out-of-range values (schema ranges)."""
    missing = ~np.isfinite(X)
    lo, hi = schema.bounds()
    with np.errstate(invalid="ignore"):
        oor = np.isfinite(X) & ((X < lo) | (X > hi))
    n = max(len(X), 1)
    return {
        "missing_rate": float(missing.any(axis=1).sum() / n),
        "out_of_range_rate": float(oor.any(axis=1).sum() / n),
        "per_feature_missing": (missing.sum(axis=0) / n).tolist(),
        "per_feature_out_of_range": (oor.sum(axis=0) / n).tolist(),
    }


def _feature_alarm(p: float, ks_p: float, t: DriftThresholds, alpha: float) -> bool:
    by_psi = bool(p > t.psi)
    by_ks = bool(ks_p < alpha)
    return {"both": by_psi and by_ks, "either": by_psi or by_ks, "psi": by_psi, "ks": by_ks}[t.require]


def feature_drift(ref: dict[str, Any], X: np.ndarray, t: DriftThresholds, alpha: float) -> list[dict[str, Any]]:
    """PSI and KS per feature (NaN values excluded; they count as missing)."""
    out = []
    for j, fr in enumerate(ref["features"]):
        x = X[:, j]
        x = x[np.isfinite(x)]
        counts = bin_counts(x, fr)
        p = psi(np.asarray(fr["props"]), counts, ref["n_rows"])
        if len(x):
            ks = stats.ks_2samp(np.asarray(fr["sample"]), x)
            ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
        else:
            ks_stat, ks_p = float("nan"), float("nan")
        out.append({"name": fr["name"], "psi": p, "ks_stat": ks_stat, "ks_p": ks_p,
                    "alarm": _feature_alarm(p, ks_p, t, alpha) if len(x) else False,
                    "bins": bin_labels(fr), "ref_props": fr["props"],
                    "live_props": (counts / max(counts.sum(), 1)).tolist()})
    return out


def prediction_drift(ref: dict[str, Any], predicted: np.ndarray | None, t: DriftThresholds,
                     alpha: float) -> dict[str, Any] | None:
    """PSI and chi-square goodness of fit of the predicted-class counts against the reference mix."""
    key = "pred_props" if t.prediction_reference == "predicted" else "true_props"
    props = ref.get(key) or ref.get("true_props")
    if predicted is None or props is None:
        return None
    c = len(props)
    pred = predicted[(predicted >= 0) & (predicted < c)]
    if len(pred) == 0:
        return None
    counts = np.bincount(pred, minlength=c).astype(np.float64)
    p = psi(np.asarray(props), counts, ref["n_rows"])
    exp = (np.asarray(props) * ref["n_rows"] + 0.5) / (ref["n_rows"] + 0.5 * c) * counts.sum()
    chi = stats.chisquare(counts, exp)
    alarm = bool(p > t.prediction_psi and chi.pvalue < alpha)
    return {"reference": key.removesuffix("_props"), "psi": p, "chi2": float(chi.statistic),
            "chi2_p": float(chi.pvalue), "alarm": alarm, "ref_props": list(props),
            "live_props": (counts / counts.sum()).tolist(), "classes": ref["classes"]}


def compute_drift(ref: dict[str, Any], schema: FeatureSchema, X: np.ndarray,
                  predicted: np.ndarray | None, t: DriftThresholds) -> dict[str, Any]:
    """The whole verdict for one window: per-feature stats, class mix, quality, alarm and reasons."""
    # values as the model sees them (float32), so categories match the float32 training split
    X = np.asarray(X, dtype=np.float32).astype(np.float64)
    if X.ndim != 2 or X.shape[1] != schema.n_features:
        raise DataError(f"live window has shape {X.shape}, schema has {schema.n_features} features")
    if len(X) < t.min_rows:
        raise DataError(f"live window has {len(X)} rows; drift needs at least min_rows={t.min_rows}")
    alpha_f = t.ks_alpha / t.n_tests(schema.n_features)
    alpha_p = t.prediction_alpha / t.n_tests(schema.n_features)
    feats = feature_drift(ref, X, t, alpha_f)
    pred = prediction_drift(ref, predicted, t, alpha_p)
    q = quality(X, schema)
    reasons = [f"feature {f['name']}: PSI {f['psi']:.3f}, KS p {f['ks_p']:.2g}" for f in feats if f["alarm"]]
    if pred and pred["alarm"]:
        reasons.append(f"predicted-class mix: PSI {pred['psi']:.3f}, chi2 p {pred['chi2_p']:.2g}")
    if q["missing_rate"] > t.max_missing_rate:
        reasons.append(f"missing values in {q['missing_rate']:.1%} of rows (max {t.max_missing_rate:.1%})")
    if q["out_of_range_rate"] > t.max_out_of_range_rate:
        reasons.append(f"out-of-range values in {q['out_of_range_rate']:.1%} of rows "
                       f"(max {t.max_out_of_range_rate:.1%})")
    return {"n_rows": int(len(X)), "ref_rows": ref["n_rows"], "alarm": bool(reasons), "reasons": reasons,
            "alpha_feature": alpha_f, "alpha_prediction": alpha_p, "features": feats,
            "prediction": pred, "quality": q, "thresholds": t.to_dict()}


def accuracy_by_time(ts: np.ndarray | None, y_true: np.ndarray, y_pred: np.ndarray,
                     bucket_s: float) -> list[dict[str, Any]]:
    """Accuracy per time window of width bucket_s (one window when there are no timestamps)."""
    if ts is None:
        ts = np.zeros(len(y_true))
    out = []
    start = np.floor(ts / bucket_s) * bucket_s
    for b in np.unique(start):
        m = start == b
        out.append({"start": float(b), "end": float(b + bucket_s), "n": int(m.sum()),
                    "accuracy": float((y_true[m] == y_pred[m]).mean())})
    return out


def feedback_verdict(ts: np.ndarray | None, y_true: np.ndarray, y_pred: np.ndarray,
                     run_accuracy: float | None, t: DriftThresholds) -> dict[str, Any]:
    """Live accuracy overall and per time window; alarm when below the run's accuracy - max drop."""
    acc = float((y_true == y_pred).mean()) if len(y_true) else float("nan")
    alarm = bool(run_accuracy is not None and len(y_true) >= t.min_rows
                 and acc < run_accuracy - t.max_accuracy_drop)
    return {"n": int(len(y_true)), "accuracy": acc, "run_accuracy": run_accuracy, "alarm": alarm,
            "windows": accuracy_by_time(ts, y_true, y_pred, t.feedback_bucket_s)}
