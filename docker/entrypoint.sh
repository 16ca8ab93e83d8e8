#!/bin/sh
# CPU image entry point: serve the export folder mounted at $PE_ARTIFACT (default /artifact).
# Settings come from the environment (PE_HOST, PE_PORT, PE_OUT_OF_RANGE, PE_LOG_PREDICTIONS,
# PE_MAX_BATCH, PE_API_KEY); extra arguments are passed to pe-serve as they are.
set -eu

artifact="${PE_ARTIFACT:-/artifact}"
if [ ! -d "$artifact" ]; then
  echo "entrypoint: no export folder at $artifact; mount one, e.g. -v \$PWD/runs/r1/export/onnx-fp32:/artifact:ro" >&2
  exit 1
fi
if [ ! -f "$artifact/manifest.json" ]; then
  echo "entrypoint: $artifact has no manifest.json (mount an export folder written by pe-export)" >&2
  exit 1
fi
command -v pe-serve >/dev/null 2>&1 || { echo "entrypoint: pe-serve is not on PATH" >&2; exit 1; }

set -- --artifact "$artifact" --host "${PE_HOST:-0.0.0.0}" --port "${PE_PORT:-8000}" "$@"
if [ -n "${PE_OUT_OF_RANGE:-}" ]; then set -- "$@" --out-of-range "$PE_OUT_OF_RANGE"; fi
if [ -n "${PE_LOG_PREDICTIONS:-}" ]; then set -- "$@" --log-predictions "$PE_LOG_PREDICTIONS"; fi
if [ -n "${PE_MAX_BATCH:-}" ]; then set -- "$@" --max-batch "$PE_MAX_BATCH"; fi
if [ -n "${PE_DEVICE:-}" ]; then set -- "$@" --device "$PE_DEVICE"; fi
# exec: pe-serve becomes PID 1's child-free replacement and gets SIGTERM from `docker stop` directly.
exec pe-serve "$@"
