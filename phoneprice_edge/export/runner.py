"""Run one export profile atomically: temp folder -> exporter -> manifest -> reload check -> rename."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge.checkpoint import LoadedModel, load_model
from phoneprice_edge.errors import (
    ArtifactError,
    BackendUnavailable,
    DataError,
    ExportError,
    PEError,
)
from phoneprice_edge.export.base import ExportInputs, ExportOutput
from phoneprice_edge.export.golden_rows import GoldenOptions, write_golden
from phoneprice_edge.export.manifest import write_manifest
from phoneprice_edge.export.profile import ExportProfile, check_profile_name
from phoneprice_edge.io_utils import sha256_file
from phoneprice_edge.targets import TARGETS


@dataclass(frozen=True)
class ExportResult:
    """Where one profile's artifact landed and what it holds."""

    profile: str
    target: str
    precision: str
    out_dir: Path
    files: tuple[str, ...]
    size_bytes: int
    deferred: bool = False


def run_paths(run_dir: Path) -> dict[str, Path]:
    """The run files the export stage reads; DataError naming the first one missing."""
    paths = {"checkpoint": run_dir / "checkpoints" / "best_model.pt",
             "train": run_dir / "data" / "train.npz", "val": run_dir / "data" / "val.npz"}
    for p in paths.values():
        if not p.is_file():
            raise DataError(f"{p}: missing (is {run_dir} a finished training run?)")
    return paths


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X float32 and y int64 of a run's data/*.npz file."""
    try:
        with np.load(path) as z:
            return np.ascontiguousarray(z["X"], dtype=np.float32), z["y"].astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable split file ({exc})") from None


def unavailable_reason(profile: ExportProfile, defer_build: bool = False) -> str | None:
    """Why this host cannot export the profile (None when it can): the target's own check, or a
    build_on_device TensorRT profile for another GPU than this one (--defer-build writes its
    build script for the device instead)."""
    reason = TARGETS[profile.target].unavailable_reason(profile.precision, defer_build)
    if reason or defer_build or profile.target != "tensorrt" or not profile.option("build_on_device"):
        return reason
    want = profile.option("compute_capability")
    if not want:
        return None
    import torch

    here = "{}.{}".format(*torch.cuda.get_device_capability())
    if here == want:
        return None
    return (f"built on {profile.option('device_name')} only (compute capability {want}); "
            f"this GPU is {torch.cuda.get_device_name()} ({here})")


def check_runnable(profile: ExportProfile, defer_build: bool = False) -> None:
    """BackendUnavailable (before any work) when this host cannot export the profile."""
    reason = unavailable_reason(profile, defer_build)
    if reason:
        hint = " (or pass --defer-build to write the ONNX and a build script)" \
            if TARGETS[profile.target].deferrable and not defer_build else ""
        raise BackendUnavailable(f"cannot export {profile.name}: {reason}{hint}")


