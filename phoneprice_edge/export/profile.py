"""Export profiles: one TOML per deployment target, parsed and validated into frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from phoneprice_edge.artifact.folder import check_profile_name
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.io_utils import read_toml
from phoneprice_edge.targets import PRECISIONS, TARGETS, Option, Target

DEFAULT_OPSET = 20
# The built-in profiles have one tracked copy, the checkout's export_profiles/; a wheel carries
# them as phoneprice_edge/export/profiles/ (copied by setup.py's build step, never tracked).
PACKAGE_PROFILES = Path(__file__).resolve().parent / "profiles"
REPO_PROFILES = Path(__file__).resolve().parents[2] / "export_profiles"


@dataclass(frozen=True)
class Tolerance:
    """Parity limits. rel error = |cand - ref| / max(|ref|, 1); accuracy drop is in points (%)."""

    max_abs: float | None = None
    max_rel: float | None = None
    min_top1_agreement: float = 1.0
    max_accuracy_drop: float | None = None  # percentage points
    batch_max_abs: float | None = None  # None: batch invariance judged by top-1 agreement

    @classmethod
    def default_for(cls, precision: str) -> Tolerance:
        if precision == "fp32":
            return cls(max_abs=1e-4, max_rel=1e-3, min_top1_agreement=1.0, batch_max_abs=1e-4)
        if precision == "fp16":
            return cls(max_abs=2e-2, min_top1_agreement=0.99, max_accuracy_drop=1.0,
                       batch_max_abs=2e-2)
        # int8: >= 99.5% of all rows (10 of 2000) agree with fp32, <= 0.5 point accuracy drop
        return cls(min_top1_agreement=0.995, max_accuracy_drop=0.5)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    """int8 calibration: how many training rows (never validation rows) and which range method."""

    samples: int = 512
    method: str = "minmax"
    seed: int = 0


@dataclass(frozen=True)
class BatchRange:
    """The dynamic batch range an artifact is built for (TensorRT optimisation profile)."""

    min: int = 1
    opt: int = 64
    max: int = 4096


@dataclass(frozen=True)
class ExportProfile:
    """One deployment target's export settings, validated against the target's capabilities."""

    name: str
    target: str
    precision: str
    description: str = ""
    opset: int = DEFAULT_OPSET
    batch: BatchRange = field(default_factory=BatchRange)
    calibration: Calibration | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    benchmark_batch_sizes: tuple[int, ...] = (1, 64, 1024)
    options: dict[str, Any] = field(default_factory=dict)  # the keys the profile set, validated
    source: str = ""

    @property
    def spec(self) -> Target:
        return TARGETS[self.target]

    def option(self, key: str) -> Any:
        """The profile's value of the target option `key`, else its default from the target's
        option table (targets.py; fixed options always give the table's value)."""
        spec = self.spec.option_spec(key)
        value = spec.default if spec.fixed else self.options.get(key, spec.default)
        return list(value) if isinstance(value, list) else value

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["benchmark_batch_sizes"] = list(self.benchmark_batch_sizes)
        return d


_TOP = {"name", "description", "target", "precision", "opset", "batch", "calibration",
        "tolerance", "benchmark"}
_SECTIONS = {
    "batch": {"min": int, "opt": int, "max": int},
    "calibration": {"samples": int, "method": str, "seed": int},
    "tolerance": {"max_abs": float, "max_rel": float, "min_top1_agreement": float,
                  "max_accuracy_drop": float, "batch_max_abs": float},
    "benchmark": {"batch_sizes": list},
}


def parse_profile(data: dict[str, Any], name: str, source: str = "<profile>") -> ExportProfile:
    """Validate a TOML table into an ExportProfile; every problem is a ConfigError naming the key."""
    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{source}: {msg}")

    target = data.get("target")
    if target not in TARGETS:
        raise bad(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    spec = TARGETS[target]
    allowed_top = _TOP | set(spec.options)
    unknown = sorted(set(data) - allowed_top)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)} for target {target} "
                  f"(allowed: {', '.join(sorted(allowed_top))})")
    precision = data.get("precision")
    if precision not in PRECISIONS or precision not in spec.precisions:
        raise bad(f"precision {precision!r} is not supported by target {target} "
                  f"(supported: {', '.join(spec.precisions)})")
    sections = {k: _check_section(data.get(k, {}), k, _SECTIONS[k], bad) for k in _SECTIONS}
    batch = BatchRange(**sections["batch"])
    if not 1 <= batch.min <= batch.opt <= batch.max:
        raise bad(f"batch needs 1 <= min <= opt <= max, got {batch}")
    calib = _calibration(data, sections["calibration"], spec, precision, bad)
    tol = Tolerance(**{**asdict(Tolerance.default_for(precision)), **sections["tolerance"]})
    if not 0.0 <= tol.min_top1_agreement <= 1.0:
        raise bad("tolerance.min_top1_agreement must be within [0, 1]")
    bsz = tuple(sections["benchmark"].get("batch_sizes", (1, 64, 1024)))
    if not bsz or any(not isinstance(b, int) or b < 1 for b in bsz):
        raise bad(f"benchmark.batch_sizes must be positive integers, got {list(bsz)}")
    options: dict[str, Any] = {}
    for sec, table in spec.settable().items():
        options.update(_check_options(data.get(sec, {}), sec, table, bad))
    opset = data.get("opset", DEFAULT_OPSET)
    if not isinstance(opset, int) or isinstance(opset, bool) or not 13 <= opset <= 23:
        raise bad(f"opset must be an integer in 13..23, got {opset!r}")
    desc = data.get("description", "")
    name = check_profile_name(data.get("name", name), source)
    return ExportProfile(name=name, target=target, precision=precision,
                         description=str(desc), opset=opset, batch=batch, calibration=calib,
                         tolerance=tol, benchmark_batch_sizes=bsz, options=options, source=source)


