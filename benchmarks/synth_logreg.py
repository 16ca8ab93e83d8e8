"""Benchmark: multinomial logistic regression, stratified 5-fold CV accuracy (seed 42, standardised)
on the built-in synthetic data (`pe-data synth --rows 2000 --seed 42`) and on the real table.

    .venv/bin/python benchmarks/synth_logreg.py [--out benchmarks/synth_logreg.md]

The synthetic data should be about as linearly separable as the real table (97.15% ± 0.72).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "mobile_price_train.csv"


def cv_accuracy(X: np.ndarray, y: np.ndarray, C: float = 100.0, k: int = 5,
                seed: int = 42) -> tuple[float, float]:
    """Mean and std of the fold accuracies; the scaler is fitted on each training fold only."""
    from sklearn.linear_model import LogisticRegression

    from phoneprice_edge.data import fit_scaler, kfold

    accs = []
    for tr, va in kfold(y, k=k, seed=seed):
        mean, std = fit_scaler(X[tr])
        model = LogisticRegression(C=C, max_iter=20000).fit((X[tr] - mean) / std, y[tr])
        accs.append(float((model.predict((X[va] - mean) / std) == y[va]).mean()))
    return float(np.mean(accs)), float(np.std(accs))


def synth_file(rows: int, seed: int, folder: Path) -> Path:
    """Write the data set through the real console script, as a user would."""
    out = folder / f"synth_{rows}_{seed}.csv"
    script = Path(sys.executable).parent / "pe-data"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "phoneprice_edge.cli.data"]
    subprocess.run([*cmd, "synth", "--rows", str(rows), "--seed", str(seed), "--out", str(out)],
                   check=True, capture_output=True)
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    import sklearn

    return (f"{cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scikit-learn {sklearn.__version__}; {platform.platform()}")


def _row(label: str, X: np.ndarray, y: np.ndarray, t0: float) -> str:
    X = X.astype(np.float64)
    mean, std = cv_accuracy(X, y, C=100.0)
    mean1, std1 = cv_accuracy(X, y, C=1.0)
    return (f"| {label} | {len(y)} | {mean:.2%} ± {std:.2%} | {mean1:.2%} ± {std1:.2%} | "
            f"{time.perf_counter() - t0:.2f} |")


def run() -> list[str]:
    from phoneprice_edge.data import load_dataset

    rows = ["| data | rows | C=100: accuracy (mean ± std) | C=1: accuracy | seconds |",
            "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (42, 0, 1, 2, 3):
            t0 = time.perf_counter()
            ds = load_dataset(synth_file(2000, seed, Path(tmp)))
            label = f"pe-data synth --rows 2000 --seed {seed}" + (" (the target)" if seed == 42 else "")
            rows.append(_row(label, ds.X, ds.y, t0))
    if REAL.is_file():
        t0 = time.perf_counter()
        ds = load_dataset(REAL)
        rows.append(_row("real: mobile_price_train.csv", ds.X, ds.y, t0))
    else:
        rows.append(f"| real: not found at {REAL} | - | - | - | - |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the report (markdown) here")
    args = ap.parse_args()
    table = run()
    report = "\n".join([
        "# Synthetic data vs real data: logistic-regression CV accuracy", "",
        "Multinomial logistic regression (scikit-learn, lbfgs; C=100 reproduces the 97.15% measured",
        "on the real table in shared/data/README.md, C=1 is scikit-learn's default), stratified 5-fold",
        "CV with seed 42 (`phoneprice_edge.data.kfold`), features standardised with statistics of each",
        "training fold (`fit_scaler`). Target for the synthetic data at C=100: 0.95..0.985.", "",
        "The seconds column (synthesis through the console script, loading, both CV runs) is",
        "informational only.", "",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {machine()}  ",
        "Command: `.venv/bin/python benchmarks/synth_logreg.py --out benchmarks/synth_logreg.md`", "",
        *table, "",
    ])
    print(report)
    if args.out:
        from phoneprice_edge.io_utils import atomic_write_text

        atomic_write_text(args.out, report)


if __name__ == "__main__":
    main()
