"""Schema inference: the toolkit works on tables that are not about phones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phoneprice_edge.data import holdout, infer_schema, kfold, load_dataset, prepare
from phoneprice_edge.data.infer import label_str, sorted_classes
from phoneprice_edge.errors import DataError
from phoneprice_edge.schema import FeatureSchema


@pytest.fixture
def flowers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 30
    species = np.array(["versicolor", "setosa", "virginica"])[np.arange(n) % 3]
    return pd.DataFrame({
        "name": [f"f{i}" for i in range(n)],           # text: not a feature
        "petal length": rng.uniform(1.0, 7.0, n).round(2),
        "leaves": rng.integers(3, 9, n),
        "scented": rng.integers(0, 2, n),
        "species": species,
    })


def test_inferred_schema(flowers: pd.DataFrame) -> None:
    s = infer_schema(flowers, "species", source="flowers.csv")
    assert s.feature_names == ["petal length", "leaves", "scented"]
    assert [f.kind for f in s.features] == ["float", "integer", "binary"]
    assert s.features[1].min == flowers["leaves"].min() and s.features[1].max == flowers["leaves"].max()
    assert (s.features[2].min, s.features[2].max) == (0.0, 1.0)
    assert s.label == "species" and s.classes == ("setosa", "versicolor", "virginica")
    assert s.meta["ignored_columns"] == ["name"]
    assert FeatureSchema.from_dict(s.to_dict()) == s


def test_prepare_non_phone_table(tmp_path: Path, flowers: pd.DataFrame) -> None:
    path = tmp_path / "flowers.parquet"
    flowers.to_parquet(path)
    ds = load_dataset(path, label="species")
    assert ds.X.shape == (30, 3) and ds.schema.n_classes == 3
    expected = flowers["species"].map({"setosa": 0, "versicolor": 1, "virginica": 2}).to_numpy()
    np.testing.assert_array_equal(ds.y, expected)
    assert ds.warnings == [f"{path}: column(s) not in the schema, ignored: name"]
    tr, va = holdout(ds.y, 0.8, seed=1)
    assert np.bincount(ds.y[va]).tolist() == [2, 2, 2]
    assert len(kfold(ds.y, k=5, seed=1)) == 5


def test_saved_schema_checks_new_data(tmp_path: Path, flowers: pd.DataFrame) -> None:
    schema = infer_schema(flowers, "species")
    schema.save(tmp_path / "schema.json")
    new = flowers.assign(species=["tulip"] + flowers["species"].tolist()[1:])
    with pytest.raises(DataError, match=r"new\.csv: label column 'species': value\(s\) 'tulip'.*data row 1"):
        prepare(new, FeatureSchema.load(tmp_path / "schema.json"), source="new.csv")


def test_numeric_column_with_a_bad_cell_stays_a_feature(flowers: pd.DataFrame) -> None:
    df = flowers.copy()
    df["leaves"] = df["leaves"].astype(object)
    df.loc[4, "leaves"] = "many"
    assert "leaves" in infer_schema(df, "species").feature_names
    with pytest.raises(DataError, match=r"fl\.csv: column 'leaves': non-numeric value 'many' in data row 5"):
        prepare(df, label="species", source="fl.csv")


def test_numeric_labels_sort_numerically() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "grade": [10, 2, 1, 2]})
    s = infer_schema(df, "grade")
    assert s.classes == ("1", "2", "10")
    np.testing.assert_array_equal(prepare(df, label="grade").y, [2, 1, 0, 1])


def test_inference_errors() -> None:
    with pytest.raises(DataError, match=r"t\.csv: label column 'y' has 1 distinct value"):
        infer_schema(pd.DataFrame({"x": [1, 2], "y": ["a", "a"]}), "y", source="t.csv")
    with pytest.raises(DataError, match=r"t\.csv: no numeric feature columns besides the label 'y'"):
        infer_schema(pd.DataFrame({"x": ["p", "q"], "y": ["a", "b"]}), "y", source="t.csv")
    with pytest.raises(DataError, match=r"t\.csv: the table has no data rows"):
        infer_schema(pd.DataFrame({"x": [], "y": []}), "y", source="t.csv")


def test_label_str() -> None:
    assert [label_str(v) for v in (1, 1.0, "1", " a ", np.int64(3), None, float("nan"), 2.5)] == \
        ["1", "1", "1", "a", "3", None, None, "2.5"]
    assert sorted_classes(["b", "a", "10"]) == ("10", "a", "b")
