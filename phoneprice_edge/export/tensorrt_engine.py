"""The run-time half of the TensorRT export, importable without torch or onnx (the GPU image, a
Jetson): `finalize` records an engine built by build_engine.sh (trtexec) and this GPU's facts
(backends.tensorrt.gpu_facts) in its manifest. python -m phoneprice_edge.export.tensorrt_engine finalize DIR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phoneprice_edge.backends.tensorrt import gpu_facts, tensorrt_module
from phoneprice_edge.errors import ExportError
from phoneprice_edge.io_utils import sha256_file

ENGINE_FILE = "model.plan"
SCRIPT_FILE = "build_engine.sh"


def finalize(artifact_dir: Path) -> dict[str, Any]:
    """After build_engine.sh ran on the device: hash model.plan and record this GPU in the manifest."""
    from phoneprice_edge.artifact import load_artifact, read_manifest
    from phoneprice_edge.export.manifest import update_manifest

    cache = str((read_manifest(artifact_dir).profile.get("options") or {}).get(
        "timing_cache", "timing.cache"))  # the two files build_engine.sh adds
    m = load_artifact(artifact_dir, allow_unlisted=(ENGINE_FILE, cache))
    engine = artifact_dir / ENGINE_FILE
    if not engine.is_file():
        raise ExportError(f"{engine}: not built yet; run {artifact_dir / SCRIPT_FILE} first")
    facts = gpu_facts(tensorrt_module())
    files = {**m.files, ENGINE_FILE: sha256_file(engine)}
    if (artifact_dir / cache).is_file():
        files[cache] = sha256_file(artifact_dir / cache)
    return update_manifest(artifact_dir, files=files, deferred_build=False, tensorrt=facts,
                           format="tensorrt-engine", host={**(m.fact("host") or {}), "gpu": facts})


if __name__ == "__main__":  # the command line lives in cli/tensorrt_engine.py (run by name:
    import runpy  # the cli module imports this one, and nothing here imports it back)

    runpy.run_module("phoneprice_edge.cli.tensorrt_engine", run_name="__main__")