def export_profile(run_dir: str | Path, profile: ExportProfile, defer_build: bool = False,
                   golden: GoldenOptions | None = None) -> ExportResult:
    """Export one profile into RUN_DIR/export/<profile>/, replacing it only on full success.
    golden: the golden rows written beside the model (default 256 validation rows)."""
    run_dir = Path(run_dir)
    check_profile_name(profile.name, profile.source or "<profile>")
    golden = golden or GoldenOptions()
    check_runnable(profile, defer_build)
    paths = run_paths(run_dir)
    loaded = load_model(paths["checkpoint"])
    reference = loaded.model  # the checkpoint as trained: golden logits come from it
    train_x, _ = load_split(paths["train"])
    val_x, _ = load_split(paths["val"])
    calib_x = _calibration(profile, train_x, val_x)
    prep = None
    if profile.precision == "int8":
        loaded, prep = int8_ready(loaded, profile, train_x, val_x)
    final = run_dir / "export" / profile.name
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile.name}.pid{os.getpid()}.", suffix=".tmp",
                                dir=final.parent))
    try:
        inputs = ExportInputs(run_dir=run_dir, checkpoint=paths["checkpoint"], loaded=loaded,
                              profile=profile, out_dir=tmp, calib_x=calib_x, train_x=train_x,
                              val_x=val_x, defer_build=defer_build)
        out = TARGETS[profile.target].load_exporter()(inputs)
        if not isinstance(out, ExportOutput):
            raise ExportError(f"{profile.target} exporter returned {type(out).__name__}, "
                              "not an ExportOutput")
        files = list(out.files)
        facts: dict[str, Any] = {"deferred_build": True} if out.deferred else {}
        if prep is not None:
            facts["int8_prep"] = prep
        facts.update(out.facts)
        record = write_golden(tmp, golden, reference, loaded.schema, profile, val_x)
        if record is not None:
            files.append(record["file"])
            facts["golden"] = record
        _write(inputs, out, files, facts)
        _record_int8_share(tmp)
        if not out.deferred:
            reload_check(tmp, val_x[:7], loaded.config.num_classes)
        _replace_dir(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    size = sum((final / f).stat().st_size for f in files)
    return ExportResult(profile.name, profile.target, profile.precision, final, tuple(files),
                        size, out.deferred)


def export_all(run_dir: str | Path, profiles: list[ExportProfile], defer_build: bool = False,
               iterate: Callable[[list[ExportProfile]], Iterable[ExportProfile]] = iter,
               golden: GoldenOptions | None = None) -> tuple[list[ExportResult], list[tuple[str, str]], list[tuple[str, str]]]:
    """Export every profile this host can run: (results, skipped (name, reason), failed (name,
    message)); a PEError fails that profile only. iterate wraps the runnable list (progress bar)."""
    runnable, skipped = [], []
    for p in profiles:
        reason = unavailable_reason(p, defer_build)
        (skipped.append((p.name, reason)) if reason else runnable.append(p))
    results, failed = [], []
    for p in iterate(runnable):
        try:
            results.append(export_profile(run_dir, p, defer_build=defer_build, golden=golden))
        except PEError as exc:
            failed.append((p.name, str(exc)))
    return results, skipped, failed


def int8_ready(loaded: LoadedModel, profile: ExportProfile, train_x: np.ndarray,
               val_x: np.ndarray) -> tuple[LoadedModel, dict[str, Any]]:
    """The checkpoint's model made int8-ready (export/int8_prep.py) on every training row
    outside the validation split, for the profile's int8 scheme (the target's activation
    quantization, activation_split, activation_levels)."""
    from phoneprice_edge.export.int8_prep import prepare_int8
    from phoneprice_edge.export.quantize import calibration_rows

    rows = calibration_rows(train_x, val_x, len(train_x), 0)
    scheme = TARGETS[profile.target].int8_activations
    bits = 8
    if scheme == "dynamic" and profile.option("activation_scheme") == "static":
        scheme, split = "cpp_static", False  # the C++ runtime's calibrated scheme (export/cpp_static.py)
        bits = profile.option("activation_bits")
    else:
        split = profile.option("activation_split")
    model, facts = prepare_int8(loaded.model, rows, scheme, split=split,
                                act_levels=profile.option("activation_levels"), act_bits=bits)
    return replace(loaded, model=model), facts


def _calibration(profile: ExportProfile, train_x: np.ndarray, val_x: np.ndarray) -> np.ndarray:
    from phoneprice_edge.export.quantize import calibration_rows

    calib = profile.calibration
    if calib is None:
        return calibration_rows(train_x, val_x, 64, 0)  # example rows for tracing only
    return calibration_rows(train_x, val_x, calib.samples, calib.seed)


def _write(inp: ExportInputs, out: ExportOutput, files: list[str],
           facts: dict[str, Any]) -> dict[str, Any]:
    """manifest.json from the exporter's output and the runner's own facts."""
    from phoneprice_edge.export.onnx import io_spec

    cfg = inp.loaded.config
    inputs, outputs = io_spec(cfg.in_features, cfg.num_classes)
    target = TARGETS[inp.profile.target]
    return write_manifest(inp.out_dir, target=target.name, precision=inp.profile.precision,
                          fmt=out.fmt or target.fmt, files=files, inputs=inputs,
                          outputs=outputs, schema=inp.loaded.schema.to_dict(),
                          source_checkpoint_sha256=sha256_file(inp.checkpoint), opset=out.opset,
                          profile=inp.profile.to_dict(),
                          host_extra=dict(out.host_extra) if out.host_extra else None,
                          extra={"profile_name": inp.profile.name, **facts})


def _record_int8_share(artifact_dir: Path) -> None:
    """Store the int8 share of the weight MACs, read back from the written artifact, in its
    manifest (int8 artifacts only)."""
    from phoneprice_edge.export.int8_share import int8_share_or_none
    from phoneprice_edge.export.manifest import update_manifest

    share = int8_share_or_none(artifact_dir)
    if share is not None:
        update_manifest(artifact_dir, int8_share=share)


def reload_check(artifact_dir: Path, rows: np.ndarray, n_classes: int) -> None:
    """Load the fresh artifact through its backend (manifest verified, signature key ignored),
    run batch 1 and 7, and check its golden rows: an export that fails its own golden rows on
    the build host is not written."""
    from phoneprice_edge.artifact import load_artifact
    from phoneprice_edge.backends.registry import open_backend
    from phoneprice_edge.verify import check_backend, read_golden

    m = load_artifact(artifact_dir, verify_key=None, ignore_env_key=True)
    with open_backend(artifact_dir, m) as backend:
        for x in (rows[:1], rows):
            y = backend.run(np.ascontiguousarray(x))
            if y.shape != (len(x), n_classes) or y.dtype != np.float32 or \
                    not np.isfinite(y).all():
                raise ExportError(f"{artifact_dir.name}: reload check failed: batch {len(x)} gave "
                                  f"{y.dtype} {list(y.shape)} (finite: {np.isfinite(y).all()})")
        if m.golden is not None:
            r = check_backend(backend, read_golden(artifact_dir, m), m.max_batch)
            if not r.passed:
                raise ExportError(f"{artifact_dir.name}: fails its own golden rows on the build "
                                  f"host: {r.message}")


_TEMP = re.compile(r"\.(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*?)(?:\.pid(?P<pid>\d+))?\.[^.]+\.tmp")


def remove_stale_temps(export_dir: Path) -> list[Path]:
    """Remove the hidden temp folders (.<profile>[.pid<N>].<random>.tmp) that a killed export left
    in export_dir, and .<profile>.old folders whose replacement never landed; a temp folder of a
    process still running is kept. Returns what was removed."""
    removed = []
    for p in export_dir.iterdir() if export_dir.is_dir() else ():
        m = _TEMP.fullmatch(p.name)
        stale_old = p.name.startswith(".") and p.name.endswith(".old")
        if not p.is_dir() or p.is_symlink() or not (m or stale_old):
            continue
        if m and m["pid"] and _alive(int(m["pid"])):
            continue
        if stale_old and _alive_temp_for(export_dir, p.name[1:-4]):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except (OverflowError, ValueError):
        return False  # not a valid pid
    return pid > 0


def _alive_temp_for(export_dir: Path, name: str) -> bool:
    """True when a running export of profile name has a temp folder (it may own .name.old)."""
    for p in export_dir.glob(f".{name}.pid*.tmp"):
        m = _TEMP.fullmatch(p.name)
        if m and m["name"] == name and m["pid"] and _alive(int(m["pid"])):
            return True
    return False


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move tmp onto final; an existing final is moved aside first and removed afterwards."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
    try:
        tmp.rename(final)
    except OSError as exc:
        if old is not None:
            old.rename(final)
        raise ArtifactError(f"{final}: could not move the export into place ({exc})") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
