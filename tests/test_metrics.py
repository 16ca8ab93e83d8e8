"""The numpy metrics give scikit-learn's numbers exactly (same floats, same report layout)."""

from __future__ import annotations

import numpy as np
import pytest

from phoneprice_edge.evaluate import softmax
from phoneprice_edge.metrics import binary_roc_auc, classification_metrics

skm = pytest.importorskip("sklearn.metrics")


def _sklearn(y: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict:
    labels = list(range(len(classes)))
    pred = prob.argmax(1)
    out = {"n": int(y.size), "accuracy": float(skm.accuracy_score(y, pred))}
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, labels=labels, average=avg,
                                                         zero_division=0)
        out.update({f"{avg}_precision": float(p), f"{avg}_recall": float(r), f"{avg}_f1": float(f)})
    if len(np.unique(y)) < len(labels):
        out["auc_ovr_macro"] = None
    elif len(labels) == 2:
        out["auc_ovr_macro"] = float(skm.roc_auc_score(y, prob[:, 1]))
    else:
        out["auc_ovr_macro"] = float(skm.roc_auc_score(y, prob, multi_class="ovr", average="macro",
                                                       labels=labels))
    out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
    out["report"] = skm.classification_report(y, pred, labels=labels, target_names=classes,
                                              output_dict=True, zero_division=0)
    return out


def _case(seed: int, n: int, c: int, signal: float, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + signal * np.eye(c)[y] * rng.uniform(0, 1, (n, 1))
    if decimals is not None:  # many tied scores
        logits = np.round(logits, decimals)
    return y, softmax(logits.astype(np.float64)), [f"k{i}" for i in range(c)]


CASES = [_case(3, 100, 4, 2.0), _case(4, 400, 4, 6.0), _case(5, 57, 3, 0.5, decimals=0),
         _case(6, 200, 2, 1.0), _case(7, 30, 5, 1.0, decimals=1), _case(8, 2000, 4, 20.0)]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_metrics_equal_sklearns_exactly(case: int) -> None:
    y, prob, classes = CASES[case]
    assert classification_metrics(y, prob, classes) == _sklearn(y, prob, classes)


def test_missing_class_and_never_predicted_class() -> None:
    y = np.array([0, 0, 1, 1, 1])
    prob = np.eye(3)[[0, 1, 1, 1, 0]]  # class 2 absent from y and never predicted
    ours = classification_metrics(y, prob, ["a", "b", "c"])
    assert ours == _sklearn(y, prob, ["a", "b", "c"])
    assert ours["auc_ovr_macro"] is None and ours["report"]["c"]["precision"] == 0.0


def test_binary_auc_with_ties_equals_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.normal(size=500) + y, 1)
    assert binary_roc_auc(y, score) == float(skm.roc_auc_score(y, score))
