"""CPU numerics mode (PE_NUMERICS): pin the math libraries' kernel dispatch before torch loads, and record it."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

MODE_VAR = "PE_NUMERICS"
MODES: tuple[str, ...] = ("portable", "native")
DEFAULT_MODE = "portable"
# Read once by MKL, ATen and oneDNN when they first dispatch: only all three together gave the
# same weights natively (AVX-512/AMX) and under an emulated AVX2-only CPU (docs/reproducibility.md).
PORTABLE_ENV: dict[str, str] = {
    "MKL_CBWR": "COMPATIBLE",
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
}
ENV_VARS: tuple[str, ...] = tuple(PORTABLE_ENV)


class NumericsWarning(UserWarning):
    """Bit-reproducibility across CPUs is not guaranteed in this process (or a run resumed)."""


@dataclass(frozen=True)
class State:
    """What apply() found and did: the mode in force and the dispatch variables as torch sees them."""

    mode: str
    env: dict[str, str] = field(default_factory=dict)  # the ENV_VARS that are set, after apply
    before_torch: bool = True  # False: torch was imported before the settings were in place
    replaced: tuple[str, ...] = ()  # "VAR=old" values the portable mode overrode
    messages: tuple[str, ...] = ()  # warnings to give (apply gives each once)


_state: State | None = None
_warned: set[str] = set()


def requested_mode(environ: Mapping[str, str]) -> tuple[str, str | None]:
    """(mode, problem): PE_NUMERICS lower-cased, the default when unset; an unknown value is the default."""
    raw = environ.get(MODE_VAR, "").strip().lower()
    if not raw:
        return DEFAULT_MODE, None
    if raw in MODES:
        return raw, None
    return DEFAULT_MODE, (f"{MODE_VAR}={environ[MODE_VAR]!r} is not one of {', '.join(MODES)}; "
                          f"using {DEFAULT_MODE}")


def settle(environ: MutableMapping[str, str], torch_loaded: bool) -> State:
    """Apply the requested mode to environ (portable: set the three variables; native: leave it)."""
    mode, problem = requested_mode(environ)
    messages = [problem] if problem else []
    replaced: list[str] = []
    changed = False
    if mode == "portable":
        for key, value in PORTABLE_ENV.items():
            old = environ.get(key)
            if old != value:
                changed = True
                if old is not None:
                    replaced.append(f"{key}={old}")
                environ[key] = value
    if replaced:
        messages.append(f"{MODE_VAR}=portable replaced {', '.join(replaced)} with "
                        f"{_pairs(PORTABLE_ENV)}; set {MODE_VAR}=native to keep your own values")
    late = torch_loaded and changed
    if late:
        messages.append(
            "torch was imported before phoneprice_edge, so its CPU kernels may already be chosen: "
            "training in this process is not guaranteed bit-reproducible across CPUs. Import "
            f"phoneprice_edge first, or set {_pairs(PORTABLE_ENV)} before starting Python "
            f"(or {MODE_VAR}=native to accept it)")
    env = {k: environ[k] for k in ENV_VARS if k in environ}
    return State(mode, env, not late, tuple(replaced), tuple(messages))


def apply() -> State:
    """Settle the mode in os.environ once per process (child processes inherit it); warn once."""
    global _state
    if _state is None:
        _state = settle(os.environ, "torch" in sys.modules)
    for message in _state.messages:
        _warn(message)
    return _state


def state() -> State:
    """The mode in force in this process (applied on first use)."""
    return _state if _state is not None else apply()


def record() -> dict[str, Any]:
    """The run's [numerics] record: mode, the dispatch variables, what torch dispatches to and could."""
    st = state()
    out: dict[str, Any] = {"mode": st.mode, "applied_before_torch": st.before_torch, **st.env}
    import torch

    out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    out["cpu_supports"] = _best_capability(torch)
    return out


def _best_capability(torch: Any) -> str:
    """The capability ATen would pick here unpinned (torch.cpu's probes; "unknown" without them)."""
    cpu = getattr(torch, "cpu", None)
    try:
        if cpu._is_avx512_supported():
            return "AVX512"
        return "AVX2" if cpu._is_avx2_supported() else "DEFAULT"
    except AttributeError:
        return "unknown"


def check_recorded(recorded: Mapping[str, Any] | None, source: str) -> str | None:
    """Warn (and return the message) when a run recorded under other numerics is resumed here."""
    if not recorded:
        return None  # recorded before numerics were recorded: unknown
    then = {k: str(recorded[k]) for k in ("mode", *ENV_VARS) if k in recorded}
    st = state()
    now = {"mode": st.mode, **st.env}
    if then == now:
        return None
    message = (f"{source} was trained under {_describe(then)}, this process runs {_describe(now)}: "
               f"the resumed run is not bit-identical to an uninterrupted one; resume it with "
               f"{MODE_VAR}={then.get('mode', DEFAULT_MODE)}"
               + (" and the same variables" if then.get("mode") == "native" else ""))
    _warn(message, once=False)
    return message


def _describe(values: Mapping[str, str]) -> str:
    rest = {k: v for k, v in values.items() if k != "mode"}
    return f"{MODE_VAR}={values.get('mode', '?')} ({_pairs(rest) or 'no dispatch variables set'})"


def _pairs(values: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def _warn(message: str, once: bool = True) -> None:
    if once and message in _warned:
        return
    _warned.add(message)
    warnings.warn(message, NumericsWarning, stacklevel=3)


@contextlib.contextmanager
def openvino_uncapped() -> Iterator[bool]:
    """Around OpenVINO's plugin load and model compilation: the portable ONEDNN_MAX_CPU_ISA is
    taken out of the environment, and put back afterwards; yields whether it was taken out.

    OpenVINO's CPU plugin carries its own oneDNN, which reads the same variable once, when it
    first checks the CPU: capped at SSE4.1 it ran int8 FullyConnected layers through a path that
    adds u8 x s8 products in int16 (saturating: logits off by up to 11 on 150 of 2000 rows) and
    refused LayerNorm fused with the next op ("MVN node ... bad combination"), measured with
    OpenVINO 2026.4. Inference needs no pinning; torch's oneDNN (training) still sees the value."""
    key = "ONEDNN_MAX_CPU_ISA"
    taken = requested_mode(os.environ)[0] == "portable" and \
        os.environ.get(key) == PORTABLE_ENV[key]
    if taken:
        os.environ.pop(key)
    try:
        yield taken
    finally:
        if taken:
            os.environ[key] = PORTABLE_ENV[key]
