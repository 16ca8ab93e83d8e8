"""pe-train against bad starts: one-line errors (2 usage, 1 runtime) checked before a run folder
exists, a failed start leaves nothing that blocks the next run, SIGTERM handled like Ctrl-C,
option conflicts, --out into a foreign folder, a table of one class."""

from __future__ import annotations

import builtins
import importlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.data import synth_phone, write_table

TRAIN = "phoneprice_edge.cli.train"
FAST = ["--epochs", "1", "--set", "hidden_dims=[8]", "--set", 'feature_select="none"', "-q"]


def call(module: str, args: list[str]) -> int:
    cmd = importlib.import_module(module).cmd
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    return int(exc.value.code)


@pytest.fixture()
def data_csv(tmp_path: Path) -> Path:
    return write_table(synth_phone(rows=120, seed=5), tmp_path / "d.csv")


def _one_line(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("args", [
    ["--seed", "-1"], ["--seed", "4294967296"], ["--seed", str(2 ** 70)],
    ["--set", "seed=-5"], ["--set", "seed=18446744073709551616"],
])
def test_bad_seed_is_a_usage_error_before_the_run_folder(tmp_path: Path, data_csv: Path,
                                                         args: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(run), *FAST, *args]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "seed" in err and "4294967295" in err
    assert not run.exists()


def test_largest_seed_trains(tmp_path: Path, data_csv: Path) -> None:
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(tmp_path / "r"), *FAST,
                        "--seed", str(2 ** 32 - 1)]) == 0


def test_seed_in_a_config_file(tmp_path: Path, data_csv: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text("seed = -3\n")
    assert call(TRAIN, ["--config", str(tmp_path / "c.toml"), "--data", str(data_csv),
                        "--out", str(tmp_path / "r"), "-q"]) == 2
    assert "c.toml" in capsys.readouterr().err and not (tmp_path / "r").exists()


def _deny(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make path unreadable: chmod 000 (not enough as root, so open() is refused as well)."""
    path.chmod(0)
    real_open = builtins.open

    def guarded(file, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        if isinstance(file, str | os.PathLike) and Path(file).resolve() == path.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)  # what pathlib's read_text calls


@pytest.mark.parametrize("ext", ["csv", "json", "jsonl"])
def test_unreadable_input_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], ext: str) -> None:
    path = write_table(synth_phone(rows=40, seed=1), tmp_path / f"d.{ext}")
    _deny(monkeypatch, path)
    run = tmp_path / "run"
    assert call(TRAIN, ["--data", str(path), "--out", str(run), *FAST]) == 1
    err = capsys.readouterr().err
    assert _one_line(err) and str(path) in err and "ermission denied" in err
    assert not run.exists()
    assert call("phoneprice_edge.cli.data", ["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert _one_line(err) and "ermission denied" in err


def test_huge_hidden_dims_refused_before_the_run_folder(tmp_path: Path, data_csv: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    t0 = time.perf_counter()
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(run), "-q",
                        "--set", "hidden_dims=[100000,100000]"]) == 1
    err = capsys.readouterr().err
    assert _one_line(err) and "hidden_dims" in err and "memory" in err
    assert not run.exists() and time.perf_counter() - t0 < 30


def test_failed_start_leaves_nothing_that_blocks_the_next_run(
        tmp_path: Path, data_csv: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from phoneprice_edge.training import loop

    def boom(*a: object, **kw: object) -> None:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 40000000000 bytes")

    run = tmp_path / "run"
    monkeypatch.setattr(loop.Trainer, "__init__", boom)
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(run), *FAST]) == 1
    err = capsys.readouterr().err
    assert _one_line(err) and "allocate" in err
    assert not run.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(empty), *FAST]) == 1
    assert empty.is_dir() and list(empty.iterdir()) == []  # a folder given empty stays, empty
    monkeypatch.undo()
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(run), *FAST]) == 0
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(empty), *FAST]) == 0


def test_out_into_a_foreign_non_empty_folder_is_refused(tmp_path: Path, data_csv: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8")
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(foreign), *FAST]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "not empty" in err and str(foreign) in err
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]


@pytest.mark.parametrize(("args", "fragment"), [
    (["--set", "epochs=abc", "--epochs", "3"], "--set epochs"),
    (["--epochs", "3", "--set", "epochs=4"], "--set epochs"),
    (["--set", "seed=1", "--seed", "2"], "--set seed"),
    (["--set", "device=cpu", "--device", "cpu"], "--set device"),
    (["--set", "kfold=2", "--kfold", "3"], "--set kfold"),
])
def test_set_and_flag_for_the_same_key_conflict(tmp_path: Path, data_csv: Path, args: list[str],
                                                fragment: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(run), "-q", *args]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and fragment in err and "conflict" in err and not run.exists()


def test_set_with_a_bad_type_is_a_clear_error(tmp_path: Path, data_csv: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(tmp_path / "r"), "-q",
                        "--set", "epochs=abc"]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "epochs" in err and "'abc'" in err and "integer" in err


def test_phone_table_of_one_class_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    df = synth_phone(rows=200, seed=2)
    one = write_table(df[df["price_range"] == 2], tmp_path / "one.csv")
    run = tmp_path / "run"
    assert call(TRAIN, ["--data", str(one), "--out", str(run), *FAST]) == 1
    err = capsys.readouterr().err
    assert _one_line(err) and "one.csv" in err and "price_range" in err and "class" in err
    assert not run.exists()


def test_sigterm_exits_143_like_ctrl_c(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(textwrap.dedent("""
        import time, click
        from phoneprice_edge.cli.common import entry
        @click.command()
        def c():
            print("ready", flush=True)
            time.sleep(30)
        entry(c)()
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in err


def test_sigterm_during_training_gives_the_resume_hint_and_resumes(tmp_path: Path,
                                                                   data_csv: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "pe-train"), "--data", str(data_csv), "--out", str(run), "-q", "--epochs", "5000",
                             "--set", "hidden_dims=[8]", "--set", 'feature_select="none"'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not (run / "checkpoints" / "last.pt").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert f"continue with: pe-train --resume {run}" in err and "error: interrupted" in err
    assert "Traceback" not in err and (run / ".in_progress").exists()
    assert call(TRAIN, ["--resume", str(run), "-q"]) == 0
    assert (run / "metrics.json").is_file() and not (run / ".in_progress").exists()


def test_unreadable_init_from_is_one_line_before_the_run_folder(
        tmp_path: Path, data_csv: Path, synth_run: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    ckpt = tmp_path / "init.pt"
    shutil.copy(synth_run / "checkpoints" / "best_model.pt", ckpt)
    _deny(monkeypatch, ckpt)
    run = tmp_path / "run"
    assert call(TRAIN, ["--data", str(data_csv), "--out", str(run), *FAST,
                        "--init-from", str(ckpt)]) == 1
    err = capsys.readouterr().err
    assert _one_line(err) and str(ckpt) in err and "ermission denied" in err
    assert not run.exists()
