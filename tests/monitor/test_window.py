"""Reading a live window from logs and tables; --since parsing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge.data import synth_phone
from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.monitor.window import parse_since, read_window
from phoneprice_edge.schema import PHONE_SCHEMA as S


def test_parse_since() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("1700000000") == 1_700_000_000.0
    assert parse_since("2024-01-01T00:00:00") == 1_704_067_200.0
    with pytest.raises(UsageError, match="--since"):
        parse_since("yesterday")


def test_jsonl_rows_and_serve_batches(tmp_path: Path) -> None:
    X = synth_phone(6, 1)[S.feature_names].to_numpy(float)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"ts": 10.0 + i, "request_id": f"r{i}", "features": X[i].tolist(),
                                        "predicted": i % 4}) + "\n" for i in range(6)))
    w = read_window(rows, S, window=4)
    assert w.n == 4 and list(w.predicted) == [2, 3, 0, 1] and w.X[0, 0] == X[2, 0]
    assert read_window(rows, S, since=14.0).n == 2
    batch = tmp_path / "serve.jsonl"
    batch.write_text(json.dumps({"ts": 1.0, "request_id": "b", "features": X[:3].tolist(),
                                 "predicted": [0, 1, 2]}) + "\n")
    w = read_window(batch, S)
    assert w.n == 3 and list(w.row) == [0, 1, 2] and list(w.request_id) == ["b"] * 3


def test_raw_csv_with_label_and_bad_values(tmp_path: Path) -> None:
    df = synth_phone(10, 2)
    df["ram"] = df["ram"].astype(object)
    df.loc[0, "ram"] = "n/a"
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    w = read_window(p, S)
    assert w.n == 10 and np.isnan(w.X[0, S.feature_names.index("ram")])
    assert w.labels is not None and w.predicted is None
    df.drop(columns=["wifi"]).to_csv(p, index=False)
    with pytest.raises(DataError, match="missing feature column.*wifi"):
        read_window(p, S)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UsageError, match="unknown log format"):
        read_window(tmp_path / "x.txt", S)
    with pytest.raises(DataError, match="not found"):
        read_window(tmp_path / "none.csv", S)
    with pytest.raises(UsageError, match="--since needs"):
        synth_phone(40, 1).to_csv(tmp_path / "a.csv", index=False)
        read_window(tmp_path / "a.csv", S, since=1.0)


def test_jsonl_of_another_format_version_is_refused(tmp_path) -> None:
    """The stamp serve.hooks writes on every line is checked by the reader."""
    import json as _json

    from phoneprice_edge.errors import DataError as _DataError
    from phoneprice_edge.monitor.window import _read_jsonl

    p = tmp_path / "p.jsonl"
    p.write_text(_json.dumps({"format": "phoneprice_edge.predictions/99", "features": [[0.0]]}) + "\n")
    with pytest.raises(_DataError, match="line 1: prediction log format"):
        _read_jsonl(p)
    p.write_text(_json.dumps({"format": "phoneprice_edge.predictions/1", "features": [[0.0]]}) + "\n")
    assert len(_read_jsonl(p)) == 1
