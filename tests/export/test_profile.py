"""Export profiles: strict TOML validation into frozen dataclasses, before any work starts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from phoneprice_edge.cli.export import cmd as export_cmd
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.export.profile import Tolerance, load_profile, parse_profile
from phoneprice_edge.targets import LAYER_ROLES, TARGETS


def _p(**data: object):
    return parse_profile(dict(data), name="t")


def test_builtin_profile_fields() -> None:
    p = load_profile("onnx-int8")
    assert (p.target, p.precision, p.opset) == ("onnx", "int8", 20)
    assert p.calibration is not None and p.calibration.method == "minmax"
    assert p.tolerance == Tolerance.default_for("int8")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.precision = "fp32"  # type: ignore[misc]


@pytest.mark.parametrize("data, fragment", [
    ({"target": "onnx", "precision": "fp32", "colour": "red"}, "unknown key(s) colour"),
    ({"target": "onnx", "precision": "fp32", "batch": {"maximum": 8}}, "batch.maximum"),
    ({"target": "onnx", "precision": "fp32", "openvino": {"device": "CPU"}}, "openvino"),
    ({"target": "torchscript", "precision": "fp16"}, "not supported by target torchscript"),
    ({"target": "onnx", "precision": "fp32", "calibration": {"samples": 64}}, "calibration"),
    ({"target": "torchscript", "precision": "int8", "calibration": {}}, "without calibration"),
    ({"target": "cpp", "precision": "int8", "calibration": {}}, "without calibration"),
    ({"target": "openvino", "precision": "int8", "calibration": {"method": "entropy"}}, "entropy"),
    ({"target": "onnx", "precision": "fp32", "batch": {"min": 8, "opt": 4, "max": 16}}, "min <= opt"),
    ({"target": "onnx", "precision": "fp32", "opset": 7}, "opset"),
    ({"target": "tensorrt", "precision": "fp16", "tensorrt": {"workspace_mb": "big"}}, "int"),
    ({"target": "warp-drive", "precision": "fp32"}, "target must be one of"),
])
def test_bad_profiles_are_config_errors(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as exc:
        _p(**data)
    assert fragment in str(exc.value)
    assert exc.value.exit_code == 2


def test_tolerance_override_keeps_other_defaults() -> None:
    p = _p(target="onnx", precision="fp32", tolerance={"max_abs": 1e-3})
    assert p.tolerance.max_abs == 1e-3 and p.tolerance.max_rel == 1e-3


def test_unknown_key_fails_before_any_work(tmp_path: Path) -> None:
    prof = tmp_path / "bad.toml"
    prof.write_text('target = "onnx"\nprecision = "fp32"\nturbo = true\n')
    empty_run = tmp_path / "run"
    empty_run.mkdir()  # no checkpoint: any work would fail with exit 1, not 2
    res = CliRunner().invoke(export_cmd, ["--run", str(empty_run), "--profile", str(prof)],
                             standalone_mode=False)
    assert isinstance(res.exception, ConfigError) and "turbo" in str(res.exception)
    assert not (empty_run / "export").exists()


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime (ns): what 'untouched' means."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


# one bad value of each kind; the error names the file, the key, the value and what is allowed
BAD_OPTIONS = [
    ("wrong-type", "tensorrt", "fp16", 'workspace_mb = "big"',
     "tensorrt.workspace_mb = 'big': must be an integer >= 1"),
    ("wrong-type-bool", "cpp", "int8", 'activation_split = "on"',
     "cpp.activation_split = 'on': must be true or false"),
    ("out-of-range", "tensorrt", "fp16", "builder_optimization_level = 9",
     "tensorrt.builder_optimization_level = 9: must be an integer in 0..5"),
    ("out-of-range-levels", "openvino", "int8", "activation_levels = 256",
     "openvino.activation_levels = 256: must be an integer in 2..255"),
    ("unknown-choice", "openvino", "fp32", 'inference_precision = "f8"',
     "openvino.inference_precision = 'f8': must be one of f32, f16, bf16"),
    ("unknown-list-item", "torchscript", "int8", 'int8_keep_fp32 = ["first", "middle"]',
     "torchscript.int8_keep_fp32 = ['first', 'middle']: must be a list of first, last, wide"),
    ("bad-pattern", "tensorrt", "fp16", 'timing_cache = "../cache"',
     "tensorrt.timing_cache = '../cache': must be a string matching"),
]


@pytest.mark.parametrize("case, target, precision, line, message", BAD_OPTIONS,
                         ids=[c[0] for c in BAD_OPTIONS])
def test_bad_option_value_is_one_line_exit_2_before_the_run_is_touched(
        synth_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
        target: str, precision: str, line: str, message: str) -> None:
    """Through the real entry point (`pe export --profile FILE`) on a finished run: exit 2, one
    line naming the profile file, key, value and what is allowed; the run folder unchanged. The
    TensorRT cases fail the same way on a host without a GPU: the options come first."""
    from phoneprice_edge.cli import main

    prof = tmp_path / f"{case}.toml"
    calib = '[calibration]\nsamples = 64\nmethod = "minmax"\n' \
        if precision == "int8" and TARGETS[target].calibration_methods else ""
    prof.write_text(f'target = "{target}"\nprecision = "{precision}"\n{calib}[{target}]\n{line}\n')
    before = _tree(synth_run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["export", "--run", str(synth_run), "--profile", str(prof)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert len(err) == 1 and str(prof) in err[0] and message in err[0], err
    assert _tree(synth_run) == before


def test_every_option_default_is_allowed_by_its_own_table() -> None:
    """The table's defaults pass its own checks (a default outside its range would only fail
    when used); None means 'not set' (the library's own default)."""
    for target in TARGETS.values():
        for table in target.options.values():
            for key, opt in table.items():
                if opt.default is not None:
                    assert opt.check(opt.default) == opt.default, (target.name, key)


def test_option_reads_the_table_default_and_refuses_keys_the_target_lacks() -> None:
    p = _p(target="cpp", precision="int8")
    assert p.option("int8_keep_fp32") == list(LAYER_ROLES) and p.option("activation_split") is True
    assert p.options == {}  # defaults are not copied into the profile (nor its manifest)
    trt = _p(target="tensorrt", precision="int8", calibration={"samples": 64})
    assert trt.option("activation_symmetric") is True  # fixed for TensorRT's QDQ ONNX
    with pytest.raises(KeyError):
        p.option("per_channel")
