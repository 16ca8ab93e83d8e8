"""Drift report files: JSON (the data), Markdown (for people) and a PNG grid of reference/live histograms."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from phoneprice_edge.io_utils import atomic_path, atomic_write_json, atomic_write_text


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def markdown(result: dict[str, Any]) -> str:
    """A readable summary: verdict, reasons, per-feature table, class mix, quality, feedback."""
    lines = [f"# Drift report: {'ALARM' if result['alarm'] else 'no drift'}", "",
             f"Live window: {result['n_rows']} rows; reference: {result['ref_rows']} training rows. "
             f"Per-feature KS alpha {result['alpha_feature']:.2g} "
             f"({result['thresholds']['correction']}), alarm rule: {result['thresholds']['require']}.", ""]
    if result["reasons"]:
        lines += ["## Reasons", ""] + [f"- {r}" for r in result["reasons"]] + [""]
    lines += ["## Features", "", "| feature | PSI | KS stat | KS p | drift |", "|---|---:|---:|---:|---|"]
    for f in result["features"]:
        lines.append(f"| {f['name']} | {_fmt(f['psi'])} | {_fmt(f['ks_stat'])} | "
                     f"{_fmt(f['ks_p'], '.3g')} | {'**yes**' if f['alarm'] else ''} |")
    pred = result.get("prediction")
    if pred:
        lines += ["", f"## Predicted classes (reference: {pred['reference']})", "",
                  f"PSI {_fmt(pred['psi'])}, chi-square {_fmt(pred['chi2'], '.2f')} "
                  f"(p {_fmt(pred['chi2_p'], '.3g')}){': **drift**' if pred['alarm'] else ''}", "",
                  "| class | reference | live |", "|---|---:|---:|"]
        for c, r, v in zip(pred["classes"], pred["ref_props"], pred["live_props"], strict=True):
            lines.append(f"| {c} | {r:.3f} | {v:.3f} |")
    q = result["quality"]
    lines += ["", "## Data quality", "", f"Rows with a missing value: {q['missing_rate']:.2%}; "
              f"with an out-of-range value: {q['out_of_range_rate']:.2%}."]
    fb = result.get("feedback")
    if fb:
        lines += ["", "## Accuracy from feedback", "",
                  f"{fb['n']} labelled rows, accuracy {_fmt(fb['accuracy'])} "
                  f"(run: {_fmt(fb['run_accuracy'])}){': **drop**' if fb['alarm'] else ''}", "",
                  "| window start (unix s) | rows | accuracy |", "|---:|---:|---:|"]
        lines += [f"| {w['start']:.0f} | {w['n']} | {w['accuracy']:.3f} |" for w in fb["windows"]]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], dest: Path) -> Path:
    """A grid: one panel per feature (reference vs live bin proportions) + the predicted-class mix."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(result["features"])
    if result.get("prediction"):
        p = result["prediction"]
        panels.append({"name": "predicted class", "bins": p["classes"], "ref_props": p["ref_props"],
                       "live_props": p["live_props"], "alarm": p["alarm"], "psi": p["psi"]})
    cols = 4
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    for ax, f in zip(axes.flat, panels, strict=False):
        x = range(len(f["bins"]))
        ax.bar([i - 0.2 for i in x], f["ref_props"], width=0.4, label="reference", color="#888")
        ax.bar([i + 0.2 for i in x], f["live_props"], width=0.4, label="live",
               color="#d62728" if f["alarm"] else "#1f77b4")
        ax.set_title(f"{f['name']}  PSI {_fmt(f['psi'], '.2f')}", fontsize=9,
                     color="#d62728" if f["alarm"] else "black")
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Reference vs live ({result['n_rows']} rows): "
                 f"{'ALARM' if result['alarm'] else 'no drift'}", fontsize=11)
    fig.tight_layout()
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return dest


def write_report(result: dict[str, Any], out_dir: str | Path, png: bool = True) -> dict[str, Path]:
    """drift.json, drift.md and drift.png in out_dir; returns their paths."""
    out_dir = Path(out_dir)
    paths = {"json": atomic_write_json(out_dir / "drift.json", result),
             "md": atomic_write_text(out_dir / "drift.md", markdown(result))}
    if png:
        paths["png"] = plot(result, out_dir / "drift.png")
    return paths
