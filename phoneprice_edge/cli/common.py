"""Shared CLI plumbing: the one place where exceptions become messages and exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from phoneprice_edge.errors import PEError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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


def entry(cmd: click.Command) -> Callable[[], None]:
    """Wrap a click command as a console-script entry point with the toolkit's exit codes.

    0 success; 1 failed check or runtime error; 2 usage error; 130 interrupted. A PEError is a
    one-line message, never a traceback.
    """

    def main(args: list[str] | None = None, prog_name: str | None = None) -> None:
        try:
            rv = cmd.main(args=args, prog_name=prog_name, standalone_mode=False)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            # click turns Ctrl-C into Abort; keep the shell's convention for an interrupt.
            if isinstance(exc.__cause__, KeyboardInterrupt):
                fail("interrupted", 130)
            fail("aborted", 1)
        except PEError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)

    return main
