"""Read errors whose advice must be right: the delimiter hint names an option the command has,
an output extension is not answered with the input's --format, a nameless column is refused."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.data import read_table, synth_phone, write_table
from phoneprice_edge.errors import DataError, UsageError


def call(module: str, args: list[str]) -> int:
    cmd = importlib.import_module(module).cmd
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    return int(exc.value.code)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_advice_works_in_pe_train(tmp_path: Path, sep: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "semi.csv"
    synth_phone(rows=120, seed=3).to_csv(path, sep=sep, index=False)
    run = tmp_path / "run"
    args = ["--data", str(path), "--out", str(run), "-q", "--epochs", "1",
            "--set", "hidden_dims=[8]", "--set", 'feature_select="none"']
    assert call("phoneprice_edge.cli.train", args) == 1
    err = capsys.readouterr().err
    assert f"--delimiter {sep!r}" in err and not run.exists()
    # the advice, followed literally, works
    assert call("phoneprice_edge.cli.train", [*args, "--delimiter", sep]) == 0
    assert (run / "metrics.json").is_file()
    assert call("phoneprice_edge.cli.data", ["validate", str(path), "--delimiter", sep]) == 0


@pytest.mark.parametrize("out", ["p.xlsx", "p.txt.bak", "p", "p.sqlite"])
def test_predict_output_extension_advice(tmp_path: Path, out: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = write_table(synth_phone(rows=5, seed=1), tmp_path / "in.csv")
    code = call("phoneprice_edge.cli.predict", ["--artifact", str(tmp_path), "--data", str(data),
                                                "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and ".csv" in err and ".parquet" in err
    assert "--format" not in err and err.count("\n") == 1


@pytest.mark.parametrize("header", ["a,b,c,d, ,y", "a,b,c,d,,y", "a,b,c,d,\t,y", " ,a,b,c,d,y"])
def test_nameless_column_is_refused(tmp_path: Path, header: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + "\n".join("1,2,3,4,5,0" for _ in range(4)) + "\n")
    with pytest.raises(DataError, match=r"t\.csv: column \d of the header has no name") as exc:
        read_table(path)
    assert "Unnamed" not in str(exc.value)


def test_nameless_column_in_json_is_refused(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1, 2], "  ": [3, 4], "y": [0, 1]}).to_json(tmp_path / "t.json",
                                                                    orient="records")
    with pytest.raises(DataError, match="has no name"):
        read_table(tmp_path / "t.json")


def test_pe_data_validate_nameless_column(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    df = synth_phone(rows=20, seed=1)
    df.insert(4, " ", 1)
    df.to_csv(tmp_path / "t.csv", index=False)
    assert call("phoneprice_edge.cli.data", ["validate", str(tmp_path / "t.csv")]) == 1
    err = capsys.readouterr().err
    assert "column 5 of the header has no name" in err and "Unnamed" not in err


def test_unknown_input_extension_still_points_at_format(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--format"):
        read_table(tmp_path / "in.xlsx")
