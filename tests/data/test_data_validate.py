"""prepare/validate_frame: every bad input gives a message naming the file, the row and the column."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phoneprice_edge.data import load_dataset, prepare, prepare_features, validate_frame
from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.schema import PHONE_SCHEMA

WriteCsv = Callable[[pd.DataFrame, str], Path]


def _broken(df: pd.DataFrame, row: int, col: str, value: object) -> pd.DataFrame:
    """A copy with the cell at 0-based position row set to value (column cast to object)."""
    out = df.copy()
    out[col] = out[col].astype(object)
    out.iloc[row, out.columns.get_loc(col)] = value
    return out


def test_clean_table(phone_csv: Path, phone_df: pd.DataFrame) -> None:
    ds = load_dataset(phone_csv)
    assert ds.schema is PHONE_SCHEMA
    assert ds.X.dtype == np.float32 and ds.X.shape == (40, 20)
    assert ds.y is not None and ds.y.dtype == np.int64
    assert np.bincount(ds.y).tolist() == [10, 10, 10, 10]
    np.testing.assert_array_equal(ds.y, phone_df["price_range"].to_numpy())
    assert ds.warnings == []


def test_columns_matched_by_name_not_position(phone_df: pd.DataFrame) -> None:
    shuffled = phone_df[list(reversed(phone_df.columns))]
    a, b = prepare(phone_df), prepare(shuffled)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X[:, 13], phone_df["ram"].to_numpy(np.float32))


def test_missing_and_renamed_columns(phone_df: pd.DataFrame, write_csv: WriteCsv) -> None:
    path = write_csv(phone_df.rename(columns={"ram": "RAM"}), "renamed.csv")
    with pytest.raises(DataError, match=r"renamed\.csv: missing column\(s\): ram \(the table has "
                       r"column\(s\) not in the schema: RAM\)"):
        load_dataset(path, label="price_range")
    with pytest.raises(DataError, match=r"x\.csv: missing column\(s\): ram, wifi"):
        prepare(phone_df.drop(columns=["ram", "wifi"]), PHONE_SCHEMA, source="x.csv")


def test_unexpected_column_warns_or_fails_strict(phone_df: pd.DataFrame) -> None:
    df = phone_df.assign(colour=1)
    ds = prepare(df, source="extra.csv")
    assert ds.warnings == ["extra.csv: column(s) not in the schema, ignored: colour"]
    with pytest.raises(DataError, match=r"extra\.csv: column\(s\) not in the schema, ignored: colour"):
        prepare(df, source="extra.csv", strict=True)


def test_non_numeric_cell(phone_df: pd.DataFrame, write_csv: WriteCsv) -> None:
    path = write_csv(_broken(phone_df, 2, "ram", "abc"), "bad.csv")
    with pytest.raises(DataError) as e:
        load_dataset(path)
    msg = str(e.value)
    assert "bad.csv" in msg and "column 'ram'" in msg and "'abc'" in msg and "data row 3" in msg
    assert "\n" not in msg
    # Row numbers are 1-based data rows: data row 3 is line 4 of the file.
    assert path.read_text().splitlines()[3].split(",")[13] == "abc"


def test_many_bad_cells_are_summarised(phone_df: pd.DataFrame) -> None:
    df = phone_df.copy()
    df["fc"] = df["fc"].astype(object)
    df.loc[[1, 3, 5, 7, 9, 11, 13], "fc"] = "x"
    res = validate_frame(df, PHONE_SCHEMA, source="many.csv")
    assert res.errors == ["many.csv: column 'fc': non-numeric value 'x' in data rows 2, 4, 6, 8, 10 "
                          "(and 2 more)"]


@pytest.mark.parametrize(("value", "what"), [(None, "missing value"), (np.inf, "infinite value")])
def test_nan_and_inf_fail_by_default(phone_df: pd.DataFrame, write_csv: WriteCsv,
                                     value: object, what: str) -> None:
    df = phone_df.astype({"battery_power": float})
    df.loc[4, "battery_power"] = np.nan if value is None else value
    path = write_csv(df, "holes.csv")
    with pytest.raises(DataError, match=rf"holes\.csv: column 'battery_power': 1 {what}\(s\).* in "
                       r"data row 5; fix the data or pass --impute median"):
        load_dataset(path)


def test_impute_median(phone_df: pd.DataFrame, write_csv: WriteCsv) -> None:
    df = phone_df.astype({"battery_power": float})
    df.loc[[4, 6], "battery_power"] = [np.nan, -np.inf]
    path = write_csv(df, "holes.csv")
    ds = load_dataset(path, impute="median")
    median = float(np.median(phone_df["battery_power"].drop(index=[4, 6])))
    median = float(np.floor(median + 0.5))  # an integer column gets an integer median
    assert ds.X[4, 0] == ds.X[6, 0] == np.float32(median)
    assert len(ds.warnings) == 1
    assert "holes.csv: column 'battery_power'" in ds.warnings[0]
    assert "data rows 5, 7 replaced by the median" in ds.warnings[0]


def test_label_outside_classes(phone_df: pd.DataFrame, write_csv: WriteCsv) -> None:
    path = write_csv(_broken(phone_df, 1, "price_range", 7), "lab.csv")
    with pytest.raises(DataError, match=r"lab\.csv: label column 'price_range': value\(s\) '7' not "
                       r"among the classes 0, 1, 2, 3, in data row 2"):
        load_dataset(path)


def test_missing_label_value(phone_df: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"m\.csv: label column 'price_range': missing value in data row 9"):
        prepare(_broken(phone_df, 8, "price_range", None), source="m.csv")


def test_empty_tables(phone_df: pd.DataFrame, write_csv: WriteCsv) -> None:
    path = write_csv(phone_df.head(0), "header_only.csv")
    with pytest.raises(DataError, match=r"header_only\.csv: the table has no data rows"):
        load_dataset(path)
    with pytest.raises(DataError, match=r"e\.csv: the table has no columns"):
        prepare(pd.DataFrame(), PHONE_SCHEMA, source="e.csv")


def test_duplicated_columns_in_a_frame(phone_df: pd.DataFrame) -> None:
    df = pd.concat([phone_df, phone_df[["ram"]]], axis=1)
    with pytest.raises(DataError, match=r"d\.parquet: duplicated column name\(s\): ram"):
        prepare(df, source="d.parquet")


def test_out_of_range_warns_or_fails_strict(phone_df: pd.DataFrame) -> None:
    df = _broken(phone_df, 11, "ram", 5000)
    ds = prepare(df, source="r.csv")
    assert ds.warnings == ["r.csv: column 'ram': 1 value(s) outside the allowed range [256, 4000], "
                           "e.g. 5000 in data row 12"]
    assert ds.X[11, 13] == 5000
    with pytest.raises(DataError, match=r"r\.csv: column 'ram': 1 value\(s\) outside"):
        prepare(df, source="r.csv", strict=True)


def test_non_integral_value_in_integer_column(phone_df: pd.DataFrame) -> None:
    ds = prepare(_broken(phone_df, 0, "n_cores", 2.5), source="f.csv")
    assert ds.warnings == ["f.csv: column 'n_cores' is integer but has non-integral value 2.5 in data row 1"]


def test_several_problems_one_line(phone_df: pd.DataFrame) -> None:
    df = _broken(_broken(phone_df, 0, "ram", "x"), 1, "price_range", 9)
    with pytest.raises(DataError) as e:
        prepare(df, source="two.csv")
    assert str(e.value).endswith("(and 1 more problem(s))") and "\n" not in str(e.value)


def test_label_required_for_other_tables() -> None:
    df = pd.DataFrame({"a": [1, 2, 3, 4], "b": [0.5, 0.1, 0.2, 0.3], "y": ["u", "v", "u", "v"]})
    with pytest.raises(UsageError, match=r"o\.csv: not the phone price table; name the label column with --label"):
        prepare(df, source="o.csv")
    with pytest.raises(DataError, match=r"o\.csv: label column 'z' not found \(columns: a, b, y\)"):
        prepare(df, label="z", source="o.csv")
    assert prepare(df, label="y").schema.classes == ("u", "v")


def test_unlabelled_rows(phone_df: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    df = phone_df.drop(columns=["price_range"]).assign(id=range(len(phone_df)))
    df = df[["id", *reversed(PHONE_SCHEMA.feature_names)]]
    with caplog.at_level(logging.INFO, logger="phoneprice_edge.data"):
        X = prepare_features(df, PHONE_SCHEMA, source="unl.csv")
    assert X.dtype == np.float32 and X.shape == (40, 20)
    np.testing.assert_array_equal(X, prepare(phone_df).X)
    assert "unl.csv: column(s) not in the schema, ignored: id" in caplog.text
    ds = prepare(df, allow_unlabelled=True, source="unl.csv")
    assert ds.y is None and ds.schema is PHONE_SCHEMA
    with pytest.raises(DataError, match=r"unl\.csv: missing label column 'price_range'.*--unlabelled"):
        prepare(df, source="unl.csv")


def test_schema_label_conflict(phone_df: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="--label 'x' differs from the schema's label 'price_range'"):
        prepare(phone_df, PHONE_SCHEMA, label="x")


def test_unknown_impute_mode(phone_df: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="unknown impute mode 'mean'"):
        prepare(phone_df, impute="mean")


def test_real_train_file_is_clean(real_train_csv: Path) -> None:
    ds = load_dataset(real_train_csv)
    assert ds.schema is PHONE_SCHEMA and ds.warnings == []
    assert ds.X.shape == (2000, 20) and np.bincount(ds.y).tolist() == [500] * 4
    assert ds.X[0, 0] == 842 and ds.X[0, 2] == np.float32(2.2)  # first data row of the file
    ds_strict = load_dataset(real_train_csv, strict=True)
    np.testing.assert_array_equal(ds_strict.X, ds.X)


def test_real_test_file_loads_unlabelled(real_test_csv: Path) -> None:
    assert b"\r\n" in real_test_csv.read_bytes()[:400]
    from phoneprice_edge.data import read_table

    X = prepare_features(read_table(real_test_csv), PHONE_SCHEMA, source=str(real_test_csv))
    assert X.shape == (1000, 20) and X.dtype == np.float32 and np.isfinite(X).all()
    ds = load_dataset(real_test_csv, allow_unlabelled=True)
    assert ds.y is None
    assert ds.warnings == [f"{real_test_csv}: column(s) not in the schema, ignored: id"]
