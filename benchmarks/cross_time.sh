#!/usr/bin/env bash
# Time scripts/cross.sh TARGET... cold (its build folders removed) then warm (incremental), as
# CI's step scripts/test.d/15-cross.sh runs it. The toolchain install is timed separately (it
# happens once per machine): see benchmarks/cross.md.
set -uo pipefail
cd "$(dirname "$0")/.."
targets=("$@"); [ $# -gt 0 ] || targets=(aarch64 cortex-m4)
for t in "${targets[@]}"; do
  for run in cold warm; do
    if [ $run = cold ]; then
      rm -rf cpp_runtime/build-host cpp_runtime/build-host-float "cpp_runtime/build-$t"
    fi
    s=$(date +%s.%N)
    bash scripts/cross.sh "$t" >/tmp/cross-time-$t-$run.log 2>&1
    rc=$?
    printf '%s %s: %.1f s (exit %d)\n' "$t" "$run" "$(echo "$(date +%s.%N) - $s" | bc)" "$rc"
  done
done
