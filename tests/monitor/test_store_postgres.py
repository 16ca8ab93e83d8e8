"""The prediction log on a real PostgreSQL server (scripts/test.d/20-postgres.sh): the served app
writes through --log-predictions postgresql://..., `pe-monitor drift` reads it back (exit 0 for
unshifted traffic, 3 for ram x1.3); two sinks (two servers' worth) writing concurrently."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from monitor_helpers import FEATS, shifted

from phoneprice_edge.cli.common import entry
from phoneprice_edge.cli.monitor import cmd
from phoneprice_edge.data import synth_phone
from phoneprice_edge.monitor.store import read_sql_log
from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.model import load_served_model
from phoneprice_edge.serve.settings import ServeSettings
from phoneprice_edge.serve.sinks import make_sink

STATE = Path(os.environ.get("PE_PG_STATE", Path.home() / ".cache" / "phoneprice_edge" / "pg"))
PROFILE = "onnx-fp32"


def _server_url() -> str:
    if not (STATE / "url").is_file():
        reason = (STATE / "skip_reason").read_text().strip() if (STATE / "skip_reason").is_file() \
            else f"no PostgreSQL URL at {STATE / 'url'} (run scripts/test.d/20-postgres.sh)"
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return (STATE / "url").read_text().strip()


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """The server URL pinned to a fresh schema (search_path), dropped with its tables afterwards."""
    import sqlalchemy as sa

    from phoneprice_edge.monitor.store import make_engine

    base = _server_url()
    schema = f"pe_mon_{uuid.uuid4().hex[:10]}"
    engine = make_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL unavailable: {str(exc).splitlines()[0]}")
    try:
        yield f"{base}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="module")
def exported_run(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the small run with a real ONNX export (the model the server serves)."""
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile

    run = tmp_path_factory.mktemp("pgrun") / "run"
    shutil.copytree(small_run, run)
    export_profile(run, load_profile(PROFILE))
    return run


def serve_traffic(run: Path, url: str, df: pd.DataFrame, batch: int = 50) -> int:
    """Run the app with --log-predictions URL, post df in batches, stop it (the sink is closed)."""
    model = load_served_model(run / "export" / PROFILE)
    try:
        sink = make_sink(url, feature_names=model.schema.feature_names, classes=model.classes)
        app = create_app(model, ServeSettings(out_of_range="warn", warmup_runs=1), sink)
        records = df[FEATS].to_dict("records")
        with TestClient(app) as c:
            for i in range(0, len(records), batch):
                r = c.post("/v1/predict", json={"records": records[i:i + batch]})
                assert r.status_code == 200, r.text
        assert sink.dropped == 0
        return len(records)
    finally:
        model.close()


def drift_exit(run: Path, url: str, out: Path, capsys: pytest.CaptureFixture[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(["drift", "--run", str(run), "--log", url, "--out", str(out), "--no-plot"])
    capsys.readouterr()
    return int(exc.value.code or 0)


def test_unshifted_traffic_logged_to_postgres_shows_no_drift(
        pg_url: str, exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = serve_traffic(exported_run, pg_url, synth_phone(600, 71))
    rows = read_sql_log(pg_url)
    assert len(rows) == n and len(rows[0]["features"]) == len(FEATS)
    assert drift_exit(exported_run, pg_url, tmp_path / "r", capsys) == 0


def test_shifted_traffic_logged_to_postgres_is_drift(
        pg_url: str, exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serve_traffic(exported_run, pg_url, shifted(synth_phone(600, 72)))
    assert drift_exit(exported_run, pg_url, tmp_path / "r", capsys) == 3


def test_two_servers_log_to_one_postgres_table_concurrently(
        pg_url: str, exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = [synth_phone(400, 73), synth_phone(400, 74)]
    done: list[int] = []
    errors: list[BaseException] = []

    def server(df: pd.DataFrame) -> None:
        try:
            done.append(serve_traffic(exported_run, pg_url, df, batch=10))
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=server, args=(df,)) for df in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    rows = read_sql_log(pg_url)
    assert len(rows) == sum(done) == 800
    assert len({r["request_id"] for r in rows}) == 80  # every request of both servers is there
    assert drift_exit(exported_run, pg_url, tmp_path / "r", capsys) == 0


def test_sinks_starting_together_on_an_empty_database_all_open(pg_url: str) -> None:
    """CREATE TABLE races between servers started at once (a catalog unique violation before)."""
    from phoneprice_edge.monitor.store import SQLPredictionSink

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            SQLPredictionSink(pg_url).close()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
