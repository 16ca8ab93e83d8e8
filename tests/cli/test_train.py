"""pe-train and pe pipeline end to end through the CLI entry (exit codes, messages, files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.data import synth_phone, write_table


def call(cmd_module: str, args: list[str]) -> int:
    import importlib

    cmd = importlib.import_module(cmd_module).cmd
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    return int(exc.value.code)


def test_pe_train_kfold_then_resume_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_table(synth_phone(rows=200, seed=4), tmp_path / "d.csv")
    run = tmp_path / "run"
    code = call("phoneprice_edge.cli.train", ["--data", str(tmp_path / "d.csv"), "--kfold", "2",
                                              "--epochs", "2", "--set", "hidden_dims=[8]",
                                              "--out", str(run), "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "2-fold accuracy" in out
    cfg = (run / "config.toml").read_text()
    assert "kfold = 2" in cfg and "epochs = 2" in cfg and "hidden_dims = [8]" in cfg
    assert json.loads((run / "metrics.json").read_text())["cv"]["k"] == 2
    assert call("phoneprice_edge.cli.train", ["--resume", str(run)]) == 2
    assert "already finished" in capsys.readouterr().err
    assert call("phoneprice_edge.cli.train", ["--resume", str(run), "--epochs", "3"]) == 2
    assert call("phoneprice_edge.cli.train", ["--data", str(tmp_path / "d.csv"), "--out", str(run)]) == 2
    assert "already holds a training run" in capsys.readouterr().err


def test_pe_train_table_without_label_is_exit_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    code = call("phoneprice_edge.cli.train", ["--data", str(tmp_path / "bad.csv"), "--out",
                                              str(tmp_path / "r"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "bad.csv" in err and "--label" in err and "Traceback" not in err


def test_pipeline_first_stages_default_data(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The data -> train -> evaluate stages (later stages are tested by their owners)."""
    from phoneprice_edge.cli.pipeline import STAGES, PipelineContext, run_stages

    assert [name for name, _ in STAGES][:3] == ["data", "train", "evaluate"]
    run = tmp_path / "p"
    run_stages(PipelineContext(run, None, 2, None, True), STAGES[:3])
    out = capsys.readouterr().out
    assert "result:  usable" in out and "report:" in out
    assert (run / "input" / "phone_synth.csv").is_file()
    assert (run / "report.md").is_file() and (run / "plots" / "roc.png").is_file()


def test_gc_paused_restores_the_collector_and_freezes_only_new_imports() -> None:
    import gc
    import sys

    from phoneprice_edge.cli.train import gc_paused

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # nothing imported: nothing frozen
    sys.modules.pop("colorsys", None)
    try:
        with gc_paused():
            import colorsys  # noqa: F401  (a module not yet imported: the block imports)
        assert gc.isenabled() and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()  # back into the collected generations for the rest of the session
    gc.disable()
    try:  # a collector the caller had off stays off
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
