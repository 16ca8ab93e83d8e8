"""The typed, frozen manifest of an artifact folder and the digest over its canonical JSON."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from phoneprice_edge.errors import ArtifactError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT_PREFIX = "phoneprice_edge.manifest/"
FORMAT_VERSION = 2
MANIFEST_FORMAT = f"{FORMAT_PREFIX}{FORMAT_VERSION}"
DIGEST_KEY = "digest"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None for a dynamic axis) and numpy dtype name of one model input or output."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class GoldenInfo:
    """Where an artifact's golden rows came from: the file, 'validation' or 'schema', the count."""

    file: str
    source: str
    rows: int
    seed: int | None = None


@dataclass(frozen=True)
class Manifest:
    """manifest.json, parsed and checked; `data` holds every field (target facts included)."""

    format_version: int
    fmt: str
    target: str
    precision: str
    files: Mapping[str, str]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    features: tuple[str, ...]
    classes: tuple[str, ...]
    opset: int | None
    source_checkpoint_sha256: str
    versions: Mapping[str, str]
    profile_name: str
    golden: GoldenInfo | None
    deferred_build: bool
    digest: str
    data: Mapping[str, Any]

    def fact(self, key: str) -> Any:
        """A plain (mutable) copy of one field: a target's facts (openvino, tensorrt, fp16,
        quantization, int8_share), parity, profile, host, schema; None when absent."""
        return thaw(self.data.get(key))

    @property
    def schema(self) -> dict[str, Any]:
        return self.fact("schema") or {}

    @property
    def profile(self) -> dict[str, Any]:
        return self.fact("profile") or {}

    @property
    def max_batch(self) -> int:
        return int((self.profile.get("batch") or {}).get("max", 1 << 20))

    @property
    def benchmark_batch_sizes(self) -> tuple[int, ...]:
        return tuple(int(b) for b in self.profile.get("benchmark_batch_sizes") or ())

    @property
    def model_version(self) -> str:
        """The manifest's model_version, else the toolkit version that exported it."""
        return str(self.data.get("model_version") or self.versions.get("phoneprice_edge",
                                                                        "unknown"))

    def model_file(self, suffix: str) -> str | None:
        """The first listed file whose name ends with suffix (the target's model file)."""
        return next((n for n in self.files if n.endswith(suffix)), None)

    def to_dict(self) -> dict[str, Any]:
        return thaw(self.data)


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """The manifest's canonical JSON (sorted keys, no spaces, UTF-8), digest field left out."""
    plain = {k: v for k, v in thaw(body).items() if k != DIGEST_KEY}
    try:
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except ValueError as exc:
        raise ArtifactError(f"manifest holds a value JSON cannot carry ({exc})") from None
    return text.encode("utf-8")


def manifest_digest(body: Mapping[str, Any]) -> str:
    """'sha256:<hex>' over canonical_bytes(body): covers files, schema, classes, everything."""
    return "sha256:" + hashlib.sha256(canonical_bytes(body)).hexdigest()


def with_digest(body: Mapping[str, Any]) -> dict[str, Any]:
    """body (format stamped) with its digest field set."""
    out = {k: v for k, v in json.loads(json.dumps(thaw(body), default=_plain)).items()
           if k != DIGEST_KEY}
    out["manifest_format"] = MANIFEST_FORMAT
    out[DIGEST_KEY] = manifest_digest(out)
    return out


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def format_version(raw: Any, where: str) -> int:
    """The manifest format's version number; ArtifactError for a format this build cannot read."""
    stamp = raw.get("manifest_format") if isinstance(raw, dict) else None
    if not isinstance(stamp, str) or not stamp.startswith(FORMAT_PREFIX):
        raise ArtifactError(f"{where}: not a phoneprice_edge manifest")
    try:
        version = int(stamp[len(FORMAT_PREFIX):])
    except ValueError:
        raise ArtifactError(f"{where}: unreadable manifest format {stamp!r}") from None
    if version > FORMAT_VERSION:
        raise ArtifactError(f"{where}: manifest format {version} is newer than this phoneprice_edge "
                            f"reads ({FORMAT_VERSION}); upgrade phoneprice_edge on this host")
    if version < FORMAT_VERSION:
        raise ArtifactError(f"{where}: manifest format {version} carries no digest over its schema "
                            f"and file list, so it cannot be trusted; re-export it with "
                            f"`pe export --run RUN_DIR --profile NAME`")
    return version


def parse(raw: Any, where: str = MANIFEST) -> Manifest:
    """Check the format, the digest and every field's type; the typed manifest or ArtifactError."""
    version = format_version(raw, where)
    want = raw.get(DIGEST_KEY)
    if not isinstance(want, str) or want != manifest_digest(raw):
        raise ArtifactError(f"{where}: manifest digest mismatch: manifest.json was edited after "
                            f"export (classes, feature order, ranges, file list ...); re-export it")
    try:
        return _typed(raw, version, want)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactError(f"{where}: malformed manifest ({type(exc).__name__}: {exc})") from None


def _typed(raw: dict[str, Any], version: int, digest: str) -> Manifest:
    files = raw["files"]
    if not isinstance(files, dict) or not files:
        raise ValueError("files must be a non-empty name -> sha256 object")
    for name, sha in files.items():
        if not isinstance(sha, str) or not _HEX64.match(sha):
            raise ValueError(f"files[{name!r}] is not a sha256 hex digest")
    schema = raw["schema"]
    features = tuple(str(f["name"]) for f in schema["features"])
    classes = tuple(str(c) for c in schema["classes"])
    if tuple(raw["features"]) != features or tuple(raw["classes"]) != classes:
        raise ValueError("features/classes differ from the schema's")
    return Manifest(
        format_version=version, fmt=str(raw["format"]), target=str(raw["target"]),
        precision=str(raw["precision"]), files=MappingProxyType(dict(files)),
        inputs=tuple(_spec(d) for d in raw["inputs"]),
        outputs=tuple(_spec(d) for d in raw["outputs"]), features=features, classes=classes,
        opset=None if raw.get("opset") is None else int(raw["opset"]),
        source_checkpoint_sha256=str(raw.get("source_checkpoint_sha256", "")),
        versions=MappingProxyType({str(k): str(v) for k, v in (raw.get("versions") or {}).items()}),
        profile_name=str(raw.get("profile_name") or ""), golden=_golden(raw.get("golden")),
        deferred_build=bool(raw.get("deferred_build")), digest=digest, data=freeze(raw))


def _spec(d: dict[str, Any]) -> TensorSpec:
    shape = tuple(None if s is None else int(s) for s in d["shape"])
    if len(shape) != 2:
        raise ValueError(f"tensor {d.get('name')!r}: shape must be [N, K], got {list(shape)}")
    return TensorSpec(str(d["name"]), shape, str(d.get("dtype", "float32")))


def _golden(d: Any) -> GoldenInfo | None:
    if d is None:
        return None
    seed = d.get("seed")
    return GoldenInfo(file=str(d["file"]), source=str(d["source"]), rows=int(d["rows"]),
                      seed=None if seed is None else int(seed))


def read_raw(path: Path) -> dict[str, Any]:
    """manifest.json as a plain dict (no checks beyond valid JSON)."""
    if not path.is_file():
        raise ArtifactError(f"{path.parent}: no {MANIFEST} (not an export folder?)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: manifest is not valid JSON ({exc})") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read the manifest ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise ArtifactError(f"{path}: not a phoneprice_edge manifest")
    return raw


def freeze(value: Any) -> Any:
    """A read-only deep copy: dicts become mappingproxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON form of a frozen value (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