def _known_keys_only(table: Any, section: str, allowed: dict[str, Any], bad: Any) -> None:
    """Refuse a section that is not a table or sets a key outside `allowed`."""
    if not isinstance(table, dict):
        raise bad(f"[{section}] must be a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        hint = ", ".join(sorted(allowed)) or "none"
        raise bad(f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)} (allowed: {hint})")


def _check_section(table: Any, section: str, allowed: dict[str, Any], bad: Any) -> dict[str, Any]:
    _known_keys_only(table, section, allowed, bad)
    out: dict[str, Any] = {}
    for key, value in table.items():
        want = allowed[key]
        if isinstance(want, tuple):
            if value not in want:
                raise bad(f"{section}.{key} must be one of {', '.join(map(str, want))}, got {value!r}")
        elif want is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad(f"{section}.{key} must be a number, got {value!r}")
            value = float(value)
        elif isinstance(value, bool) != (want is bool) or not isinstance(value, want):
            raise bad(f"{section}.{key} must be {want.__name__}, got {value!r}")
        out[key] = value
    return out


def _check_options(table: Any, section: str, allowed: dict[str, Option],
                   bad: Any) -> dict[str, Any]:
    """A target section against its option table (type, choices, range): the values it sets."""
    _known_keys_only(table, section, allowed, bad)
    out: dict[str, Any] = {}
    for key, value in table.items():
        try:
            out[key] = allowed[key].check(value)
        except ValueError as exc:
            raise bad(f"{section}.{key} = {value!r}: must be {exc}") from None
    return out


def _calibration(data: dict[str, Any], table: dict[str, Any], spec: Target, precision: str,
                 bad: Any) -> Calibration | None:
    if precision != "int8" or not spec.calibration_methods:
        if "calibration" in data:
            why = "is not int8" if precision != "int8" else "quantizes without calibration data"
            raise bad(f"[calibration] is not supported: {spec.name}-{precision} {why}")
        return None
    calib = Calibration(**table)
    if calib.method not in spec.calibration_methods:
        raise bad(f"calibration.method {calib.method!r} is not supported by {spec.name} "
                  f"(supported: {', '.join(spec.calibration_methods)})")
    if calib.samples < 16:
        raise bad(f"calibration.samples must be >= 16, got {calib.samples}")
    return calib


def load_profile_file(path: str | Path) -> ExportProfile:
    """Read and validate one profile TOML file."""
    path = Path(path)
    return parse_profile(read_toml(path, "profile file"), name=path.stem, source=str(path))


def profiles_dir() -> Path:
    """The checkout's export_profiles/ (source tree, editable install), else the wheel's copy;
    ConfigError when neither holds a profile (an install built without them)."""
    for d in (REPO_PROFILES, PACKAGE_PROFILES):
        if d.is_dir() and any(d.glob("*.toml")):
            return d
    raise ConfigError(f"no built-in export profiles found (looked in {REPO_PROFILES} and "
                      f"{PACKAGE_PROFILES}); reinstall phoneprice_edge or pass --profile FILE")


def builtin_profile_names() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.toml"))


def load_profile(name_or_path: str | Path) -> ExportProfile:
    """A built-in profile by name, or a TOML file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.is_file() or len(p.parts) > 1:
        return load_profile_file(p)
    candidate = profiles_dir() / f"{name_or_path}.toml"
    if not candidate.is_file():
        raise ConfigError(f"unknown export profile {name_or_path!r} (built-in: "
                          f"{', '.join(builtin_profile_names())}; or give a .toml path)")
    return load_profile_file(candidate)


def builtin_profiles() -> list[ExportProfile]:
    """Every built-in profile, validated."""
    return [load_profile_file(profiles_dir() / f"{n}.toml") for n in builtin_profile_names()]


def profile_for(target: str, precision: str | None = None) -> ExportProfile:
    """The built-in profile `<target>-<precision>` (default: fp32, else the first one shipped)."""
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    spec = TARGETS[target]
    if precision is None:
        have = [p for p in spec.precisions if f"{target}-{p}" in builtin_profile_names()]
        precision = "fp32" if "fp32" in have else (have or list(spec.precisions))[0]
    if precision not in spec.precisions:
        raise ConfigError(f"target {target} does not support precision {precision} "
                          f"(supported: {', '.join(spec.precisions)})")
    name = f"{target}-{precision}"
    if name not in builtin_profile_names():
        raise ConfigError(f"no built-in profile {name!r}; write one and pass --profile FILE")
    return load_profile(name)
