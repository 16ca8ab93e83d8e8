#!/usr/bin/env bash
# Installed sizes of the device install and the images' requirement sets, measured without a
# Docker engine: each set is pip-installed from this checkout into a fresh venv and its
# site-packages is measured with du (what the image's `pip install` adds to the base image, plus
# the venv's own pip/setuptools, ~15 MB, which python:3.11-slim also carries). Prints Markdown rows.
#   bash benchmarks/sizes.sh [WORKDIR]      (default: a temp folder, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/pe-sizes.XXXXXX")}
[ $# -gt 0 ] || trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
mb() { du -sm "$1" | cut -f1; }
measure() {  # measure LABEL EXTRAS: fresh venv, pip install ROOT[EXTRAS], one table row
  local v=$WORK/venv-$1
  rm -rf "$v" && "$PY" -m venv "$v"
  local t0=$SECONDS
  "$v/bin/pip" install -q -c constraints.txt "$ROOT${2:+[$2]}" 2> >(grep -v 'is ignored' >&2)
  local site; site=$("$v/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  local torch=no; [ -d "$site/torch" ] && torch=yes
  echo "| $1 | \`pip install .${2:+[$2]}\` | $(mb "$site") | $torch | $((SECONDS - t0)) |"
  (cd "$site" && du -sm -- */ 2>/dev/null | sort -rn | head -6 | awk '{printf "%s %s MB; ", $2, $1}') >"$WORK/top-$1"
}
echo "| set | install | site-packages MB | torch | install s |"
echo "|---|---|---|---|---|"
measure runtime ""
measure cpu-image serve
measure cpu-image-openvino serve,openvino
for s in runtime cpu-image cpu-image-openvino; do echo "largest in $s: $(cat "$WORK/top-$s")"; done
[ -d .venv ] && echo "full .venv (./run.sh): $(mb "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')") MB"
