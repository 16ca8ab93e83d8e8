"""Shared CLI plumbing: the one place where exceptions become messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import click

from phoneprice_edge.errors import PEError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Top-level modules of the optional extras (pyproject.toml) -> the extra that installs them. The
# base install is the device runtime; a build-side command there names the extra to add.
EXTRA_OF = {**dict.fromkeys(("torch", "onnx", "onnxscript", "sklearn", "scipy", "matplotlib",
                             "tensorboard", "nncf"), "train"),
            **dict.fromkeys(("fastapi", "uvicorn", "orjson", "prometheus_client", "httpx",
                             "sqlalchemy", "starlette"), "serve"),
            "pyarrow": "parquet", "openvino": "openvino", "psycopg": "postgres", "cuda": "tensorrt"}


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
        except ModuleNotFoundError as exc:
            message = missing_extra(exc)
            if message is None:
                raise
            fail(message, 1)
        sys.exit(rv if isinstance(rv, int) else 0)

    return main
