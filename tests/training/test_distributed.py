"""DDP training: DistributedSampler sharding, launch errors, and 2-process gloo runs of the real
pe-train CLI under torchrun (accuracy vs one process, interrupted + resumed, single-process reload)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch.utils.data import DistributedSampler

from phoneprice_edge.errors import UsageError
from phoneprice_edge.training import ddp_run
from phoneprice_edge.training import distributed as dd

PE_TRAIN = str(Path(sys.executable).parent / "pe-train")
EPOCHS = "60"
TIMEOUT_S = 300  # a hung rendezvous or peer fails the test instead of hanging CI


# -- sharding -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "world"), [(10, 2), (11, 2), (11, 3), (400, 4), (3, 5)])
@pytest.mark.parametrize("epoch", [0, 3])
def test_shards_are_distributed_sampler_indices(n: int, world: int, epoch: int) -> None:
    for r in range(world):
        sampler = DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=True, seed=42)
        sampler.set_epoch(epoch)
        assert dd.shard_indices(n, 42, epoch, r, world).tolist() == list(sampler)


def test_shards_cover_every_row_once_and_reshuffle_per_epoch() -> None:
    n, world = 1600, 2
    e0 = [dd.shard_indices(n, 7, 0, r, world) for r in range(world)]
    assert sorted(torch.cat(e0).tolist()) == list(range(n))
    assert e0[0].numel() == e0[1].numel() == n // world
    e1 = dd.shard_indices(n, 7, 1, 0, world)
    assert not torch.equal(e0[0], e1)
    assert torch.equal(dd.shard_indices(n, 7, 0, 0, world), e0[0])  # same epoch, same shard


def test_without_process_group_everything_is_local() -> None:
    model = torch.nn.Linear(3, 2)
    assert not dd.active() and dd.is_main() and dd.world_size() == 1
    assert dd.wrap(model) is model and dd.shard_size(11) == 11
    assert dd.sum_across_ranks(1.5, 2) == (1.5, 2)
    assert dd.on_main(lambda: 5) == 5


def test_kfold_is_refused_under_ddp() -> None:
    from phoneprice_edge.config import load_train_config

    with pytest.raises(UsageError, match="k-fold"):
        ddp_run._check_config(load_train_config(None).with_overrides(kfold=5))


def test_distributed_without_torchrun_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    from phoneprice_edge.cli.common import entry
    from phoneprice_edge.cli.train import cmd

    for var in dd.TORCHRUN_VARS:
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        with pytest.raises(SystemExit) as exc:
            entry(cmd)(["--distributed", "--out", str(tmp_path / "r"), "--epochs", "1"],
                       prog_name="pe-train")
        message = err.getvalue().decode()
    assert exc.value.code == 2
    assert message.count("\n") == 1 and "Traceback" not in message
    assert "torchrun --nproc_per_node=N" in message and "RANK" in message
    assert not (tmp_path / "r").exists()


# -- real 2-process runs (gloo on 127.0.0.1) -----------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in dd.TORCHRUN_VARS}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def _torchrun_cmd(*args: str, nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
            "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}",
            "--max-restarts=0", "--no-python", PE_TRAIN, "--distributed", "--dist-timeout", "60",
            "-q", *args]


def _run(cmd: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop(proc)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd[:6])} ... hung for {TIMEOUT_S} s:\n{err[-2000:]}")
    res = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    assert res.returncode == 0, f"exit {res.returncode}\n{out[-1000:]}\n{err[-3000:]}"
    return res, time.perf_counter() - t0


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to torchrun, which kills its workers (they run in sessions of their own), then SIGKILL."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def ddp_and_single(real_train_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same config trained by one process and by 2 DDP processes (60 epochs each)."""
    base = tmp_path_factory.mktemp("ddp")
    single, ddp = base / "single", base / "ddp"
    # Single-stage recipe, so that EPOCHS is the whole run (the default adds a second stage).
    common = ["--data", str(real_train_csv), "--epochs", EPOCHS, "--device", "cpu",
              "--set", 'feature_select="none"']
    _, t_single = _run([PE_TRAIN, "-q", *common, "--out", str(single)])
    res, t_ddp = _run(_torchrun_cmd(*common, "--out", str(ddp)))
    return {"single": single, "ddp": ddp, "t_single": t_single, "t_ddp": t_ddp, "csv": real_train_csv,
            "stdout": res.stdout}


