#!/usr/bin/env bash
# Cross builds checked under QEMU: scripts/cross.sh aarch64 and cortex-m4 (PE_CROSS_TARGETS to
# choose, PE_CROSS_SKIP=1 to skip). A missing toolchain that cannot be installed (cross.sh exit 3:
# no root apt-get, no network) never fails the suite: one line is printed and written to
# $PE_CROSS_STATE/<target>.skip, and tests/cpp/test_cross.py skips with it. A failed check or a
# bitwise difference fails the suite. Each run's output, exit status and seconds are kept in
# $PE_CROSS_STATE for that test.
set -uo pipefail
cd "$(dirname "$0")/../.."
STATE=${PE_CROSS_STATE:-$PWD/cpp_runtime/build-cross-state}  # per checkout: its build folders go with it
log() { echo "[cross] $*" >&2; }
mkdir -p "$STATE" 2>/dev/null || { log "cannot create $STATE; the cross-build tests will skip"; exit 0; }
for t in ${PE_CROSS_TARGETS:-aarch64 cortex-m4}; do
  rm -f "$STATE/$t.skip" "$STATE/$t.rc" "$STATE/$t.log"
  if [ -n "${PE_CROSS_SKIP:-}" ]; then
    echo "PE_CROSS_SKIP is set" >"$STATE/$t.skip"; log "$t skipped: PE_CROSS_SKIP is set"; continue
  fi
  t0=$(date +%s.%N)
  bash scripts/cross.sh "$t" >"$STATE/$t.log" 2>&1
  rc=$?
  echo "$rc" >"$STATE/$t.rc"
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' >"$STATE/$t.seconds"
  case $rc in
    0) log "$t: $(grep -E 'bitwise identical|golden pass' "$STATE/$t.log" | tail -1 | sed "s/^\[cross\] $t: //") ($(cat "$STATE/$t.seconds") s)" ;;
    3) tail -1 "$STATE/$t.log" | sed 's/^\[cross\] //' >"$STATE/$t.skip"
       log "$t skipped: $(cat "$STATE/$t.skip")" ;;
    *) tail -30 "$STATE/$t.log" >&2; log "$t FAILED (exit $rc; $STATE/$t.log)"; exit 1 ;;
  esac
done
