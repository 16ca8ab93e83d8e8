"""golden.bin: an artifact's golden rows (raw inputs, reference logits, tolerance); numpy only.

The binary layout (little-endian, documented in cpp_runtime/FORMAT.md, read by the C++ tools):

    offset  size  field
    0       8     magic b"PEGOLDEN"
    8       4     u32 version (1)
    12      4     u32 rows
    16      4     u32 features
    20      4     u32 classes
    24      4     u32 flags (0; reserved)
    28      4     f32 abs_tol      every logit: |got - ref| <= abs_tol + rel_tol * |ref|
    32      4     f32 rel_tol      (abs_tol may be +inf: no elementwise bound, as for int8)
    36      4     f32 min_top1     fraction of rows whose argmax must equal the reference's
    40      4*R*F f32 inputs, row-major, raw features in schema order
    ..      4*R*C f32 reference logits (from the PyTorch checkpoint), row-major
    ..      4     u32 CRC-32 (IEEE, zlib's) of every byte before it
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phoneprice_edge.errors import ArtifactError
from phoneprice_edge.io_utils import atomic_write_bytes

GOLDEN_FILE = "golden.bin"
MAGIC = b"PEGOLDEN"
VERSION = 1
_HEADER = struct.Struct("<8s5I3f")  # 40 bytes
MAX_ROWS = 1 << 20


@dataclass(frozen=True)
class Tolerance:
    """What a golden check accepts: an elementwise bound and a top-1 agreement floor."""

    abs_tol: float
    rel_tol: float
    min_top1: float


@dataclass(frozen=True)
class Golden:
    """Golden rows of one artifact."""

    inputs: np.ndarray  # float32 [R, F]
    logits: np.ndarray  # float32 [R, C]
    tolerance: Tolerance


@dataclass(frozen=True)
class GoldenResult:
    """The outcome of checking an artifact's outputs against its golden rows."""

    passed: bool
    rows: int
    max_abs_diff: float
    rows_out_of_tolerance: int
    top1_agreement: float
    message: str


def encode(golden: Golden) -> bytes:
    """The golden.bin bytes for golden (validates shapes and finiteness first)."""
    x = np.ascontiguousarray(golden.inputs, dtype="<f4")
    y = np.ascontiguousarray(golden.logits, dtype="<f4")
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ArtifactError(f"golden rows: inputs {x.shape} and logits {y.shape} do not match")
    if x.shape[0] > MAX_ROWS:
        raise ArtifactError(f"golden rows: {x.shape[0]} rows is more than {MAX_ROWS}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ArtifactError("golden rows: inputs and logits must be finite")
    t = golden.tolerance
    head = _HEADER.pack(MAGIC, VERSION, x.shape[0], x.shape[1], y.shape[1], 0,
                        t.abs_tol, t.rel_tol, t.min_top1)
    body = head + x.tobytes() + y.tobytes()
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def decode(data: bytes, where: str = GOLDEN_FILE) -> Golden:
    """Parse golden.bin bytes; ArtifactError naming what is wrong (size, magic, CRC)."""
    if len(data) < _HEADER.size + 4:
        raise ArtifactError(f"{where}: truncated ({len(data)} bytes)")
    magic, version, rows, feats, classes, _flags, a, r, m = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ArtifactError(f"{where}: not a golden-rows file (bad magic)")
    if version != VERSION:
        raise ArtifactError(f"{where}: golden format version {version}, this build reads {VERSION}")
    if rows > MAX_ROWS or feats == 0 or classes == 0 or feats > 4096 or classes > 4096:
        raise ArtifactError(f"{where}: implausible shape rows={rows} features={feats} classes={classes}")
    want = _HEADER.size + 4 * rows * (feats + classes) + 4
    if len(data) != want:
        raise ArtifactError(f"{where}: {len(data)} bytes, its header says {want} (truncated?)")
    (crc,) = struct.unpack_from("<I", data, want - 4)
    if zlib.crc32(data[: want - 4]) & 0xFFFFFFFF != crc:
        raise ArtifactError(f"{where}: CRC mismatch (file damaged or modified)")
    off = _HEADER.size
    x = np.frombuffer(data, "<f4", rows * feats, off).reshape(rows, feats)
    y = np.frombuffer(data, "<f4", rows * classes, off + 4 * rows * feats).reshape(rows, classes)
    return Golden(x.astype(np.float32), y.astype(np.float32), Tolerance(a, r, m))


def write(path: str | Path, golden: Golden) -> Path:
    """Write golden.bin atomically."""
    return atomic_write_bytes(path, encode(golden))


def read(path: str | Path) -> Golden:
    """Read and check a golden.bin file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read golden rows ({exc.strerror})") from None
    return decode(data, str(path))


def check(golden: Golden, got: np.ndarray) -> GoldenResult:
    """Compare an artifact's logits for golden.inputs with the reference under its tolerance."""
    ref = golden.logits
    got = np.asarray(got, dtype=np.float32)
    rows = int(ref.shape[0])
    if got.shape != ref.shape:
        return GoldenResult(False, rows, float("inf"), rows, 0.0,
                            f"output shape {got.shape}, golden rows expect {ref.shape}")
    if rows == 0:
        return GoldenResult(True, 0, 0.0, 0, 1.0, "no golden rows")
    if not np.isfinite(got).all():
        return GoldenResult(False, rows, float("inf"), rows, 0.0, "non-finite logits")
    t = golden.tolerance
    diff = np.abs(got.astype(np.float64) - ref)
    bound = t.abs_tol + t.rel_tol * np.abs(ref.astype(np.float64))
    bad_rows = int(np.count_nonzero((diff > bound).any(axis=1)))
    agree = float(np.mean(got.argmax(axis=1) == ref.argmax(axis=1)))
    ok = bad_rows == 0 and agree >= t.min_top1
    msg = (f"{rows} rows, max |diff| {diff.max():.3g}, {bad_rows} out of tolerance, "
           f"top-1 agreement {agree:.4f} (needs {t.min_top1:.4f})")
    return GoldenResult(ok, rows, float(diff.max()), bad_rows, agree, msg)
