#!/usr/bin/env bash
# Runs every preparation step in scripts/test.d/ (C++ build, local services), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
for step in scripts/test.d/*.sh; do
  [ -e "$step" ] || continue
  echo "[test] $step" >&2
  bash "$step"
done
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest's 5 means "no tests collected": that is a failure of the suite, not a pass.
[ "$rc" -eq 5 ] && { echo "[test] no tests were collected" >&2; exit 1; }
exit "$rc"
