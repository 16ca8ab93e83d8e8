"""Seeded stratified splits (holdout, k-fold) and standardisation statistics from the training rows."""

from __future__ import annotations

import numpy as np

from phoneprice_edge.errors import DataError, UsageError


def _labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise DataError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    return y


def holdout(y: np.ndarray, train_frac: float = 0.8, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation indices (each sorted), the same for the same seed on any machine.

    Each class contributes round(train_frac * n_class) rows to training, at least one and leaving
    at least one for validation.
    """
    if not 0.0 < train_frac < 1.0:
        raise UsageError(f"train_frac must lie strictly between 0 and 1, got {train_frac}")
    y = _labels(y)
    rng = np.random.default_rng(int(seed))
    train, val = [], []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        if idx.size < 2:
            raise DataError(f"class {cls.item()!r} has {idx.size} row; a stratified holdout needs at least 2 per class")
        idx = rng.permutation(idx)
        n_train = min(max(int(round(train_frac * idx.size)), 1), idx.size - 1)
        train.append(idx[:n_train])
        val.append(idx[n_train:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def kfold(y: np.ndarray, k: int = 5, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (shuffled with an int seed): a list of (train_idx, val_idx) pairs.

    The same folds as scikit-learn's `StratifiedKFold(k, shuffle=True, random_state=seed)` (its
    algorithm, in numpy: scikit-learn stays out of the training process; tests/data compare the
    two): classes numbered by first appearance, each class's fold numbers dealt round-robin over
    the sorted labels, then shuffled by one `RandomState(seed)` class after class.
    """
    if int(k) < 2:
        raise UsageError(f"k-fold needs k >= 2, got {k}")
    k = int(k)
    y = _labels(y)
    classes, first, inverse, counts = np.unique(y, return_index=True, return_inverse=True,
                                                return_counts=True)
    small = [f"{c.item()!r} ({n})" for c, n in zip(classes, counts, strict=True) if n < k]
    if small:
        raise DataError(f"{k}-fold needs at least {k} rows per class; too few in class(es) {', '.join(small)}")
    encoded = np.unique(first, return_inverse=True)[1][inverse.reshape(-1)]  # by first appearance
    order = np.sort(encoded)
    n_classes = classes.size
    allocation = np.asarray([np.bincount(order[i::k], minlength=n_classes) for i in range(k)])
    rng = np.random.RandomState(int(seed))
    test_folds = np.empty(y.size, dtype=np.int32)
    for c in range(n_classes):
        folds_for_class = np.arange(k).repeat(allocation[:, c])
        rng.shuffle(folds_for_class)
        test_folds[encoded == c] = folds_for_class
    indices = np.arange(y.size, dtype=np.int64)
    return [(indices[test_folds != i], indices[test_folds == i]) for i in range(k)]


def fit_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std (float64, population std) of training rows; a zero std becomes 1."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise DataError(f"fit_scaler needs a non-empty 2-D array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise DataError("fit_scaler: the features contain NaN or infinity")
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[~(std > 1e-12)] = 1.0
    return mean, std
