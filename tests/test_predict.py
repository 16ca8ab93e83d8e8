"""pe-predict / predict_file: whole files in chunks, id carried through, formats by extension."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from phoneprice_edge.cli.predict import cmd
from phoneprice_edge.errors import DataError, UsageError
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


def _serve_module(name: str) -> object:
    spec = importlib.util.spec_from_file_location(f"pe_test_{name}",
                                                  REPO / "tests" / "serve" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_url_gives_the_same_output_as_the_artifact(artifact: Path, real_test_csv: Path,
                                                   tmp_path: Path) -> None:
    """--url sends the rows to a running server as binary float32 requests (chunks capped at the
    server's max_batch) and writes the same file as --artifact."""
    from phoneprice_edge.serve.app import create_app
    from phoneprice_edge.serve.model import load_served_model
    from phoneprice_edge.serve.settings import ServeSettings

    live = _serve_module("live")
    model = load_served_model(artifact)
    try:
        with live.live_server(create_app(model, ServeSettings(max_batch=300))) as url:  # type: ignore[attr-defined]
            seen: list[int] = []
            s = predict_file(None, real_test_csv, tmp_path / "remote.csv", url=url,
                             progress=seen.append)
            r = CliRunner().invoke(cmd, ["--url", url, "--data", str(real_test_csv), "--out",
                                         str(tmp_path / "cli.csv"), "--chunk-size", "999"])
    finally:
        model.close()
    assert seen == [300, 300, 300, 100] and s.rows == 1000 and s.model_id == model.model_id
    assert r.exit_code == 0, r.output
    predict_file(artifact, real_test_csv, tmp_path / "local.csv")
    local = pd.read_csv(tmp_path / "local.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "remote.csv"), local)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cli.csv"), local)


def test_url_errors(artifact: Path, tmp_path: Path) -> None:
    from phoneprice_edge.serve.app import create_app
    from phoneprice_edge.serve.model import load_served_model

    rows = pd.DataFrame([{f.name: f.min for f in PHONE_SCHEMA.features}] * 5)
    rows.loc[3, "ram"] = 99999  # a warning here (not --strict), refused by the server
    rows.to_csv(tmp_path / "in.csv", index=False)
    live = _serve_module("live")
    model = load_served_model(artifact)
    try:
        with live.live_server(create_app(model)) as url:  # type: ignore[attr-defined]
            with pytest.raises(DataError, match=r"row 3, column 'ram': out of range"):
                predict_file(None, tmp_path / "in.csv", tmp_path / "never.csv", url=url)
    finally:
        model.close()
    assert not (tmp_path / "never.csv").exists()
    runner = CliRunner()
    r = runner.invoke(cmd, ["--data", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv")])
    assert isinstance(r.exception, UsageError) and "exactly one of" in str(r.exception)
    r = runner.invoke(cmd, ["--artifact", str(artifact), "--url", "http://127.0.0.1:9",
                            "--data", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv")])
    assert isinstance(r.exception, UsageError)
