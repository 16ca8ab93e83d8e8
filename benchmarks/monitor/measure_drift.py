"""Measure the drift check's false-alarm and detection rates on synthetic traffic; writes report.md/json.

    .venv/bin/python benchmarks/monitor/measure_drift.py [--windows 200] [--out benchmarks/monitor]

A reference run is trained by the project's trainer on the built-in generator (synth_phone, seed 1). Each live window is a
fresh draw of the generator (its own seed), unchanged or shifted; every scenario x window size is
evaluated on `--windows` windows. PSI and KS are computed once per window; the alarm rules are then
applied to the same statistics, so the rules are compared on identical data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from phoneprice_edge.config import load_train_config
from phoneprice_edge.data import synth_phone
from phoneprice_edge.io_utils import atomic_write_json, atomic_write_text
from phoneprice_edge.monitor.drift import compute_drift
from phoneprice_edge.monitor.reference import build_reference, predict_classes
from phoneprice_edge.monitor.thresholds import DriftThresholds
from phoneprice_edge.schema import PHONE_SCHEMA as S
from phoneprice_edge.train import train_run

SIZES = (50, 100, 200, 500)
NOTES = """
## Notes

- PSI needs a floor of window size: with 10 bins its sampling noise alone is about 9/n, so PSI>0.2
  alone alarms on most unchanged windows of 50-100 rows. The KS test with an uncorrected alpha of
  0.05 over 20 features alarms on roughly a third of unchanged windows (multiple testing). The
  default rule requires both (PSI above 0.2 *and* KS below 0.05/21), which keeps false alarms near
  or below the Bonferroni family-wise 5%.
- PSI > 0.2 is an effect-size gate: a shift whose true PSI is below 0.2 (ram x1.1) is not alarmed
  however large the window; `require = "ks"` with Bonferroni detects it at large windows (see the
  rule table) at the cost of the KS-only false-alarm rate. Choose with `--thresholds`.
- ram x1.3 without clipping takes about 23% of rows above the schema's ram maximum (4000), so the
  out-of-range check alone flags it; the clipped rows show what the statistics detect by themselves.
- Retraining gates are exercised by `tests/monitor/test_retrain.py` (marked slow): a candidate
  fine-tuned on ram-inflated labelled data is promoted, a candidate whose ONNX weights were
  perturbed after export fails parity and is refused, a candidate trained on shuffled labels loses
  held-out accuracy and is refused; the champion pointer stays in both refusals.
"""
RAM = S.feature_names.index("ram")
Scenario = Callable[[int, int], pd.DataFrame]


def unchanged(n: int, seed: int) -> pd.DataFrame:
    return synth_phone(n, seed)


def ram_scaled(k: float, clip: bool) -> Scenario:
    def draw(n: int, seed: int) -> pd.DataFrame:
        df = synth_phone(n, seed)
        ram = np.rint(df["ram"] * k)
        df["ram"] = np.minimum(ram, 4000) if clip else ram
        return df
    return draw


def class_mix(props: tuple[float, ...]) -> Scenario:
    def draw(n: int, seed: int) -> pd.DataFrame:
        pool = synth_phone(max(4 * n, 400), seed)
        rng = np.random.default_rng(seed)
        want = rng.multinomial(n, props)
        parts = [pool[pool["price_range"] == c].sample(k, replace=k > (pool["price_range"] == c).sum(),
                                                       random_state=seed) for c, k in enumerate(want)]
        return pd.concat(parts)
    return draw


SCENARIOS: dict[str, Scenario] = {
    "unchanged": unchanged,
    "ram x1.3 (raw: goes out of range)": ram_scaled(1.3, clip=False),
    "ram x1.3 (clipped to the schema range)": ram_scaled(1.3, clip=True),
    "ram x1.1 (clipped)": ram_scaled(1.1, clip=True),
    "class mix 10/20/30/40 % (true PSI 0.23)": class_mix((0.1, 0.2, 0.3, 0.4)),
    "class mix 5/15/30/50 % (true PSI 0.56)": class_mix((0.05, 0.15, 0.3, 0.5)),
}
RULES = {
    "default: PSI>0.2 and KS p<0.05/21 (Bonferroni)": ("both", True),
    "KS only, Bonferroni": ("ks", True),
    "PSI>0.2 only": ("psi", True),
    "naive: KS p<0.05 uncorrected": ("ks", False),
}


def make_reference(root: Path) -> Path:
    df = synth_phone(2500, 1)
    X = df[S.feature_names].to_numpy(np.float32)
    y = df[S.label].to_numpy(np.int64)
    cfg = load_train_config().with_overrides("benchmark", epochs=20, hidden_dims=[64, 32],
                                             kfold=0, refit=False, device="cpu", seed=0)
    return train_run(cfg, X, y, S, root).run_dir  # the project's trainer: 80/20 holdout


def alarms(r: dict, rule: tuple[str, bool], t: DriftThresholds) -> dict[str, bool]:
    """Re-apply an alarm rule to one window's statistics."""
    require, bonf = rule
    a = t.ks_alpha / (S.n_features + 1) if bonf else t.ks_alpha
    feats = [f for f in r["features"]
             if {"both": f["psi"] > t.psi and f["ks_p"] < a, "ks": f["ks_p"] < a, "psi": f["psi"] > t.psi}[require]]
    p = r["prediction"]
    pa = t.prediction_alpha / (S.n_features + 1) if bonf else t.prediction_alpha
    pred = bool(p and {"both": p["psi"] > t.prediction_psi and p["chi2_p"] < pa,
                       "ks": p["chi2_p"] < pa, "psi": p["psi"] > t.prediction_psi}[require])
    q = r["quality"]
    qual = q["missing_rate"] > t.max_missing_rate or q["out_of_range_rate"] > t.max_out_of_range_rate
    return {"any": bool(feats) or pred or qual, "feature": bool(feats), "prediction": pred, "quality": qual}


