"""Opening an artifact folder: manifest digest, file inventory and hashes, signature, versions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from phoneprice_edge.artifact.manifest import MANIFEST, SIGNATURE, Manifest, parse, read_raw
from phoneprice_edge.errors import ArtifactError
from phoneprice_edge.io_utils import sha256_file

RESERVED = frozenset({MANIFEST, SIGNATURE})


def read_manifest(folder: str | Path) -> Manifest:
    """The typed manifest with its format and digest checked, files not hashed (cheap)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: not an export folder (expected a directory with "
                            f"{MANIFEST})")
    path = folder / MANIFEST
    return parse(read_raw(path), str(path))


def load_artifact(folder: str | Path, verify_key: str | Path | None = None,
                  allow_unlisted: Iterable[str] = (), ignore_env_key: bool = False) -> Manifest:
    """Everything a loader checks before it trusts a folder: the manifest (format, digest,
    fields), every listed name relative and inside, no unlisted file, each sha256, and the
    signature when a verify key is given or $PE_VERIFY_KEY is set (unless ignore_env_key: the
    export's own reload check of a folder not signed yet)."""
    from phoneprice_edge.artifact.signing import check_signature, configured_key

    folder = Path(folder)
    m = read_manifest(folder)
    check_inventory(folder, m.files, allow_unlisted)
    check_hashes(folder, m.files)
    key = Path(verify_key) if ignore_env_key and verify_key else \
        None if ignore_env_key else configured_key(verify_key)
    if key is not None:
        check_signature(folder, m, key)
    return m


def safe_name(name: str, folder: Path) -> Path:
    """folder/name for a listed file; ArtifactError for an absolute, '..', hidden-root or
    reserved name (a manifest may never point outside its folder)."""
    pure = PurePosixPath(name)
    if (not name or "\\" in name or pure.is_absolute() or name.startswith("~")
            or any(part in ("", ".", "..") for part in name.split("/"))):
        raise ArtifactError(f"{folder}: manifest lists {name!r}: file names must be relative "
                            f"paths inside the artifact folder")
    if name in RESERVED:
        raise ArtifactError(f"{folder}: manifest lists its own {name} as an artifact file")
    return folder.joinpath(*pure.parts)


def check_inventory(folder: Path, files: Iterable[str], allow_unlisted: Iterable[str] = ()) -> None:
    """Every listed name safe; every file in the folder listed (symlinks refused)."""
    listed = {safe_name(n, folder).relative_to(folder).as_posix() for n in files}
    allowed = listed | RESERVED | set(allow_unlisted)
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            raise ArtifactError(f"{p}: symbolic link in an artifact folder (refused)")
        if p.is_dir():
            continue
        if rel not in allowed:
            raise ArtifactError(f"{p}: file not listed in {MANIFEST} (an artifact folder holds "
                                f"only what its manifest lists; remove it or re-export)")


def check_hashes(folder: Path, files: dict[str, str] | object) -> None:
    """sha256 of every listed file; ArtifactError naming a missing, truncated or edited one."""
    for name, want in dict(files).items():  # type: ignore[call-overload]
        p = safe_name(name, folder)
        if not p.is_file():
            raise ArtifactError(f"{p}: artifact file missing")
        got = sha256_file(p)
        if got != want:
            raise ArtifactError(f"{p}: sha256 mismatch (file is truncated or was modified after "
                                f"export: expected {want[:12]}..., got {got[:12]}...); re-export it")


def version_note(m: Manifest, library: str) -> str:
    """'built with LIB X, this host has Y' for load-failure messages ('' when unknown)."""
    from importlib import metadata

    built = m.versions.get(library)
    try:
        here = metadata.version(library)
    except metadata.PackageNotFoundError:
        here = "none"
    if built is None or built == here:
        return ""
    return f" (built with {library} {built}, this host has {here})"


def artifact_path(folder: str | Path, m: Manifest, suffix: str) -> Path:
    """The listed model file with this suffix; ArtifactError when the manifest lists none."""
    folder = Path(folder)
    name = m.model_file(suffix)
    if name is None:
        raise ArtifactError(f"{folder}: manifest lists no {suffix} file")
    return safe_name(name, folder)
