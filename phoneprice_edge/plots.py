"""PNG plots of a run (matplotlib Agg): training curves, confusion matrix, ROC and PR curves per class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.io_utils import atomic_path


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def training_curves(history_path: Path, out: Path) -> Path | None:
    """Loss, accuracy and learning rate per epoch from history.jsonl."""
    if not history_path.is_file():
        return None
    rows = [json.loads(line) for line in history_path.read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        return None
    plt = _plt()
    ep = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        axes[0].plot(ep, [r[key] for r in rows], label=label)
    for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
        axes[1].plot(ep, [r[key] for r in rows], label=label)
    axes[2].plot(ep, [r["lr"] for r in rows])
    for ax, title in zip(axes, ("cross-entropy loss", "accuracy", "learning rate"), strict=True):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[1].legend()
    return _save(fig, out)


def confusion(cm: np.ndarray, classes: list[str], out: Path) -> Path:
    """Confusion matrix heat map with counts."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > top / 2 else "black")
    fig.colorbar(im, ax=ax)
    ax.set_title("confusion matrix")
    return _save(fig, out)


def roc_pr(y: np.ndarray, prob: np.ndarray, classes: list[str], out_dir: Path) -> list[Path]:
    """One-vs-rest ROC and precision-recall curves, one line per class present."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    plt = _plt()
    fig_r, ax_r = plt.subplots(figsize=(5, 4.2))
    fig_p, ax_p = plt.subplots(figsize=(5, 4.2))
    for k, name in enumerate(classes):
        truth = (y == k).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = roc_curve(truth, prob[:, k])
        ax_r.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
        prec, rec, _ = precision_recall_curve(truth, prob[:, k])
        ax_p.plot(rec, prec, label=f"{name} (AP {average_precision_score(truth, prob[:, k]):.3f})")
    ax_r.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax_r.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (one-vs-rest)")
    ax_p.set(xlabel="recall", ylabel="precision", title="precision-recall (one-vs-rest)")
    for ax in (ax_r, ax_p):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return [_save(fig_r, out_dir / "roc.png"), _save(fig_p, out_dir / "precision_recall.png")]


def write_plots(out_dir: Path, y: np.ndarray, prob: np.ndarray, classes: list[str],
                history: Path | None, cm: np.ndarray | None = None) -> list[Path]:
    """Every plot of an evaluation; returns the files written. cm: the confusion matrix, if known."""
    written: list[Path] = []
    if history is not None and (curves := training_curves(history, out_dir / "training_curves.png")):
        written.append(curves)
    if cm is None:
        from sklearn.metrics import confusion_matrix

        cm = confusion_matrix(y, prob.argmax(axis=1), labels=list(range(len(classes))))
    written.append(confusion(cm, classes, out_dir / "confusion_matrix.png"))
    written += roc_pr(y, prob, classes, out_dir)
    return written
