"""`pe verify` (runtime side): run an artifact on this host's runtime over its golden rows and
check the logits with the tolerance it carries; no run folder, no torch, no build code."""

from __future__ import annotations

import math
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phoneprice_edge import golden
from phoneprice_edge.artifact import Manifest, load_artifact, safe_name
from phoneprice_edge.backends.base import Backend
from phoneprice_edge.errors import PEError


@dataclass(frozen=True)
class VerifyResult:
    """One artifact's verdict (a row of the --json report)."""

    artifact: str
    path: str
    passed: bool
    message: str
    target: str = ""
    precision: str = ""
    backend: str = ""
    rows: int = 0
    source: str = ""
    max_abs_diff: float | None = None
    rows_out_of_tolerance: int | None = None
    top1_agreement: float | None = None
    min_top1: float | None = None
    signed: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["max_abs_diff"] is not None and not math.isfinite(d["max_abs_diff"]):
            d["max_abs_diff"] = None  # JSON has no infinity
        return d

    def line(self) -> str:
        """name  target/precision  rows  max diff  agreement  PASS|FAIL (reason)."""
        head = f"{self.artifact}  {self.target or '?'}/{self.precision or '?'}"
        if self.max_abs_diff is None or self.top1_agreement is None:
            return f"{head}  FAIL: {self.message}"
        verdict = "PASS" if self.passed else f"FAIL: {self.message}"
        return (f"{head}  {self.rows} rows ({self.source})  max |diff| {self.max_abs_diff:.3g}  "
                f"top-1 {self.top1_agreement:.4f}  {verdict}")


def run_golden(backend: Backend, g: golden.Golden, max_batch: int = 1 << 20) -> np.ndarray:
    """The backend's logits for the golden inputs, in chunks of at most max_batch rows."""
    x = g.inputs
    step = max(1, min(max_batch, len(x)))
    return np.concatenate([backend.run(np.ascontiguousarray(x[i:i + step]))
                           for i in range(0, len(x), step)])


def read_golden(folder: Path, m: Manifest) -> golden.Golden:
    """The artifact's golden rows (PEError when it has none)."""
    if m.golden is None:
        raise PEError(f"{folder}: no golden rows (exported with --golden-rows 0?); re-export "
                      f"with golden rows to verify it on a device")
    g = golden.read(safe_name(m.golden.file, folder))
    if g.inputs.shape[1] != len(m.features) or g.logits.shape[1] != len(m.classes):
        raise PEError(f"{folder}: golden rows are {g.inputs.shape[1]} features x "
                      f"{g.logits.shape[1]} classes, the manifest says {len(m.features)} x "
                      f"{len(m.classes)}")
    return g


def check_backend(backend: Backend, g: golden.Golden, max_batch: int = 1 << 20) -> golden.GoldenResult:
    """golden.check of the backend's answers for the golden inputs."""
    return golden.check(g, run_golden(backend, g, max_batch))


def verify_one(folder: str | Path, device: str = "cpu",
               verify_key: str | Path | None = None) -> VerifyResult:
    """Verify one artifact folder; every problem (tampering, missing runtime) is a FAIL result."""
    from phoneprice_edge.artifact.signing import configured_key
    from phoneprice_edge.backends.registry import open_backend

    folder = Path(folder)
    base = {"artifact": folder.name, "path": str(folder)}
    m: Manifest | None = None
    try:
        m = load_artifact(folder, verify_key=verify_key)
        base.update(target=m.target, precision=m.precision)
        g = read_golden(folder, m)
        with open_backend(folder, m, device=device) as backend:
            r = check_backend(backend, g, m.max_batch)
            name = backend.name
    except PEError as exc:
        if m is None:
            base.update(_claimed(folder))
        return VerifyResult(**base, passed=False, message=str(exc))  # type: ignore[arg-type]
    return VerifyResult(**base, passed=r.passed, message=r.message, backend=name,  # type: ignore[arg-type]
                        rows=r.rows, source=m.golden.source if m.golden else "",
                        max_abs_diff=r.max_abs_diff, rows_out_of_tolerance=r.rows_out_of_tolerance,
                        top1_agreement=r.top1_agreement, min_top1=g.tolerance.min_top1,
                        signed=configured_key(verify_key) is not None)


def _claimed(folder: Path) -> dict[str, str]:
    """What an unreadable or tampered manifest says it is (for the report line only)."""
    from phoneprice_edge.artifact.manifest import MANIFEST, read_raw

    try:
        raw = read_raw(folder / MANIFEST)
    except PEError:
        return {}
    return {k: str(raw[k]) for k in ("target", "precision") if isinstance(raw.get(k), str)}


def host_facts() -> dict[str, Any]:
    """Where the check ran: machine, OS, Python and the runtime libraries installed here."""
    from phoneprice_edge.host import library_versions

    libs = library_versions(("numpy", "onnxruntime", "openvino", "torch", "tensorrt"))
    return {"machine": platform.machine(), "os": platform.platform(),
            "python": platform.python_version(), "versions": libs}


def report(results: list[VerifyResult]) -> dict[str, Any]:
    """The --json report: host, passed, one entry per artifact."""
    return {"format": "phoneprice_edge.verify/1", "host": host_facts(),
            "passed": all(r.passed for r in results), "results": [r.to_dict() for r in results]}
