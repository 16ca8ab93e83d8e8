"""pe-predict / predict_file: whole files in chunks, id carried through, formats by extension."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from phoneprice_edge.cli.predict import cmd
from phoneprice_edge.errors import DataError
from phoneprice_edge.predict import predict_file
from phoneprice_edge.schema import PHONE_SCHEMA

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("pe_test_artifact",
                                                  REPO / "tests" / "serve" / "artifact.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_onnx_artifact(tmp_path_factory.mktemp("predict") / "onnx_fp32")


def test_real_test_file_with_crlf_and_id(artifact: Path, real_test_csv: Path,
                                         tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    s = predict_file(artifact, real_test_csv, out, chunk_size=300)
    got = pd.read_csv(out)
    src = pd.read_csv(real_test_csv)
    assert s.rows == 1000 == len(got) and list(got["id"]) == list(src["id"])
    assert list(got.columns) == ["id", "predicted_class", "predicted_label",
                                 "prob_0", "prob_1", "prob_2", "prob_3"]
    probs = got[[f"prob_{c}" for c in PHONE_SCHEMA.classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (probs.argmax(axis=1) == got["predicted_class"]).all()
    assert sum(s.class_counts.values()) == 1000 and s.warnings == []


def test_chunking_does_not_change_results_and_formats_follow_extension(
        artifact: Path, real_test_csv: Path, tmp_path: Path) -> None:
    predict_file(artifact, real_test_csv, tmp_path / "a.parquet", chunk_size=7)
    predict_file(artifact, real_test_csv, tmp_path / "b.jsonl", chunk_size=100_000)
    a = pd.read_parquet(tmp_path / "a.parquet")
    b = pd.read_json(tmp_path / "b.jsonl", lines=True)
    assert (a["predicted_class"].to_numpy() == b["predicted_class"].to_numpy()).all()
    np.testing.assert_allclose(a["prob_2"], b["prob_2"], atol=1e-6)


def test_cli_and_bad_input(artifact: Path, tmp_path: Path) -> None:
    rows = pd.DataFrame([{f.name: (f.min + f.max) / 2 if f.kind == "float" else f.min
                          for f in PHONE_SCHEMA.features}] * 3)
    rows.insert(0, "id", [10, 11, 12])
    rows.to_json(tmp_path / "in.json", orient="records")
    r = CliRunner().invoke(cmd, ["--artifact", str(artifact), "--data", str(tmp_path / "in.json"),
                                 "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    assert "predicted 3 rows" in r.output
    assert list(pd.read_csv(tmp_path / "out.csv")["id"]) == [10, 11, 12]
    rows.drop(columns=["ram"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="ram"):
        predict_file(artifact, tmp_path / "bad.csv", tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()
