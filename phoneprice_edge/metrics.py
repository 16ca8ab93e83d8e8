"""Classification metrics in numpy, with scikit-learn's formulas (the same floats; tests compare them).

Keeps scikit-learn (~0.7 s to import) out of `pe train`: accuracy, precision/recall/F1 (per class,
macro, weighted; zero division -> 0), the confusion matrix, `classification_report(output_dict=True)`
and the one-vs-rest macro ROC AUC (trapezoids over the ROC curve with sklearn's tie handling and
dropped collinear points), each computed in the order scikit-learn 1.9 computes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion(y_true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts [true class, predicted class] (int64), rows outside 0..n_classes-1 ignored."""
    ok = (y_true >= 0) & (y_true < n_classes) & (pred >= 0) & (pred < n_classes)
    flat = y_true[ok] * n_classes + pred[ok]
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, 0 where den == 0 (sklearn's _prf_divide with zero_division=0)."""
    den = np.asarray(den, dtype=np.float64).copy()
    mask = den == 0
    den[mask] = 1
    out = np.asarray(num, dtype=np.float64) / den
    out[mask] = 0.0
    return out


def prf(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support (true counts) from a confusion matrix."""
    tp = np.diag(cm)
    pred_sum, true_sum = cm.sum(0), cm.sum(1)
    precision, recall = _divide(tp, pred_sum), _divide(tp, true_sum)
    f1 = _divide(2.0 * tp.astype(np.float64),
                 true_sum.astype(np.float64) + pred_sum.astype(np.float64))
    return precision, recall, f1, true_sum


def _average(values: np.ndarray, weights: np.ndarray | None) -> float:
    if values.size == 0:
        return float("nan")
    if weights is None:
        return float(np.mean(values))
    try:
        return float(np.average(values, weights=weights))
    except ZeroDivisionError:
        return float(np.mean(values))


def binary_roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of scores for the positives y_true == 1 (both classes present): sklearn's roc_auc_score."""
    order = np.argsort(score, kind="stable")[::-1]
    score = score[order]
    truth = (y_true[order] == 1).astype(np.float64)
    threshold_idxs = np.r_[np.nonzero(np.diff(score))[0], truth.size - 1]
    tps = np.cumsum(truth, dtype=np.float64)[threshold_idxs]
    fps = 1 + threshold_idxs.astype(np.float64) - tps
    if fps.shape[0] > 2:  # roc_curve(drop_intermediate=True)
        keep = np.nonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def auc_ovr_macro(y_true: np.ndarray, prob: np.ndarray, n_classes: int) -> float | None:
    """One-vs-rest macro ROC AUC; None when a class is absent (AUC undefined)."""
    if len(np.unique(y_true)) < n_classes:
        return None
    if n_classes == 2:
        return binary_roc_auc(y_true, prob[:, 1])
    scores = np.array([binary_roc_auc((y_true == c).astype(np.int64), prob[:, c])
                       for c in range(n_classes)])
    return float(np.mean(scores))


def classification_metrics(y_true: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted P/R/F1, one-vs-rest macro AUC, confusion matrix, per-class report."""
    y_true = np.asarray(y_true, dtype=np.int64)
    n = len(classes)
    pred = prob.argmax(axis=1)
    cm = confusion(y_true, pred, n)
    p, r, f, support = prf(cm)
    out: dict[str, Any] = {"n": int(y_true.size),
                           "accuracy": float(np.mean(y_true == pred)) if y_true.size else float("nan")}
    for avg, w in (("macro", None), ("weighted", support)):
        out.update({f"{avg}_precision": _average(p, w), f"{avg}_recall": _average(r, w),
                    f"{avg}_f1": _average(f, w)})
    out["auc_ovr_macro"] = auc_ovr_macro(y_true, prob, n)
    out["confusion_matrix"] = cm.tolist()
    out["report"] = _report(cm, p, r, f, support, classes)
    return out


def _report(cm: np.ndarray, p: np.ndarray, r: np.ndarray, f: np.ndarray, support: np.ndarray,
            classes: list[str]) -> dict[str, Any]:
    """classification_report(output_dict=True): per class, accuracy, macro avg, weighted avg."""
    keys = ("precision", "recall", "f1-score", "support")
    report: dict[str, Any] = {name: dict(zip(keys, map(float, row), strict=True))
                              for name, *row in zip(classes, p, r, f, support, strict=True)}
    total = float(np.sum(support))
    tp, pred_total = np.diag(cm).sum(), cm.sum()
    report["accuracy"] = float(_divide(np.array([tp]), np.array([pred_total]))[0])
    for name, w in (("macro avg", None), ("weighted avg", support)):
        report[name] = dict(zip(keys, (_average(p, w), _average(r, w), _average(f, w), total),
                                strict=True))
    return report
