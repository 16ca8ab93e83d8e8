"""data.summary: a file's and a SQL table's summary, the rendering, the refusal of an unusable one."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoneprice_edge.data import synth_phone
from phoneprice_edge.data.summary import check_source, raise_if_unusable, render
from phoneprice_edge.errors import DataError


def test_a_file_and_the_same_sql_table_summarise_alike(tmp_path: Path) -> None:
    import sqlalchemy

    df = synth_phone(60, 3)
    df.to_csv(tmp_path / "t.csv", index=False)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    df.to_sql("phones", engine, index=False)
    engine.dispose()
    f = check_source(str(tmp_path / "t.csv"))
    s = check_source(f"sqlite:///{tmp_path / 't.db'}", table="phones", chunk_rows=16,
                     source="db")
    assert f["ok"] and s["ok"] and f["rows"] == s["rows"] == 60 and s["chunked"]
    assert f["classes"] == s["classes"] and f["schema"] == s["schema"] == "built in (phone)"
    text = render(f)
    assert text.startswith(f"source:  {tmp_path / 't.csv'}") and text.endswith("result:  usable")
    raise_if_unusable(f)


def test_an_unusable_table_is_refused(tmp_path: Path) -> None:
    synth_phone(30, 1).assign(ram=float("nan")).to_csv(tmp_path / "bad.csv", index=False)
    summary = check_source(str(tmp_path / "bad.csv"), max_rows=20)
    assert not summary["ok"] and summary["rows"] == 20 and "UNUSABLE" in render(summary)
    with pytest.raises(DataError, match=r"bad\.csv: 1 problem\(s\) make the table unusable"):
        raise_if_unusable(summary)
