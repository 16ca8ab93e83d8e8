#!/usr/bin/env bash
# Creates .venv at the repo root with the pinned CPU torch and the whole stack; idempotent and quiet
# when nothing changed (a stamp holds the hash of the files that define the environment).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
stamp=.venv/.pe-setup-stamp
want=$(cat pyproject.toml setup.py constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/pe ]; then
  exit 0
fi
if [ -x .venv/bin/python ]; then echo "[setup] updating .venv (its requirements changed)" >&2; else echo "[setup] creating .venv with $($PY --version) (first run takes a few minutes)" >&2; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip's warnings about package indexes configured on this machine but absent are noise here.
quiet_pip() { .venv/bin/python -m pip install -q "$@" 2> >(grep -v 'is ignored: it is neither' >&2); }
# torch first, pinned, so that nothing later pulls a CUDA build.
quiet_pip "torch==2.13.0"
quiet_pip -c constraints.txt -e ".[all,dev]"
echo "$want" > "$stamp"
echo "[setup] done" >&2
