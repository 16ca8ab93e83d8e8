#!/usr/bin/env bash
# One entry point for a fresh clone:
#   ./run.sh pipeline [pe pipeline options]   set up .venv, then train -> export -> parity -> bench on the default data
#   ./run.sh test [pytest options]            set up .venv, build the C++ runtime, run the test suite
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
what=${1:-pipeline}
[ $# -gt 0 ] && shift
case "$what" in
  pipeline) exec .venv/bin/pe pipeline "$@" ;;
  test) exec bash scripts/test.sh "$@" ;;
  *) echo "usage: ./run.sh pipeline|test [options]" >&2; exit 2 ;;
esac
