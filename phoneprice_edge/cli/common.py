"""Shared CLI plumbing: the one place where exceptions become messages and exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from phoneprice_edge.devices import DEVICES, parse_device
from phoneprice_edge.errors import PEError, Terminated, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Top-level modules of the optional extras (pyproject.toml) -> the extra that installs them. The
# base install is the device runtime; a build-side command there names the extra to add.
EXTRA_OF = {**dict.fromkeys(("torch", "onnx", "onnxscript", "sklearn", "scipy", "matplotlib",
                             "tensorboard", "nncf"), "train"),
            **dict.fromkeys(("fastapi", "uvicorn", "orjson", "prometheus_client", "httpx",
                             "sqlalchemy", "starlette"), "serve"),
            "pyarrow": "parquet", "openvino": "openvino", "psycopg": "postgres", "cuda": "tensorrt"}


DEVICE_HELP = ("Device the artifacts run on: cpu, cuda or cuda:N (the N-th GPU); a GPU the "
               "runtime or host lacks fails clearly.")


class DeviceType(click.ParamType):
    """--device: cpu, cuda or cuda:N (devices.parse_device); anything else is a usage error (2)."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_device(value)
        except UsageError:
            self.fail(f"{value!r} is not {DEVICES}", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[cpu|cuda|cuda:N]"


def device_option(f: Any) -> Any:
    """The --device option of every command that runs artifacts (same type, default and help)."""
    return click.option("--device", type=DeviceType(), default="cpu", show_default=True,
                        help=DEVICE_HELP)(f)


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The one-line "install phoneprice_edge[EXTRA]" message for a missing optional package."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return (f"this command needs {top}, which is not installed here: "
            f"pip install 'phoneprice_edge[{extra}]'")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit with code."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def warn_if_in_progress(run_dir: str | Path) -> None:
    """A warning on stderr when run_dir's training has not finished (its .in_progress marker):
    still running (the marker's process is alive) or interrupted and never resumed."""
    marker = Path(run_dir) / ".in_progress"  # training.run.MARKER, without importing torch
    if not marker.is_file():
        return
    try:
        pid = int(json.loads(marker.read_text(encoding="utf-8")).get("pid", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        pid = 0
    if pid > 0 and _pid_alive(pid):
        click.echo(f"warning: {run_dir}: the training run is still in progress (process {pid}); "
                   "its best model may still change", err=True)
    else:
        click.echo(f"warning: {run_dir}: the training run was interrupted and is not finished; "
                   f"continue it with: pe-train --resume {run_dir}", err=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


_TERM_SEEN = threading.Event()  # set by the SIGTERM handler: a later error is that signal's doing


@contextlib.contextmanager
def resume_hint(run_dir: object) -> Iterator[None]:
    """Print the resume hint when the block is interrupted. SIGTERM can land inside an extension
    module's import (scipy's reports a plain ImportError then): after a SIGTERM any error is the
    interrupt."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(f"interrupted; continue with: pe-train --resume {run_dir}", err=True)
        raise
    except Exception as exc:
        if not _TERM_SEEN.is_set():
            raise
        click.echo(f"interrupted; continue with: pe-train --resume {run_dir}", err=True)
        raise Terminated() from exc


# under torchrun the launcher owns SIGTERM (it stops its workers); leave the default there
_LAUNCHER_VARS = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (a KeyboardInterrupt) in this process, so a
    `kill` is handled as Ctrl-C is; a forked child gets the default action back."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
            or any(v in os.environ for v in _LAUNCHER_VARS)):
        yield
        return
    owner = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a forked worker: die as it would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        _TERM_SEEN.set()
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt_code(exc: BaseException | None) -> int:
    return 143 if isinstance(exc, Terminated) else 130


def entry(cmd: click.Command) -> Callable[[], None]:
    """Wrap a click command as a console-script entry point with the toolkit's exit codes.

    0 success; 1 failed check or runtime error; 2 usage error; 130 interrupted (Ctrl-C), 143
    terminated (SIGTERM, handled as Ctrl-C is). A PEError is a one-line message, never a traceback.
    """

    def main(args: list[str] | None = None, prog_name: str | None = None) -> None:
        try:
            with sigterm_as_interrupt():
                rv = cmd.main(args=args, prog_name=prog_name, standalone_mode=False)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            # click turns Ctrl-C into Abort; keep the shell's convention for an interrupt.
            if isinstance(exc.__cause__, KeyboardInterrupt):
                fail("interrupted", _interrupt_code(exc.__cause__))
            fail("aborted", 1)
        except PEError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            fail("interrupted", _interrupt_code(exc))
        except ModuleNotFoundError as exc:
            message = missing_extra(exc)
            if message is None:
                raise
            fail(message, 1)
        sys.exit(rv if isinstance(rv, int) else 0)

    return main
