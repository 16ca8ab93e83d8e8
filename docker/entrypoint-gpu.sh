#!/bin/sh
# GPU (TensorRT) image entry point. The mounted export folder ($PE_ARTIFACT, default /artifact) is
#  - a built TensorRT export (model.plan in its manifest): served as it is, or
#  - a deferred one (pe-export --target tensorrt --defer-build: model.onnx + build_engine.sh): on
#    first start it is copied to $PE_ENGINE_DIR (default /engines/<manifest sha>), the engine is
#    built there for this GPU with trtexec and recorded in its manifest; later starts reuse it.
# Then pe-serve runs with the tensorrt backend on the GPU (PE_DEVICE, default cuda).
set -eu

deferred() {  # true when the manifest in $1 says the engine has not been built yet
  python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1])).get("deferred_build") else 1)' "$1/manifest.json"
}

artifact="${PE_ARTIFACT:-/artifact}"
if [ ! -f "$artifact/manifest.json" ]; then
  echo "entrypoint-gpu: no export folder at $artifact (mount one written by pe-export --target tensorrt)" >&2
  exit 1
fi

if deferred "$artifact"; then
  key=$(sha256sum "$artifact/manifest.json" | cut -c1-16)
  built="${PE_ENGINE_DIR:-/engines/$key}"
  if [ ! -f "$built/model.plan" ] || deferred "$built"; then
    command -v trtexec >/dev/null 2>&1 || {
      echo "entrypoint-gpu: $artifact needs an engine build but trtexec is not on PATH (use the TensorRT image)" >&2
      exit 1
    }
    echo "entrypoint-gpu: building the TensorRT engine for this GPU in $built (first start only)" >&2
    mkdir -p "$built"
    cp -R "$artifact"/. "$built"/
    bash "$built/build_engine.sh" >&2
    python3 -m phoneprice_edge.export.tensorrt_engine finalize "$built" >&2
  fi
  artifact="$built"
fi

export PE_ARTIFACT="$artifact"
export PE_DEVICE="${PE_DEVICE:-cuda}"
exec "$(dirname "$0")/entrypoint.sh" "$@"
