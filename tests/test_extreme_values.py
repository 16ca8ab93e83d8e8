"""Values that overflow float32: the same named error (file, row, column, value) in pe data
validate, pe train, pe eval --data and pe predict; predict never writes NaN probabilities."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.data import prepare, synth_phone, validate_frame
from phoneprice_edge.data.validate import load_dataset
from phoneprice_edge.errors import DataError
from phoneprice_edge.schema import PHONE_SCHEMA

REPO = Path(__file__).resolve().parents[1]
# (cell text as written in the CSV, how the message shows it): all finite in float64, all
# beyond float32's largest value 3.4028235e38
OVERFLOWS = [("1e300", "1e+300"), ("-1e300", "-1e+300"), ("3.5e38", "3.5e+38"),
             ("1e39", "1e+39"), ("-4e38", "-4e+38")]


def call(module: str, args: list[str]) -> int:
    cmd = importlib.import_module(module).cmd
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    return int(exc.value.code)


def _csv_with(tmp_path: Path, cell: str, column: str = "ram", row: int = 3,
              labelled: bool = True, name: str = "big.csv") -> Path:
    """A phone CSV whose data row `row + 1` has `cell` (verbatim text) in `column`."""
    df = synth_phone(rows=60, seed=3).astype({column: object})
    if not labelled:
        df = df.drop(columns=[PHONE_SCHEMA.label])
    lines = df.to_csv(index=False, lineterminator="\n").splitlines()
    cols = lines[0].split(",")
    cells = lines[1 + row].split(",")
    cells[cols.index(column)] = cell
    lines[1 + row] = ",".join(cells)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _named(msg: str, path: Path, shown: str, column: str = "ram", row: int = 4) -> bool:
    return (str(path) in msg and f"'{column}'" in msg and f"data row {row}" in msg
            and shown in msg and "float32" in msg and "\n" not in msg.strip())


@pytest.mark.parametrize(("cell", "shown"), OVERFLOWS)
def test_validate_names_file_row_column_value(tmp_path: Path, cell: str, shown: str) -> None:
    path = _csv_with(tmp_path, cell)
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    assert _named(str(exc.value), path, shown)


def test_overflow_is_an_error_without_a_range_and_under_impute(tmp_path: Path) -> None:
    """An inferred schema has no range to warn about; --impute median does not hide it."""
    df = pd.DataFrame({"a": [1.0, 2.0, 1e300, 4.0], "b": [0.5, 1.5, 2.5, 3.5],
                       "y": ["u", "v", "u", "v"]})
    with pytest.raises(DataError, match=r"column 'a'.*1e\+300.*data row 3|data row 3.*'a'"):
        prepare(df, label="y", source="t.csv")
    res = validate_frame(synth_phone(rows=8, seed=1).astype({"fc": float})
                         .assign(fc=[0, 1, 2, 3, 4, 5, 6, 1e40]), PHONE_SCHEMA, impute="median",
                         source="m.csv")
    assert not res.ok and any("'fc'" in e and "data row 8" in e and "float32" in e
                              for e in res.errors)


def test_json_and_sql_sources_give_the_same_error(tmp_path: Path) -> None:
    df = synth_phone(rows=20, seed=2).astype({"battery_power": float})
    df.loc[6, "battery_power"] = -1e300
    df.to_json(tmp_path / "t.json", orient="records")
    with pytest.raises(DataError, match=r"'battery_power'.*data row 7|data row 7.*'battery_power'"):
        load_dataset(tmp_path / "t.json")
    import sqlite3
    with sqlite3.connect(tmp_path / "t.db") as conn:
        df.to_sql("phones", conn, index=False)
    from phoneprice_edge.data.stream import validate_sql
    summary = validate_sql(str(tmp_path / "t.db"), "phones", None, None, None,
                           {"source": "t.db"}, chunk_rows=5)
    assert not summary["ok"] and any("data row 7" in e and "float32" in e
                                     for e in summary["errors"])


def test_pe_data_validate_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv_with(tmp_path, "1e300")
    assert call("phoneprice_edge.cli.data", ["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "problems: none" not in out and "UNUSABLE" in out and "float32" in out


def test_pe_train_refuses_before_a_run_folder(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv_with(tmp_path, "1e300")
    run = tmp_path / "run"
    assert call("phoneprice_edge.cli.train", ["--data", str(path), "--out", str(run), "-q",
                                              "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and _named(err, path, "1e+300") and "Traceback" not in err
    assert not run.exists()


def test_pe_eval_data_refuses(synth_run: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv_with(tmp_path, "3.5e38", column="px_width", row=0)
    assert call("phoneprice_edge.cli.evaluate", ["--run", str(synth_run), "--data", str(path),
                                                 "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert _named(err, path, "3.5e+38", column="px_width", row=1) and "Traceback" not in err


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("pe_test_artifact",
                                                  REPO / "tests" / "serve" / "artifact.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_onnx_artifact(tmp_path_factory.mktemp("extreme") / "onnx_fp32")


@pytest.mark.parametrize(("cell", "shown"), OVERFLOWS[:2])
def test_pe_predict_refuses_overflow(artifact: Path, tmp_path: Path, cell: str, shown: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv_with(tmp_path, cell, labelled=False)
    out = tmp_path / "p.csv"
    assert call("phoneprice_edge.cli.predict", ["--artifact", str(artifact), "--data", str(path),
                                                "--out", str(out)]) == 1
    assert _named(capsys.readouterr().err, path, shown) and not out.exists()


def test_pe_predict_never_writes_nan_probabilities(artifact: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """-3.4e38 fits float32 but the network's arithmetic overflows on it: refused, nothing written."""
    path = _csv_with(tmp_path, "-3.4e38", column="four_g", labelled=False, row=5)
    out = tmp_path / "p.jsonl"
    assert call("phoneprice_edge.cli.predict", ["--artifact", str(artifact), "--data", str(path),
                                                "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "data row 6" in err and "not finite" in err
    assert "Traceback" not in err
    assert not out.exists()
    ok = _csv_with(tmp_path, "1000", labelled=False, name="ok.csv")
    assert call("phoneprice_edge.cli.predict", ["--artifact", str(artifact), "--data", str(ok),
                                                "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    probs = np.array([[r[f"prob_{c}"] for c in PHONE_SCHEMA.classes] for r in rows], np.float64)
    assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
