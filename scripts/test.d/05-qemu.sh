#!/usr/bin/env bash
# Makes qemu-x86_64 (Debian's qemu-user) available for tests/test_numerics.py, which trains under an
# emulated AVX2-only CPU (-cpu Haswell-v4) and compares the weights with a native run.
# Installs the package only when the binary is missing and we are root with apt-get. Never fails
# the suite: when qemu cannot be had it writes $PE_QEMU_STATE/skip_reason (one line, also printed)
# and the test skips with that reason. Idempotent; ~0.01 s when qemu-x86_64 is already present.
set -uo pipefail
STATE=${PE_QEMU_STATE:-$HOME/.cache/phoneprice_edge/qemu}
log() { echo "[qemu] $*" >&2; }
mkdir -p "$STATE" 2>/dev/null || { log "cannot create $STATE; the emulated-CPU test will skip"; exit 0; }
skip() {
  log "the emulated-CPU test will skip: $*"
  echo "$*" > "$STATE/skip_reason"
  exit 0
}
found() { command -v qemu-x86_64 || command -v qemu-x86_64-static; }

if ! found >/dev/null; then
  [ -n "${PE_QEMU_NO_INSTALL:-}" ] && skip "no qemu-x86_64 (PE_QEMU_NO_INSTALL is set; install Debian's qemu-user)"
  { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; } \
    || skip "no qemu-x86_64 and no root apt-get to install qemu-user"
  log "installing Debian's qemu-user package"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends qemu-user >/dev/null 2>&1; then
    timeout 300 apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed (no network to the Debian mirror?)"
    timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends qemu-user >/dev/null 2>&1 \
      || skip "apt-get install qemu-user failed"
  fi
  found >/dev/null || skip "qemu-user installed but no qemu-x86_64 on PATH"
fi
rm -f "$STATE/skip_reason"
