"""A real PostgreSQL server as a data source (scripts/test.d/20-postgres.sh starts it): pe-train from
--table and --query, one-line errors, and chunked validation of a 200k-row table in bounded memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("PE_PG_STATE", Path.home() / ".cache" / "phoneprice_edge" / "pg"))
SCRIPT = REPO / "scripts" / "test.d" / "20-postgres.sh"


def _urls() -> tuple[str, str]:
    """The server's URLs; starts it (never installs) when the preparation step has not run."""
    if not (STATE / "url").is_file() and SCRIPT.is_file():
        subprocess.run(["bash", str(SCRIPT)], env={**os.environ, "PE_PG_NO_INSTALL": "1"},
                       timeout=120, check=False, capture_output=True)
    if not (STATE / "url").is_file():
        reason = (STATE / "skip_reason").read_text().strip() if (STATE / "skip_reason").is_file() \
            else f"no PostgreSQL URL at {STATE / 'url'} (run {SCRIPT.relative_to(REPO)})"
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return (STATE / "url").read_text().strip(), (STATE / "url_noread").read_text().strip()


@pytest.fixture(scope="module")
def pg(request: pytest.FixtureRequest) -> Iterator[dict]:
    """A table of the phone data (real file, else synth_phone) owned by pe_test, dropped afterwards."""
    import sqlalchemy as sa

    url, noread = _urls()
    try:
        df = pd.read_csv(request.getfixturevalue("real_train_csv"))
    except pytest.skip.Exception:
        from phoneprice_edge.data.synth import synth_phone

        df = synth_phone(rows=2000, seed=0)
    table = f"phones_{os.getpid()}"
    engine = sa.create_engine(url)
    df.to_sql(table, engine, index=False)
    try:
        yield {"url": url, "noread": noread, "table": table, "df": df, "engine": engine}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}", "{table}_big"'))
        engine.dispose()


def _cli(cmd_name: str, *args: str) -> tuple[int, str, str]:
    """Run pe-<cmd_name> ARGS through the console-script wrapper (real exit-code path)."""
    from phoneprice_edge.cli.common import entry

    if cmd_name == "train":
        from phoneprice_edge.cli.train import cmd
    else:
        from phoneprice_edge.cli.data import cmd
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            entry(cmd)(list(args), prog_name=f"pe-{cmd_name}")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return code, out.getvalue().decode(), err.getvalue().decode()


def _rows(run: Path) -> int:
    with np.load(run / "data" / "all.npz") as z:
        return int(z["y"].shape[0])


def test_train_from_a_postgres_table(pg: dict, tmp_path: Path) -> None:
    code, out, err = _cli("train", "--data", pg["url"], "--table", pg["table"], "--epochs", "3",
                          "--out", str(tmp_path / "run"), "-q")
    assert code == 0, err
    assert "validation: accuracy" in out and _rows(tmp_path / "run") == len(pg["df"])


def test_train_from_a_postgres_query(pg: dict, tmp_path: Path) -> None:
    query = f'SELECT * FROM "{pg["table"]}" WHERE ram > 1000 ORDER BY battery_power'
    code, out, err = _cli("train", "--data", pg["url"], "--query", query, "--epochs", "3",
                          "--out", str(tmp_path / "run"), "-q")
    assert code == 0, err
    assert _rows(tmp_path / "run") == int((pg["df"]["ram"] > 1000).sum()) < len(pg["df"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("case", "expected"), [
    ("bad_url", "not a valid database URL"),
    ("missing_table", "table 'no_such_table' not found"),
    ("refused", "Connection refused"),
    ("no_permission", "permission denied"),
    ("bad_password", "password authentication failed"),
    ("no_database", 'database "no_such_db" does not exist'),
])
def test_postgres_errors_are_one_line(pg: dict, tmp_path: Path, case: str, expected: str) -> None:
    url, table = pg["url"], pg["table"]
    base = url.rsplit("@", 1)[1]  # 127.0.0.1:PORT/db
    urls = {"bad_url": url.replace(base.split("/")[0], "127.0.0.1:notaport"),
            "missing_table": url, "refused": url.replace(base.split("/")[0], f"127.0.0.1:{_closed_port()}"),
            "no_permission": pg["noread"], "bad_password": url.replace(":pe_test@", ":wrong@"),
            "no_database": url.rsplit("/", 1)[0] + "/no_such_db"}
    code, out, err = _cli("train", "--data", urls[case], "--table",
                          "no_such_table" if case == "missing_table" else table, "--epochs", "1",
                          "--out", str(tmp_path / "run"))
    assert code == 1, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert expected in err
    assert "pe_test:pe_test@" not in err and "wrong@" not in err  # the password is masked
    assert not (tmp_path / "run" / "config.toml").exists()


def _validate_process(url: str, query: str, chunk: int) -> tuple[int, str, float]:
    """`pe-data validate` in its own process: exit code, output, peak resident memory (MiB).

    The peak is the child's own VmHWM (polled until it exits): rusage's maxrss would also count
    the pytest process the child was forked from.
    """
    cmd = [str(Path(sys.executable).parent / "pe-data"), "validate", url, "--query", query,
           "--chunk-rows", str(chunk)]
    peak = 0.0
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                text = status.read_text()
                peak = max(peak, int(text.split("VmHWM:")[1].split()[0]) / 1024)
            except (OSError, IndexError):
                pass
            time.sleep(0.02)
        out.seek(0)
        return proc.wait(timeout=60), out.read(), peak


@pytest.mark.slow
def test_validate_streams_a_large_table_in_bounded_memory(pg: dict) -> None:
    """200k rows checked in 10k-row chunks: problems named by global row, memory ~ one chunk."""
    import sqlalchemy as sa

    big, n_copies = f'{pg["table"]}_big', -(-200_000 // len(pg["df"]))
    cols = ", ".join(f'p."{c}"' for c in pg["df"].columns)
    with pg["engine"].begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE "{big}" AS SELECT row_number() OVER () AS rn, {cols} '
                             f'FROM generate_series(1, {n_copies}) g, "{pg["table"]}" p'))
        conn.execute(sa.text(f'UPDATE "{big}" SET ram = -5 WHERE rn = 150123'))
        conn.execute(sa.text(f'UPDATE "{big}" SET talk_time = NULL WHERE rn = 199999'))
    total = n_copies * len(pg["df"])
    names = ", ".join(pg["df"].columns)
    code, text, rss = _validate_process(pg["url"], f'SELECT {names} FROM "{big}" ORDER BY rn', 10_000)
    assert code == 1  # the NULL is an error (no --impute)
    assert f"rows:    {total}" in text
    assert "'talk_time': 1 missing value(s) (NaN/empty) in data row 199999" in text
    assert "'ram': 1 value(s) outside the allowed range" in text and "data row 150123" in text
    # baseline: the same command on the 2000-row table (interpreter, pandas, driver)
    _, small_text, base = _validate_process(pg["url"], f'SELECT {names} FROM "{pg["table"]}"', 10_000)
    assert f"rows:    {len(pg['df'])}" in small_text
    # the values alone, as float64, are ~32 MiB; read whole (driver rows + frame) ~300 MiB more
    values = total * len(pg["df"].columns) * 8 / 2**20
    print(f"peak RSS {rss:.0f} MiB for 200k rows vs {base:.0f} MiB for 2k rows "
          f"({values:.0f} MiB of values)")
    assert rss - base < values
