"""The built-in profiles as test cases: which of them this host can export and run, and why not."""

from __future__ import annotations

from phoneprice_edge.export.profile import ExportProfile, builtin_profiles
from phoneprice_edge.export.runner import unavailable_reason


def cannot_run_here(profile: ExportProfile) -> str | None:
    """Why this host cannot export and run a profile (None when it can): the exporter's own check
    (tensorrt: no NVIDIA GPU / TensorRT; cpp: libpe_runtime.so not built; an engine that must be
    built on another GPU)."""
    return unavailable_reason(profile)


def runnable_here() -> tuple[list[str], dict[str, str]]:
    """(built-in profiles this host exports and runs, {the others: why not})."""
    ok, skipped = [], {}
    for p in builtin_profiles():
        why = cannot_run_here(p)
        if why:
            skipped[p.name] = why
        else:
            ok.append(p.name)
    return ok, skipped
