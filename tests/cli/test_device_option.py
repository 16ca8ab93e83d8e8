"""--device is one shared option (cli.common.device_option) on every command that runs artifacts."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from phoneprice_edge.cli.common import DEVICE_HELP, DeviceType
from phoneprice_edge.devices import cuda_index, is_cuda, parse_device
from phoneprice_edge.errors import UsageError

COMMANDS = ("verify", "predict", "parity", "serve", "bench")


def _cmd(name: str) -> click.Command:
    return importlib.import_module(f"phoneprice_edge.cli.{name}").cmd


@pytest.mark.parametrize("name", COMMANDS)
def test_every_runtime_command_shares_the_device_option(name: str) -> None:
    (opt,) = [p for p in _cmd(name).params if p.name == "device"]
    assert isinstance(opt.type, DeviceType) and opt.default == "cpu" and opt.help == DEVICE_HELP


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("bad", ["tpu", "gpu", "cuda:", "cuda:x", "CPU", "cuda:-1"])
def test_a_bad_device_is_a_usage_error(name: str, bad: str) -> None:
    res = CliRunner().invoke(_cmd(name), ["--device", bad])
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '--device': {bad!r} is not cpu, cuda or cuda:N" in res.output


@pytest.mark.parametrize("name", COMMANDS)
def test_the_help_names_the_devices(name: str) -> None:
    out = CliRunner().invoke(_cmd(name), ["--help"]).output
    assert "--device [cpu|cuda|cuda:N]" in out


def test_parse_device() -> None:
    assert [parse_device(d) for d in ("cpu", "cuda", "cuda:0", "cuda:12")] == \
        ["cpu", "cuda", "cuda:0", "cuda:12"]
    assert not is_cuda("cpu") and is_cuda("cuda") and is_cuda("cuda:2")
    assert cuda_index("cuda") == 0 and cuda_index("cuda:3") == 3
    with pytest.raises(UsageError, match="device must be cpu, cuda or cuda:N, got 'npu'"):
        parse_device("npu")
    with pytest.raises(UsageError, match="not a GPU"):
        cuda_index("cpu")
