"""The stage sequence after training: one list for `pe pipeline` and retraining, file-based stages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from phoneprice_edge.errors import ExportError, ParityFailure
from phoneprice_edge.export.profile import load_profile
from phoneprice_edge.export.stages import (
    ARTIFACT_STAGES,
    StagePlan,
    StageRun,
    run_stages,
    stage_bench,
    stage_export,
    stage_parity,
)
from phoneprice_edge.targets import TARGETS


def test_pipeline_and_retraining_run_the_same_stage_functions() -> None:
    from phoneprice_edge.cli.pipeline import STAGES
    from phoneprice_edge.monitor.retrain import Stages

    assert [n for n, _ in ARTIFACT_STAGES] == ["export", "parity", "bench"]
    assert STAGES[-3:] == ARTIFACT_STAGES and Stages().artifacts == tuple(ARTIFACT_STAGES)
    assert dict(ARTIFACT_STAGES) == {"export": stage_export, "parity": stage_parity,
                                     "bench": stage_bench}
    with pytest.raises(KeyError):
        Stages().with_stage("deploy", stage_export)


@pytest.fixture()
def run(synth_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synth_run, tmp_path / "run", ignore=shutil.ignore_patterns(
        "export", "parity", "bench")))


def test_each_stage_reads_the_files_of_the_one_before(run: Path) -> None:
    """export in one context, parity and bench in a fresh one: they find the artifact on disk."""
    plan = StagePlan((load_profile("onnx-fp32"),), skip_unavailable=False, bench=None)
    run_stages(StageRun(run, plan), ARTIFACT_STAGES[:1])
    said: list[str] = []
    ctx = StageRun(run, plan, echo=said.append)
    run_stages(ctx, ARTIFACT_STAGES[1:])
    (rec,) = ctx.results["parity"]
    assert rec["passed"] and rec["artifact"] == str(run / "export" / "onnx-fp32")
    assert json.loads((run / "parity" / "onnx-fp32.json").read_text())["passed"]
    assert "   skipped (no benchmark asked for)" in said and not (run / "bench").exists()


def test_a_failed_parity_check_skips_the_bench_when_the_plan_says_so(run: Path) -> None:
    plan = StagePlan((load_profile("onnx-fp32"),), bench_after_failed_parity=False)
    said: list[str] = []
    ctx = StageRun(run, plan, results={"failures": ["parity failed for x"]}, echo=said.append)
    with pytest.raises(ParityFailure, match="parity failed for x"):
        run_stages(ctx, ARTIFACT_STAGES[2:])
    assert "   skipped: a parity check failed" in said and "bench" not in ctx.results


def test_a_profile_this_host_cannot_run_is_skipped_or_an_error(run: Path) -> None:
    why = TARGETS["tensorrt"].unavailable_reason("fp16")
    if why is None:
        pytest.skip("TensorRT and a GPU are present: the profile runs here")
    prof = load_profile("tensorrt-fp16")
    said: list[str] = []
    stage_export(StageRun(run, StagePlan((prof,)), echo=said.append))  # the pipeline's plan
    assert f"   tensorrt-fp16: skipped ({why})" in said
    ctx = StageRun(run, StagePlan((prof,), skip_unavailable=False))  # retraining's plan
    with pytest.raises(ExportError, match=r"export failed for tensorrt-fp16: cannot export"):
        run_stages(ctx, ARTIFACT_STAGES)
    assert ctx.results["failed_stage"] == "export" and "parity" not in ctx.results


def test_build_on_device_profile_for_another_gpu_is_skipped(monkeypatch, tmp_path) -> None:
    """On a TensorRT host whose GPU is not the profile's device (no such host here: TensorRT and
    the GPU are stood in for), a build_on_device profile is skipped by export_all with its reason
    and refused before any work by a single export; --defer-build exports it (the build script
    runs on the device)."""
    import torch

    from phoneprice_edge.errors import BackendUnavailable
    from phoneprice_edge.export import runner
    from phoneprice_edge.targets import Target

    prof = load_profile("jetson-orin-tensorrt-fp16")
    monkeypatch.setattr(Target, "unavailable_reason", lambda self, precision="fp32", defer_build=False: None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    why = runner.unavailable_reason(prof)
    assert why == "built on NVIDIA Jetson Orin only (compute capability 8.7); this GPU is NVIDIA H200 (9.0)"
    assert runner.unavailable_reason(prof, defer_build=True) is None
    results, skipped, failed = runner.export_all(tmp_path, [prof])
    assert (results, failed) == ([], []) and skipped == [(prof.name, why)]
    with pytest.raises(BackendUnavailable, match="Jetson Orin only"):
        runner.check_runnable(prof)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 7))
    assert runner.unavailable_reason(prof) is None