def predictor(run: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The run's model loaded once (predict_classes would reload the checkpoint per window)."""
    import torch

    from phoneprice_edge.checkpoint import load_model
    model = load_model(run / "checkpoints" / "best_model.pt").model

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()
    return predict


def measure(run: Path, windows: int) -> dict:
    t = DriftThresholds()
    ref = build_reference(run, write=False)
    predict = predictor(run)
    assert (predict(ref_x := np.load(run / "data" / "val.npz")["X"]) == predict_classes(run, ref_x)).all()
    out: dict = {}
    for name, draw in SCENARIOS.items():
        for n in SIZES:
            counts = {rule: {"any": 0, "feature": 0, "prediction": 0, "quality": 0} for rule in RULES}
            for w in range(windows):
                df = draw(n, 10_000 + 1000 * n + w)
                X = df[S.feature_names].to_numpy(np.float64)
                r = compute_drift(ref, S, X, predict(X), t)
                for rule, spec in RULES.items():
                    for k, v in alarms(r, spec, t).items():
                        counts[rule][k] += int(v)
            out.setdefault(name, {})[n] = {rule: {k: v / windows for k, v in c.items()}
                                           for rule, c in counts.items()}
            print(f"{name:42s} n={n:4d} default={out[name][n][next(iter(RULES))]['any']:.3f}", flush=True)
    return out


def render(res: dict, windows: int, seconds: float) -> str:
    default = next(iter(RULES))
    lines = ["# Drift check: false-alarm and detection rates", "",
             f"Measured by `benchmarks/monitor/measure_drift.py` ({windows} windows per cell, "
             f"{seconds:.0f} s). Reference: a run trained by the project's trainer (`train_run`, 20 epochs, 64-32 MLP) on `synth_phone(2500, seed=1)` (2000 training rows, stratified 80/20 holdout); "
             "every live window is a fresh generator draw with its own seed. "
             "An alarm = any feature drifting, the predicted-class mix shifting, or >1% of rows "
             "missing/out of range (the default thresholds, `phoneprice_edge/defaults/monitor.toml`).", "",
             "## Default rule (what `pe-monitor drift` uses)", "",
             "Share of windows that raised an alarm (for *unchanged* this is the false-alarm rate):", "",
             "| scenario | " + " | ".join(f"n={n}" for n in SIZES) + " |", "|---|" + "---:|" * len(SIZES)]
    for name, by_n in res.items():
        lines.append(f"| {name} | " + " | ".join(f"{by_n[n][default]['any']:.3f}" for n in SIZES) + " |")
    lines += ["", "## Alarm rules compared (feature statistics only, same windows)", "",
              "Share of windows where at least one feature was flagged:", "",
              "| scenario | rule | " + " | ".join(f"n={n}" for n in SIZES) + " |", "|---|---|" + "---:|" * len(SIZES)]
    for name, by_n in res.items():
        for rule in RULES:
            lines.append(f"| {name} | {rule} | " + " | ".join(f"{by_n[n][rule]['feature']:.3f}" for n in SIZES) + " |")
    lines += ["", "## Which part raised the alarm (default rule)", "",
              "| scenario | n | feature | predicted class | quality |", "|---|---:|---:|---:|---:|"]
    for name, by_n in res.items():
        for n in SIZES:
            c = by_n[n][default]
            lines.append(f"| {name} | {n} | {c['feature']:.3f} | {c['prediction']:.3f} | {c['quality']:.3f} |")
    return "\n".join(lines) + "\n" + NOTES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        run = make_reference(Path(tmp) / "run")
        res = measure(run, args.windows)
    secs = time.time() - t0
    atomic_write_json(args.out / "drift_rates.json", {"windows": args.windows, "sizes": SIZES, "results": res})
    atomic_write_text(args.out / "report.md", render(res, args.windows, secs))
    print(f"wrote {args.out / 'report.md'} in {secs:.0f} s")


if __name__ == "__main__":
    main()
