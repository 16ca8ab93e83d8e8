"""`pe-data`: exit codes and messages (through the console-script wrapper and the real script)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from phoneprice_edge.cli.data import cmd
from phoneprice_edge.data import synth_phone

Run = Callable[..., tuple[int, str, str]]
PE_DATA = Path(sys.executable).parent / "pe-data"


def test_validate_clean(pe_data: Run, phone_csv: Path) -> None:
    code, out, err = pe_data("validate", phone_csv)
    assert code == 0 and err == ""
    assert "rows:    40    columns: 21" in out
    assert "classes: 0 (10), 1 (10), 2 (10), 3 (10)" in out
    assert "problems: none" in out and "result:  usable" in out
    assert "ram" in out and "integer" in out


def test_validate_json(pe_data: Run, phone_csv: Path) -> None:
    code, out, _ = pe_data("validate", phone_csv, "--json")
    s = json.loads(out)
    assert code == 0 and s["ok"] and s["rows"] == 40 and s["classes"] == {"0": 10, "1": 10, "2": 10, "3": 10}
    ram = next(c for c in s["features"] if c["name"] == "ram")
    assert ram["min"] <= ram["mean"] <= ram["max"]


def test_validate_bad_cell_exits_1(pe_data: Run, phone_df: pd.DataFrame, tmp_path: Path) -> None:
    df = phone_df.astype({"ram": object})
    df.loc[6, "ram"] = "lots"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    code, out, err = pe_data("validate", path)
    assert code == 1
    assert f"{path}: column 'ram': non-numeric value 'lots' in data row 7" in out
    assert err == f"error: {path}: 1 problem(s) make the table unusable\n"
    code, out, _ = pe_data("validate", path, "--json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_validate_read_error_is_one_line(pe_data: Run, phone_df: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    phone_df.to_csv(path, sep=";", index=False)
    code, out, err = pe_data("validate", path)
    assert code == 1 and out == ""
    assert err.startswith(f"error: {path}: the header is a single column containing ';'")
    assert err.count("\n") == 1
    code, out, err = pe_data("validate", path, "--delimiter", ";")
    assert code == 0


def test_validate_strict_and_impute(pe_data: Run, phone_df: pd.DataFrame, tmp_path: Path) -> None:
    df = phone_df.astype({"mobile_wt": float})
    df.loc[0, "mobile_wt"] = 999
    df.loc[1, "pc"] = None
    path = tmp_path / "r.csv"
    df.to_csv(path, index=False)
    code, out, _ = pe_data("validate", path)
    assert code == 1 and "column 'pc': 1 missing value(s)" in out and "data row 2" in out
    assert "warning: " in out and "column 'mobile_wt'" in out and "data row 1" in out
    code, out, _ = pe_data("validate", path, "--impute", "median")
    assert code == 0 and "replaced by the median" in out
    code, out, _ = pe_data("validate", path, "--impute", "median", "--strict")
    assert code == 1 and "error:   " in out and "column 'mobile_wt'" in out


def test_other_table_needs_label(pe_data: Run, tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    rows = [{"a": i, "b": i * 0.5, "kind": "xyz"[i % 3]} for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    code, _, err = pe_data("validate", path)
    assert code == 2 and "--label" in err
    code, out, _ = pe_data("validate", path, "--label", "kind")
    assert code == 0 and "classes: x (4), y (4), z (4)" in out and "schema:  inferred" in out
    schema = tmp_path / "schema.json"
    code, out, _ = pe_data("schema", path, "--label", "kind", "--out", schema)
    assert code == 0 and json.loads(schema.read_text())["classes"] == ["x", "y", "z"]
    code, out, _ = pe_data("validate", path, "--schema", schema)
    assert code == 0 and f"file {schema}" in out


def test_unlabelled_flag(pe_data: Run, phone_df: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    phone_df.drop(columns="price_range").to_csv(path, index=False)
    code, out, _ = pe_data("validate", path)
    assert code == 1 and "missing label column 'price_range'" in out
    code, out, _ = pe_data("validate", path, "--unlabelled")
    assert code == 0 and "(absent: features only)" in out


def test_sqlite_source(pe_data: Run, phone_df: pd.DataFrame, tmp_path: Path) -> None:
    import sqlalchemy as sa

    db = tmp_path / "p.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    phone_df.to_sql("phones", engine, index=False)
    engine.dispose()
    code, out, _ = pe_data("validate", f"sqlite:///{db}", "--table", "phones", "--max-rows", "8")
    assert code == 0 and "rows:    8" in out and f"sqlite:///{db} (table phones)" in out
    code, _, err = pe_data("validate", f"sqlite:///{db}", "--table", "nope")
    assert code == 1 and "table 'nope' not found (tables: phones)" in err
    code, _, err = pe_data("validate", f"sqlite:///{db}")
    assert code == 2 and "give exactly one of --table NAME or --query SQL" in err


def test_summary_of_a_column_without_values(pe_data: Run, phone_df: pd.DataFrame,
                                             tmp_path: Path) -> None:
    """A file summary lists it with null statistics; the chunked SQL summary leaves it out."""
    import sqlalchemy as sa

    df = phone_df.assign(ram=float("nan"))
    df.to_csv(tmp_path / "e.csv", index=False)
    code, out, _ = pe_data("validate", tmp_path / "e.csv", "--json")
    ram = next(c for c in json.loads(out)["features"] if c["name"] == "ram")
    assert code == 1 and (ram["min"], ram["max"], ram["mean"]) == (None, None, None)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'e.db'}")
    df.to_sql("phones", engine, index=False)
    engine.dispose()
    code, out, _ = pe_data("validate", f"sqlite:///{tmp_path / 'e.db'}", "--table", "phones",
                           "--json", "--chunk-rows", "7")
    s = json.loads(out)
    names = [c["name"] for c in s["features"]]
    assert code == 1 and s["chunked"] and "ram" not in names and len(names) == 19
    fc = next(c for c in s["features"] if c["name"] == "fc")
    assert (fc["min"], fc["max"]) == (phone_df["fc"].min(), phone_df["fc"].max())
    assert fc["mean"] == pytest.approx(phone_df["fc"].mean())
    assert s["classes"] == {k: int(v) for k, v in
                            phone_df["price_range"].astype(str).value_counts().sort_index().items()}


@pytest.mark.parametrize("ext", ["csv", "parquet", "json", "jsonl"])
def test_synth_is_byte_deterministic(pe_data: Run, tmp_path: Path, ext: str) -> None:
    paths = [tmp_path / f"{name}.{ext}" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (42, 42, 43), strict=True):
        code, out, _ = pe_data("synth", "--rows", "200", "--seed", seed, "--out", path)
        assert code == 0 and f"wrote 200 rows (seed {seed})" in out
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b and a != c
    code, out, _ = pe_data("validate", paths[0])
    assert code == 0 and "problems: none" in out


def test_synth_unknown_extension_is_a_usage_error(pe_data: Run, tmp_path: Path) -> None:
    code, _, err = pe_data("synth", "--out", tmp_path / "x.xlsx")
    assert code == 2 and "x.xlsx" in err and "--format" in err
    assert not (tmp_path / "x.xlsx").exists()


def test_synth_csv_matches_the_generator(pe_data: Run, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    assert pe_data("synth", "--rows", "100", "--seed", "9", "--out", path)[0] == 0
    expected = synth_phone(rows=100, seed=9)
    pd.testing.assert_frame_equal(pd.read_csv(path), expected)


def test_usage_errors_through_click_runner(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cmd, ["synth", "--rows", "2", "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "--rows" in res.output
    res = runner.invoke(cmd, ["validate", str(tmp_path / "x.csv"), "--impute", "mean"])
    assert res.exit_code == 2
    res = runner.invoke(cmd, ["--help"])
    assert res.exit_code == 0 and "validate" in res.output and "synth" in res.output


@pytest.mark.skipif(not PE_DATA.exists(), reason=f"console script not installed at {PE_DATA}")
def test_real_console_script(tmp_path: Path, phone_df: pd.DataFrame) -> None:
    bad = tmp_path / "bad.csv"
    df = phone_df.astype({"talk_time": float})
    df.loc[2, "talk_time"] = float("inf")
    df.to_csv(bad, index=False)
    proc = subprocess.run([str(PE_DATA), "validate", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "column 'talk_time': 1 infinite value(s) in data row 3" in proc.stdout
    assert proc.stderr == f"error: {bad}: 1 problem(s) make the table unusable\n"
    missing = subprocess.run([str(PE_DATA), "validate", str(tmp_path / "none.parquet")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr == f"error: {tmp_path / 'none.parquet'}: file not found\n"
