"""Model registry: versioned run copies (champion, candidates, rejected), history, atomic pointer switch.

REGISTRY/
  current.json         {"version": "v0002", "path": "versions/v0002", "promoted_at": ...}  (os.replace)
  current -> versions/v0002   convenience symlink, switched with os.replace of a new link
  versions/vNNNN/      a run folder copy (schema, checkpoints, data, metrics, export, parity, bench)
                       + version.json {version, status, created_at, source_run, gates, reasons}
  history.jsonl        one event per line (register, promote, reject)

Each version folder is itself a run folder, so `pe-monitor drift --run REGISTRY/current` works.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import ArtifactError, UsageError
from phoneprice_edge.io_utils import atomic_write_json, atomic_write_text

POINTER = "current.json"
LINK = "current"
STATUSES = ("candidate", "champion", "retired", "rejected")
# what a version keeps of a run folder (tb/ logs and plots are left behind)
RUN_PARTS = ("config.toml", "schema.json", "metrics.json", "checkpoints/best_model.pt", "data",
             "export", "parity", "bench", "monitor/reference.json")
_VERSION = re.compile(r"^v\d{4,}$")


class Registry:
    """A registry folder; every mutation holds an exclusive file lock."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def info(self, version: str) -> dict[str, Any]:
        path = self.versions_dir / version / "version.json"
        if not _VERSION.match(version) or not path.is_file():
            raise UsageError(f"{self.root}: no version {version!r} (have: {', '.join(self.list()) or 'none'})")
        return json.loads(path.read_text(encoding="utf-8"))

    def list(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir()
                      if _VERSION.match(p.name) and (p / "version.json").is_file())

    def path(self, version: str) -> Path:
        self.info(version)
        return self.versions_dir / version

    def champion(self) -> str | None:
        return current_version(self.root)

    def candidates(self) -> list[str]:
        return [v for v in self.list() if self.info(v)["status"] == "candidate"]

    def history(self) -> list[dict[str, Any]]:
        path = self.root / "history.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def _event(self, **event: Any) -> None:
        path = self.root / "history.jsonl"
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        atomic_write_text(path, old + json.dumps({"ts": time.time(), **event}) + "\n")

    def _set(self, version: str, **fields: Any) -> dict[str, Any]:
        info = {**self.info(version), **fields}
        atomic_write_json(self.versions_dir / version / "version.json", info)
        return info

    def register(self, run_dir: str | Path, *, note: str = "", gates: dict[str, Any] | None = None) -> str:
        """Copy a run folder into a new candidate version (temp folder renamed into place)."""
        run_dir = Path(run_dir)
        if not (run_dir / "checkpoints" / "best_model.pt").is_file():
            raise UsageError(f"{run_dir}: not a trained run (no checkpoints/best_model.pt)")
        with self._lock():
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            existing = self.list()
            version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
            tmp = Path(tempfile.mkdtemp(prefix=".register-", dir=self.versions_dir))
            try:
                _copy_run(run_dir, tmp)
                atomic_write_json(tmp / "version.json", {
                    "version": version, "status": "candidate", "created_at": time.time(),
                    "source_run": str(run_dir.resolve()), "note": note, "gates": gates or {},
                    "reasons": []})
                os.rename(tmp, self.versions_dir / version)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._event(event="register", version=version, source_run=str(run_dir.resolve()), note=note)
        return version

    def promote(self, version: str, *, reason: str = "") -> str | None:
        """Make version the champion (atomic pointer switch); the old champion is retired. Returns it."""
        with self._lock():
            self.info(version)
            old = current_version(self.root)
            if old and old != version:
                self._set(old, status="retired", retired_at=time.time())
            self._set(version, status="champion", promoted_at=time.time())
            _switch(self.root, version)
            self._event(event="promote", version=version, previous=old, reason=reason)
        return old

    def check_promotable(self, version: str, *, force: bool = False) -> list[str]:
        """Before a manual promotion: every export folder of version verifies (each listed file's
        sha256, ArtifactError) and was exported from the version's own checkpoint; a version the
        gates rejected is refused (UsageError) unless force. Returns the verified profiles."""
        from phoneprice_edge.artifact import load_artifact
        from phoneprice_edge.io_utils import sha256_file

        info = self.info(version)
        if info.get("status") == "rejected" and not force:
            why = "; ".join(map(str, info.get("reasons") or [])) or "no reason recorded"
            raise UsageError(f"{version} was rejected by the gates ({why}); pass --force to "
                             "promote it anyway")
        root = self.versions_dir / version
        ckpt = root / "checkpoints" / "best_model.pt"
        if not ckpt.is_file():
            raise ArtifactError(f"{ckpt}: missing; {version} cannot be served")
        arts = sorted(p for p in (root / "export").glob("*/manifest.json"))
        if not arts:
            raise ArtifactError(f"{root}: no export to serve (no export/<profile>/manifest.json)")
        ckpt_sha = sha256_file(ckpt)
        for manifest in arts:
            m = load_artifact(manifest.parent)
            if m.source_checkpoint_sha256 != ckpt_sha:
                raise ArtifactError(f"{manifest.parent}: exported from another checkpoint than "
                                    f"{version}'s checkpoints/best_model.pt ({manifest.parent.name}); "
                                    "re-export it")
        return [p.parent.name for p in arts]

    def reject(self, version: str, reasons: list[str], gates: dict[str, Any] | None = None) -> None:
        """Mark a candidate rejected with the reasons; the champion stays."""
        with self._lock():
            fields: dict[str, Any] = {"status": "rejected", "reasons": reasons}
            if gates is not None:
                fields["gates"] = gates
            self._set(version, **fields)
            self._event(event="reject", version=version, reasons=reasons)

    def status(self) -> dict[str, Any]:
        infos = [self.info(v) for v in self.list()]
        return {"registry": str(self.root), "champion": self.champion(),
                "versions": [{k: info.get(k) for k in ("version", "status", "created_at", "note")}
                             for info in infos]}


