"""Seeded stratified splits and the standardisation statistics."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from phoneprice_edge.data import fit_scaler, holdout, kfold
from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.schema import PHONE_SCHEMA

Y = np.repeat(np.arange(4), [50, 30, 15, 5])


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def test_holdout_is_stratified_disjoint_and_complete() -> None:
    tr, va = holdout(Y, 0.8, seed=42)
    assert np.intersect1d(tr, va).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, va])), np.arange(Y.size))
    assert np.bincount(Y[tr]).tolist() == [40, 24, 12, 4]
    assert np.bincount(Y[va]).tolist() == [10, 6, 3, 1]
    assert tr.dtype == np.int64 and np.all(np.diff(tr) > 0)


def test_holdout_seeded() -> None:
    a, b = holdout(Y, seed=42), holdout(Y, seed=42)
    c = holdout(Y, seed=43)
    assert _digest(*a) == _digest(*b) != _digest(*c)


def test_holdout_golden() -> None:
    """The same seed gives the same split on any machine (numpy PCG64 stream); pinned here."""
    tr, va = holdout(np.arange(100) % 4, 0.8, seed=42)
    assert va[:8].tolist() == GOLDEN_VAL_HEAD


def test_kfold_partitions_stratified() -> None:
    folds = kfold(Y, k=5, seed=42)
    assert len(folds) == 5
    all_val = np.concatenate([va for _, va in folds])
    np.testing.assert_array_equal(np.sort(all_val), np.arange(Y.size))
    for tr, va in folds:
        assert np.intersect1d(tr, va).size == 0 and tr.size + va.size == Y.size
        assert np.bincount(Y[va], minlength=4).tolist() == [10, 6, 3, 1]
    again = kfold(Y, k=5, seed=42)
    assert all(_digest(a[1]) == _digest(b[1]) for a, b in zip(folds, again, strict=True))
    other = kfold(Y, k=5, seed=7)
    assert any(_digest(a[1]) != _digest(b[1]) for a, b in zip(folds, other, strict=True))


def test_split_errors() -> None:
    with pytest.raises(UsageError, match="train_frac"):
        holdout(Y, 1.0)
    with pytest.raises(DataError, match="class 1 has 1 row"):
        holdout(np.array([0, 0, 1, 0]))
    with pytest.raises(DataError, match=r"5-fold needs at least 5 rows per class; too few in class\(es\) 3 \(4\)"):
        kfold(np.repeat(np.arange(4), [5, 5, 5, 4]), k=5)
    with pytest.raises(UsageError, match="k >= 2"):
        kfold(Y, k=1)


def test_fit_scaler_on_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(200, 20)).astype(np.float32)
    X[:, 5] = 7.0  # constant column: std guarded to 1
    tr, _ = holdout(np.arange(200) % 4, seed=0)
    mean, std = fit_scaler(X[tr])
    assert mean.dtype == np.float64 and std.dtype == np.float64 and mean.shape == (20,)
    np.testing.assert_allclose(mean, X[tr].astype(np.float64).mean(axis=0))
    assert std[5] == 1.0 and mean[5] == 7.0
    assert not np.allclose(mean, X.astype(np.float64).mean(axis=0))
    schema = PHONE_SCHEMA.with_scaler(mean, std)
    assert schema.scaler_std is not None and schema.scaler_std[5] == 1.0
    with pytest.raises(DataError, match="NaN or infinity"):
        fit_scaler(np.array([[1.0, np.nan]]))


GOLDEN_VAL_HEAD = [4, 13, 16, 32, 41, 43, 46, 52]
