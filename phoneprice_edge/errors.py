"""The one exception tree of the toolkit; only the CLI turns these into messages and exit codes."""

from __future__ import annotations


def one_line(exc: BaseException | str) -> str:
    """The first non-empty line of str(exc) for a one-line message; the type name when it is empty."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PEError(Exception):
    """Base class: a problem the user can act on. The CLI prints str(exc) and exits with exit_code."""

    exit_code = 1


class UsageError(PEError):
    """Bad options, an unknown config key, an unsupported target/precision combination."""

    exit_code = 2


class ConfigError(UsageError):
    """A TOML config or export profile that is malformed, has unknown keys or invalid values."""


class DataError(PEError):
    """A table that cannot be read or does not satisfy the schema (message names file/row/column)."""


class SchemaError(DataError):
    """A schema file that is malformed or does not fit the table."""


class CheckpointError(PEError):
    """A checkpoint that is missing, truncated, tampered or of an unknown layout."""


class ArtifactError(PEError):
    """An exported artifact that is missing, truncated, tampered or built for another host."""


class BackendUnavailable(PEError):
    """A runtime (package, GPU, execution provider) that is not present on this host."""


class BackendClosed(PEError):
    """A Backend used after close(): load the artifact again."""


class ExportError(PEError):
    """An export step that failed (converter error, checker failure, unsupported op)."""


class ParityFailure(PEError):
    """A parity check that did not pass its tolerance."""


class InputError(PEError):
    """An inference input with the wrong shape, dtype or non-finite values."""


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an interrupt, so it unwinds like Ctrl-C (files closed, resume hint);
    the CLI exits 143 (128 + SIGTERM) instead of 130."""