def _copy_run(run_dir: Path, dest: Path) -> None:
    for part in RUN_PARTS:
        src = run_dir / part
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=False)
        elif src.is_file():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)


def _switch(root: Path, version: str) -> None:
    """Write the JSON pointer, then swap the convenience symlink; both by os.replace."""
    atomic_write_json(root / POINTER, {"version": version, "path": f"versions/{version}",
                                       "promoted_at": time.time()})
    tmp = root / f".{LINK}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(f"versions/{version}", tmp, target_is_directory=True)
        os.replace(tmp, root / LINK)
    except OSError:  # filesystems without symlinks: the JSON pointer is the source of truth
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def current_version(registry_dir: str | Path) -> str | None:
    """The champion's version from the pointer file, or None for an empty registry."""
    path = Path(registry_dir) / POINTER
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: registry pointer is not valid JSON ({exc})") from None
    v = d.get("version") if isinstance(d, dict) else None
    if not isinstance(v, str) or not _VERSION.match(v):
        raise ArtifactError(f"{path}: registry pointer names no version")
    return v


def current_artifact(registry_dir: str | Path, profile: str) -> Path:
    """The champion's export folder for `profile` (what a server loads).

    The path contains the version, so a server compares it with the one it serves and reloads
    when it differs. Cheap: one small JSON read.
    """
    from phoneprice_edge.artifact.folder import check_profile_name

    check_profile_name(profile, "--profile")
    v = current_version(registry_dir)
    if v is None:
        raise ArtifactError(f"{registry_dir}: registry has no champion yet")
    art = Path(registry_dir) / "versions" / v / "export" / profile
    if not (art / "manifest.json").is_file():
        raise ArtifactError(f"{art}: champion {v} has no export for profile {profile!r}")
    return art

