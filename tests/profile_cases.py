"""The built-in profiles as test cases: which of them this host can export and run, and why not."""

from __future__ import annotations

from phoneprice_edge.export.profile import ExportProfile, builtin_profiles
from phoneprice_edge.targets import TARGETS


def cannot_run_here(profile: ExportProfile) -> str | None:
    """Why this host cannot export and run a profile (None when it can): the target's own check
    (tensorrt: no NVIDIA GPU / TensorRT; cpp: libpe_runtime.so not built), or an engine that must
    be built on another GPU (build_on_device)."""
    reason = TARGETS[profile.target].unavailable_reason(profile.precision)
    if reason or not (profile.target == "tensorrt" and profile.option("build_on_device")):
        return reason
    import torch

    here = "{}.{}".format(*torch.cuda.get_device_capability())
    want = profile.option("compute_capability")
    if want and here != want:
        return (f"built on {profile.option('device_name')} only (compute capability {want}); "
                f"this GPU is {here}")
    return None


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
