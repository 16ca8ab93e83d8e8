"""Atomic file writes (temp file + fsync + rename) and content hashing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside dest; rename it onto dest only if the block finishes."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write(dest: str | os.PathLike[str], writer: Callable[[IO[bytes]], Any]) -> Path:
    """Call writer(fh) on a binary temp file and atomically move it onto dest."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
        writer(fh)
    return Path(dest)


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically."""
    return atomic_write(dest, lambda fh: fh.write(data))


def atomic_write_text(dest: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(dest, text.encode("utf-8"))


def atomic_write_json(dest: str | os.PathLike[str], obj: Any) -> Path:
    """Write JSON (indented, keys in insertion order, trailing newline) atomically."""
    return atomic_write_text(dest, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_toml(path: str | os.PathLike[str], what: str = "file") -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a ConfigError naming the path."""
    import tomllib

    from phoneprice_edge.errors import ConfigError

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:  # a folder, no permission
        raise ConfigError(f"{path}: cannot read {what} ({exc})") from None