@pytest.mark.slow
def test_ddp_accuracy_matches_single_process(ddp_and_single: dict) -> None:
    single, ddp = _metrics(ddp_and_single["single"]), _metrics(ddp_and_single["ddp"])
    print(f"single {single['accuracy']:.4f} ({ddp_and_single['t_single']:.1f} s wall), "
          f"ddp x2 {ddp['accuracy']:.4f} ({ddp_and_single['t_ddp']:.1f} s wall)")
    assert ddp["world_size"] == 2 and "world_size" not in single
    assert abs(ddp["accuracy"] - single["accuracy"]) <= 0.01
    assert ddp["accuracy"] > 0.9
    # rank 0 alone printed the summary and wrote the run folder (one history row per epoch)
    assert ddp_and_single["stdout"].count("validation: accuracy") == 1
    history = (ddp_and_single["ddp"] / "history.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in history] == list(range(1, int(EPOCHS) + 1))
    # every training row was seen once per epoch across both ranks (1600 rows, no padding)
    assert ddp["train_samples"] == single["train_samples"] == 1600 * int(EPOCHS)
    assert not (ddp_and_single["ddp"] / ".in_progress").exists()


@pytest.mark.slow
def test_ddp_checkpoint_loads_and_exports_in_one_process(ddp_and_single: dict) -> None:
    from phoneprice_edge.checkpoint import load_model
    from phoneprice_edge.evaluate import predict_logits
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile
    from phoneprice_edge.training.rundir import load_npz

    run = ddp_and_single["ddp"]
    loaded = load_model(run / "checkpoints" / "best_model.pt")
    assert not any(k.startswith("module.") for k in loaded.model.state_dict())
    X, y = load_npz(run / "data" / "val.npz")
    acc = float((predict_logits(loaded.model, X).argmax(1) == y).mean())
    assert acc == pytest.approx(_metrics(run)["accuracy"])
    res = export_profile(run, load_profile("onnx-fp32"))
    import onnxruntime as ort

    sess = ort.InferenceSession(str(res.out_dir / res.files[0]), providers=["CPUExecutionProvider"])
    onnx_logits = sess.run(None, {sess.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(onnx_logits, predict_logits(loaded.model, X), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_ddp_resume_after_a_kill_matches_the_uninterrupted_run(ddp_and_single: dict,
                                                               tmp_path: Path) -> None:
    from phoneprice_edge.checkpoint import read_checkpoint

    run = tmp_path / "killed"
    cmd = _torchrun_cmd("--data", str(ddp_and_single["csv"]), "--epochs", EPOCHS,
                        "--device", "cpu", "--set", 'feature_select="none"', "--out", str(run))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=_env(), start_new_session=True)
    last, deadline = run / "checkpoints" / "last.pt", time.monotonic() + TIMEOUT_S
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    _stop(proc)  # agent and both ranks, mid-run
    stopped_at = int(read_checkpoint(last)["epoch"])
    assert 1 <= stopped_at < int(EPOCHS) and (run / ".in_progress").exists()

    _run([*_torchrun_cmd("--resume", str(run))])
    ref = ddp_and_single["ddp"]
    assert _metrics(run)["accuracy"] == _metrics(ref)["accuracy"]
    history = [json.loads(r) for r in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == list(range(1, int(EPOCHS) + 1))
    a = read_checkpoint(run / "checkpoints" / "last.pt")["state_dict"]
    b = read_checkpoint(ref / "checkpoints" / "last.pt")["state_dict"]
    for key in b:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
