"""The numpy k-fold split gives scikit-learn's StratifiedKFold folds, index for index."""

from __future__ import annotations

import numpy as np
import pytest

from phoneprice_edge.data import kfold

sklearn_split = pytest.importorskip("sklearn.model_selection")


def _sklearn(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    skf = sklearn_split.StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


CASES = [
    (np.repeat(np.arange(4), 500), 5, 42),                          # the real data's shape
    (np.repeat(np.arange(4), [50, 30, 15, 5]), 5, 42),              # unbalanced
    (np.random.default_rng(0).integers(0, 4, 2000), 5, 42),         # shuffled labels
    (np.random.default_rng(1).integers(0, 3, 241), 7, 7),           # uneven fold sizes
    (np.random.default_rng(2).integers(0, 2, 100), 2, 0),           # binary, k = 2
    (np.array([3, 1, 3, 2, 1, 2, 3, 1, 2, 2, 1, 3] * 3), 3, 123),   # first appearance != sorted
    (np.array(list("bacbcabcacab") * 2), 4, 5),                     # string labels
]


@pytest.mark.parametrize(("y", "k", "seed"), CASES)
def test_kfold_is_sklearns_stratified_kfold(y: np.ndarray, k: int, seed: int) -> None:
    ours, theirs = kfold(y, k, seed), _sklearn(y, k, seed)
    assert len(ours) == len(theirs) == k
    for (tr, va), (str_, sva) in zip(ours, theirs, strict=True):
        assert tr.dtype == va.dtype == np.int64
        np.testing.assert_array_equal(tr, str_)
        np.testing.assert_array_equal(va, sva)


def test_real_data_folds_are_sklearns(real_train_csv) -> None:
    from phoneprice_edge.data import load_dataset

    real_labels = load_dataset(real_train_csv).y
    for seed in (42, 7, 0):
        for (tr, va), (str_, sva) in zip(kfold(real_labels, 5, seed), _sklearn(real_labels, 5, seed),
                                         strict=True):
            np.testing.assert_array_equal(tr, str_)
            np.testing.assert_array_equal(va, sva)
