"""Drift statistics against a run's training reference: no alarm on unchanged traffic, alarms on shifts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from monitor_helpers import FEATS, shifted, xy

from phoneprice_edge.data import synth_phone
from phoneprice_edge.errors import ConfigError, DataError
from phoneprice_edge.monitor.drift import compute_drift, psi
from phoneprice_edge.monitor.reference import load_reference, predict_classes
from phoneprice_edge.monitor.thresholds import DriftThresholds, load_thresholds
from phoneprice_edge.schema import PHONE_SCHEMA

T = DriftThresholds()


def verdict(run: Path, X: np.ndarray, t: DriftThresholds = T) -> dict:
    ref = load_reference(run)
    return compute_drift(ref, PHONE_SCHEMA, X, predict_classes(run, X.astype(np.float64)), t)


def test_psi_is_zero_for_the_same_mix_and_grows_with_shift() -> None:
    ref = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(ref, np.array([250.0, 250, 250, 250]), 1000) == pytest.approx(0.0, abs=1e-9)
    assert psi(ref, np.array([400.0, 200, 200, 200]), 1000) < psi(ref, np.array([700.0, 100, 100, 100]), 1000)


def test_unchanged_traffic_raises_no_alarm(small_run: Path) -> None:
    alarms = [verdict(small_run, xy(synth_phone(200, 1000 + s))[0])["alarm"] for s in range(10)]
    assert sum(alarms) == 0


def test_ram_shift_is_detected_by_ks_and_psi(small_run: Path) -> None:
    X, _ = xy(shifted(synth_phone(200, 7)))
    X = np.minimum(X, 4000)  # keep values in range: the statistics must catch it, not the range check
    r = verdict(small_run, X)
    assert r["alarm"]
    assert [f["name"] for f in r["features"] if f["alarm"]] == ["ram"]
    assert r["quality"]["out_of_range_rate"] == 0.0


def test_class_mix_change_is_detected_in_predictions(small_run: Path) -> None:
    df = synth_phone(4000, 11)
    df = pd.concat([df[df["price_range"] == 3].head(150), df[df["price_range"] != 3].head(50)])
    r = verdict(small_run, xy(df)[0])
    assert r["prediction"]["alarm"] and r["alarm"]


def test_missing_and_out_of_range_values_alarm(small_run: Path) -> None:
    X, _ = xy(synth_phone(200, 3))
    X = X.astype(np.float64)
    X[:10, 0] = np.nan
    X[10:15, FEATS.index("fc")] = 99
    r = verdict(small_run, X)
    assert r["quality"]["missing_rate"] == pytest.approx(0.05)
    assert r["quality"]["out_of_range_rate"] == pytest.approx(0.025)
    assert any("missing" in s for s in r["reasons"]) and any("out-of-range" in s for s in r["reasons"])


def test_too_small_window_is_refused(small_run: Path) -> None:
    with pytest.raises(DataError, match="min_rows"):
        verdict(small_run, xy(synth_phone(20, 3))[0])


def test_reference_is_cached_and_rebuilt_when_train_changes(small_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(small_run, run)  # the shared run stays untouched
    path, train = run / "monitor" / "reference.json", run / "data" / "train.npz"
    path.unlink(missing_ok=True)
    ref = load_reference(run)
    assert path.is_file()
    assert ref["n_rows"] == 1200 and len(ref["features"]) == 20
    assert {f["type"] for f in ref["features"]} == {"categorical", "quantile"}
    assert abs(sum(ref["pred_props"]) - 1) < 1e-9
    stamp = (path.stat().st_ino, path.stat().st_mtime_ns)
    assert load_reference(run) == ref  # served from the file, which is not rewritten
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp
    with np.load(train) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(train, **{k: v[:600] for k, v in arrays.items()})
    rebuilt = load_reference(run)
    assert rebuilt["n_rows"] == 600 and rebuilt["train_sha256"] != ref["train_sha256"]
    assert json.loads(path.read_text(encoding="utf-8"))["n_rows"] == 600


def test_thresholds_toml(tmp_path: Path) -> None:
    p = tmp_path / "t.toml"
    p.write_text('[drift]\npsi = 0.3\nrequire = "either"\n')
    assert load_thresholds(p) == DriftThresholds(psi=0.3, require="either")
    p.write_text("psii = 0.3\n")
    with pytest.raises(ConfigError, match="unknown key.*psii"):
        load_thresholds(p)
    p.write_text('psi = "high"\n')
    with pytest.raises(ConfigError, match="psi must be float"):
        load_thresholds(p)
    p.write_text('correction = "holm"\n')
    with pytest.raises(ConfigError, match="correction"):
        load_thresholds(p)
    with pytest.raises(ConfigError, match="not found"):
        load_thresholds(tmp_path / "none.toml")
