"""Parity: metrics and tolerances as data, real artifacts against the reference, reports on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from profile_cases import cannot_run_here

from phoneprice_edge.cli.parity import cmd as parity_cmd
from phoneprice_edge.export.manifest import read_manifest
from phoneprice_edge.export.profile import (
    Tolerance,
    builtin_profile_names,
    load_profile,
)
from phoneprice_edge.export.runner import export_profile
from phoneprice_edge.parity import check_parity, compare, diff_stats
from phoneprice_edge.targets import TARGETS

CLI_KEYS = {"passed", "max_abs_diff", "max_rel_diff", "top1_agreement", "accuracy_reference",
            "accuracy_candidate", "batch_invariant"}


def test_relative_error_uses_max_of_ref_and_one() -> None:
    ref = np.array([[1e-6, 100.0]], np.float32)
    cand = np.array([[2e-6, 101.0]], np.float32)
    max_abs, max_rel = diff_stats(cand, ref)
    assert max_abs == pytest.approx(1.0) and max_rel == pytest.approx(0.01, rel=1e-5)


def test_int8_is_judged_by_agreement_not_absolute_error() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(200, 4)).astype(np.float32) * 5
    y = ref.argmax(1)
    noisy = ref + 0.3  # large absolute shift, identical ranking
    stats, fails = compare(ref, noisy, y, Tolerance.default_for("int8"))
    assert fails == [] and stats["top1_agreement"] == 1.0
    _, fails32 = compare(ref, noisy, y, Tolerance.default_for("fp32"))
    assert any("max abs" in f for f in fails32)
    flipped = ref.copy()
    flipped[:5] = flipped[:5, ::-1]  # 2.5% of the rows change class
    _, fails8 = compare(ref, flipped, y, Tolerance.default_for("int8"))
    assert any("top-1 agreement" in f for f in fails8)


def test_passing_artifact_writes_reports(synth_run: Path) -> None:
    art = exported(synth_run, "onnx-fp32")
    res = CliRunner().invoke(parity_cmd, ["--run", str(synth_run), "--artifact", str(art)],
                             standalone_mode=False)
    assert res.exception is None and res.return_value == 0, res.output
    rep = json.loads((synth_run / "parity" / "onnx-fp32.json").read_text())
    assert CLI_KEYS <= set(rep) and rep["passed"] and rep["batch_sizes"] == [1, 7, 64, 1024]
    assert rep["max_abs_diff"] <= 1e-4 and rep["top1_agreement"] == 1.0
    assert read_manifest(art).fact("parity")["passed"] is True
    assert "onnx-fp32" in (synth_run / "parity" / "report.md").read_text()


def test_artifact_of_another_model_fails(synth_run: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from run_factory import _synth_xy, build_run

    x, y = _synth_xy()
    other = build_run(tmp_path_factory.mktemp("other_run"), x, y, seed=7, epochs=3)
    art = export_profile(other, load_profile("torchscript-fp32")).out_dir
    rep = check_parity(synth_run, art)
    assert not rep.passed and rep.batch_invariant
    assert any("max abs diff" in f for f in rep.failures)
    res = CliRunner().invoke(parity_cmd, ["--run", str(synth_run), "--artifact", str(art)],
                             standalone_mode=False)
    assert res.return_value == 1 and "FAIL" in res.output


_EXPORTED: dict[tuple[Path, str], Path] = {}


def exported(run: Path, name: str) -> Path:
    """The profile's export folder in run, exported once per test session."""
    if (run, name) not in _EXPORTED:
        _EXPORTED[(run, name)] = export_profile(run, load_profile(name)).out_dir
    return _EXPORTED[(run, name)]


@pytest.mark.parametrize("profile", builtin_profile_names())
def test_builtin_profile_passes_parity_on_synthetic_run(synth_run: Path, profile: str) -> None:
    """Every profile in export_profiles/ (a new one gets this test by being there)."""
    prof = load_profile(profile)
    why = cannot_run_here(prof)
    if why:
        pytest.skip(f"{profile}: {why}")
    device = "cuda" if TARGETS[prof.target].needs_gpu else "cpu"
    rep = check_parity(synth_run, exported(synth_run, profile), device=device)
    assert rep.passed, rep.failures


def untested(profiles: list[str]) -> tuple[list[str], list[str]]:
    """(built-in profiles not in profiles, targets that no profile in profiles exports to)."""
    targets = {load_profile(n).target for n in profiles}
    return (sorted(set(builtin_profile_names()) - set(profiles)),
            [t for t in TARGETS if t not in targets])


def test_every_builtin_profile_and_target_has_a_parity_test() -> None:
    (mark,) = [m for m in test_builtin_profile_passes_parity_on_synthetic_run.pytestmark
               if m.name == "parametrize"]
    profiles, targets = untested(list(mark.args[1]))
    assert not profiles, (f"built-in profile(s) without a parity test: {', '.join(profiles)} "
                          "(parametrize over builtin_profile_names())")
    assert not targets, (f"target(s) {', '.join(targets)} have no built-in profile, so no parity "
                         "test: add export_profiles/<target>-<precision>.toml")


def test_the_coverage_check_names_what_is_missing() -> None:
    assert untested(builtin_profile_names()) == ([], [])
    profiles, targets = untested(["onnx-fp32", "cpp-int8"])
    assert "tensorrt-fp16" in profiles and "onnx-fp32" not in profiles
    assert targets == [t for t in TARGETS if t not in ("onnx", "cpp")]
