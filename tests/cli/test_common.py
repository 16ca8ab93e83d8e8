"""The CLI entry wrapper: exit codes for errors, usage mistakes and Ctrl-C, never a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import click
import pytest

from phoneprice_edge.cli.common import entry
from phoneprice_edge.errors import ConfigError, DataError


def _run(cmd: click.Command, args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        entry(cmd)(args)
    return int(exc.value.code or 0)


def test_error_codes_and_one_line_messages(capsys: pytest.CaptureFixture[str]) -> None:
    @click.command()
    @click.option("--kind")
    def cmd(kind: str) -> None:
        if kind == "data":
            raise DataError("t.csv: data row 3, column ram: 'abc' is not a number")
        if kind == "config":
            raise ConfigError("c.toml: unknown key 'lr'")

    assert _run(cmd, ["--kind", "data"]) == 1
    assert capsys.readouterr().err == "error: t.csv: data row 3, column ram: 'abc' is not a number\n"
    assert _run(cmd, ["--kind", "config"]) == 2
    assert _run(cmd, ["--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err
    assert _run(cmd, []) == 0


def test_ctrl_c_exits_130_without_traceback(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(textwrap.dedent("""
        import sys, time, click
        from phoneprice_edge.cli.common import entry
        @click.command()
        def c():
            print("ready", flush=True)
            time.sleep(30)
        entry(c)()
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "error: interrupted" in err and "Traceback" not in err


def test_missing_optional_package_names_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    """A build-side command in the device install: one line naming the extra, exit 1; a missing
    module that belongs to no extra is a real bug and keeps its traceback."""
    @click.command()
    @click.option("--module")
    def cmd(module: str) -> None:
        raise ModuleNotFoundError(f"No module named '{module}'", name=module)

    for module, extra in (("torch", "train"), ("sklearn.metrics", "train"), ("fastapi", "serve"),
                          ("pyarrow", "parquet"), ("openvino", "openvino")):
        assert _run(cmd, ["--module", module]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"phoneprice_edge[{extra}]" in err, err
        assert f"needs {module.split('.')[0]}," in err
    with pytest.raises(ModuleNotFoundError):
        entry(cmd)(["--module", "not_an_extra_module"])


def test_an_error_after_sigterm_is_the_interrupt(capsys, monkeypatch) -> None:
    """SIGTERM inside an extension module's import surfaces as a plain ImportError (scipy's does):
    after a SIGTERM it is reported as the interrupt, with the resume hint, not as a crash."""
    import threading

    from phoneprice_edge.cli import common
    from phoneprice_edge.errors import Terminated

    monkeypatch.setattr(common, "_TERM_SEEN", threading.Event())
    with pytest.raises(ImportError), common.resume_hint("RUN"):
        raise ImportError("initialization failed")  # no SIGTERM seen: a real error stays one
    common._TERM_SEEN.set()
    with pytest.raises(Terminated), common.resume_hint("RUN"):
        raise ImportError("initialization failed")
    assert "continue with: pe-train --resume RUN" in capsys.readouterr().err
