"""Export profiles: strict TOML validation into frozen dataclasses, before any work starts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from phoneprice_edge.cli.export import cmd as export_cmd
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.export.profile import Tolerance, load_profile, parse_profile


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
