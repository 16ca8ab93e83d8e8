#!/usr/bin/env bash
# Cross-builds the C++ runtime and checks it under QEMU against the x86-64 build of this host.
#
#   bash scripts/cross.sh aarch64     Linux aarch64 into cpp_runtime/build-aarch64/ (pe-infer there):
#   bash scripts/cross.sh armhf       ... armhf into cpp_runtime/build-armhf/; ctest through
#                                     qemu-user (CMAKE_CROSSCOMPILING_EMULATOR, pe_infer_csv too),
#                                     then pe-infer's logits and golden checks compared with the
#                                     native build's byte for byte
#   bash scripts/cross.sh cortex-m4 [--artifact DIR]
#                                     firmware for qemu-system-arm -M mps2-an386 (Cortex-M4F,
#                                     newlib-nano, semihosting) checking the golden rows of an
#                                     embedded model: DIR/model.pem + DIR/golden.bin (an exported
#                                     cpp artifact), else the default model kept in the tree
#                                     (fp32 and int8); prints flash, RAM, instructions per row
#
# Missing toolchains are installed from Debian packages (root + apt-get, bounded by
# PE_APT_TIMEOUT s; PE_CROSS_NO_INSTALL=1 never installs). Exit 0: everything passed and every
# compared output is bitwise identical; 1: a failure or a difference (named); 2: usage; 3: the
# toolchain is missing and cannot be installed (one line says why). PE_BUILD_JOBS sets -j.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CPP=$ROOT/cpp_runtime
JOBS=${PE_BUILD_JOBS:-2}
log() { echo "[cross] $*" >&2; }
die() { log "$1"; exit "${2:-1}"; }
usage() { echo "usage: bash scripts/cross.sh aarch64|armhf|cortex-m4 [--artifact DIR]" >&2; exit 2; }

TARGET=${1:-}
shift || true
ARTIFACT=""
if [ "${1:-}" = --artifact ] && [ -n "${2:-}" ]; then ARTIFACT=$2; shift 2; fi
[ $# -eq 0 ] || usage
case $TARGET in
  aarch64) TRIPLE=aarch64-linux-gnu; QEMU=qemu-aarch64; PKGS="g++-aarch64-linux-gnu qemu-user" ;;
  armhf) TRIPLE=arm-linux-gnueabihf; QEMU=qemu-arm; PKGS="g++-arm-linux-gnueabihf qemu-user" ;;
  cortex-m4) TRIPLE=arm-none-eabi; QEMU=qemu-system-arm
             PKGS="gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm" ;;
  *) usage ;;
esac
[ -z "$ARTIFACT" ] || [ "$TARGET" = cortex-m4 ] || usage

# ---- toolchain: the cross compiler, the emulator, and cmake + a native compiler for the reference
have_tools() {
  command -v cmake >/dev/null && command -v c++ >/dev/null && command -v "$TRIPLE-g++" >/dev/null \
    && command -v "$QEMU" >/dev/null || return 1
  if [ "$TARGET" = cortex-m4 ]; then  # newlib-nano and its libstdc++ headers
    "$TRIPLE-g++" -print-file-name=libc_nano.a | grep -q / && echo '#include <cstdint>' \
      | "$TRIPLE-g++" -x c++ -fsyntax-only - 2>/dev/null || return 1
  fi
}
install_tools() {
  command -v cmake >/dev/null && command -v c++ >/dev/null || PKGS="$PKGS cmake g++"
  [ -z "${PE_CROSS_NO_INSTALL:-}" ] || die "$TARGET toolchain missing ($PKGS) and PE_CROSS_NO_INSTALL is set" 3
  { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; } \
    || die "$TARGET toolchain missing and no root apt-get to install it (Debian: apt-get install $PKGS)" 3
  local limit=${PE_APT_TIMEOUT:-600}
  log "installing $PKGS (apt-get, at most ${limit} s)"
  # Package lists are refreshed only when the install cannot find the packages (a fresh image).
  DEBIAN_FRONTEND=noninteractive timeout "$limit" bash -c "
    apt='apt-get -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends install'
    \$apt $PKGS || { apt-get -qq -o DPkg::Lock::Timeout=120 update && \$apt $PKGS; }" >/dev/null 2>&1 \
    || die "$TARGET toolchain: apt-get install $PKGS failed (or took over ${limit} s)" 3
  have_tools || die "$TARGET toolchain: installed $PKGS but the tools are still not usable" 3
}
have_tools || install_tools

# ---- build helpers (logs in the build folder; their tail is shown on failure)
configure() {  # DIR LOG ARGS...
  local dir=$1 logf=$2; shift 2
  mkdir -p "$dir"
  cmake "$@" -B "$dir" >"$logf" 2>&1 || { tail -30 "$logf" >&2; die "configure failed ($logf)"; }
}
build() {  # DIR LOG [TARGETS...]
  local dir=$1 logf=$2; shift 2
  local t=(); for x in "$@"; do t+=(--target "$x"); done
  cmake --build "$dir" -j "$JOBS" "${t[@]}" >"$logf" 2>&1 || { tail -40 "$logf" >&2; die "build failed ($logf)"; }
}

# The x86-64 (host) reference: core + tools only, the same -ffp-contract=off as the cross builds.
HOST=$CPP/build-host
t0=$SECONDS
configure "$HOST" "$HOST/pe-configure.log" -S "$CPP" -DCMAKE_BUILD_TYPE=Release -DPE_BUILD_TESTS=OFF \
  -DPE_WITH_ADAPTERS=OFF -DCMAKE_CXX_FLAGS=-ffp-contract=off -DCMAKE_C_FLAGS=-ffp-contract=off
build "$HOST" "$HOST/pe-build.log" pe-infer pe-embed
GOLDEN=$CPP/tests/golden

# Every outcome line goes to OUT too; the comparison counts differences.
DIFFS=0
GELU_NOTES=()
compare() {  # NAME FILE_NATIVE FILE_CROSS
  if cmp -s "$2" "$3"; then return 0; fi
  DIFFS=$((DIFFS + 1))
  log "DIFFERS: $1 ($(diff "$2" "$3" | grep -c '^[<>]') lines; $2 vs $3)"
}

# True when a .pem has a GELU op (kind 5): its erf comes from the platform's libm (glibc's erff
# on aarch64 is built with FMA and differs from x86-64's in the last bits; newlib's differs again),
# so such a model is compared within a tolerance, not bit for bit (PE_CROSS_STRICT=1: bitwise too).
has_gelu() {
  local f=$1 nt no off i
  read -r nt no < <(od -An -tu4 -j32 -N8 "$f")
  off=$((64 + 32 * nt))
  for ((i = 0; i < no; i++)); do
    [ "$(od -An -tu4 -j$((off + 40 * i)) -N4 "$f" | tr -d ' ')" = 5 ] && return 0
  done
  return 1
}
# Largest |a - b| / max(1, |a|) over two --logits outputs of the same shape.
max_rel_diff() {
  paste -d, "$1" "$2" | awk -F, 'NR > 1 { n = NF / 2; for (i = 1; i <= n; i++) {
      d = $i - $(i + n); if (d < 0) d = -d; a = $i < 0 ? -$i : $i; if (a < 1) a = 1;
      if (d / a > m) m = d / a } } END { printf "%.3g", m + 0 }'
}

# Deterministic rows for the 6-feature test models (features f0..f5), values up to |8|.
rows_csv() {
  awk 'BEGIN { print "f0,f1,f2,f3,f4,f5";
    s = 12345; for (r = 0; r < 64; r++) { line = "";
      for (j = 0; j < 6; j++) { s = (s * 1103515245 + 12345) % 2147483648;
        line = line (j ? "," : "") sprintf("%.6g", (s / 2147483648.0 - 0.5) * 16) }
      print line } }'
}

linux_target() {
  local B=$CPP/build-$TARGET
  local emu=("$QEMU" -L "/usr/$TRIPLE")
  configure "$B" "$B/pe-configure.log" -S "$CPP" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$CPP/cmake/toolchain-$TARGET.cmake" -DPE_WITH_ADAPTERS=OFF -DPE_BUILD_TESTS=ON
  build "$B" "$B/pe-build.log"
  log "$TARGET: built in $((SECONDS - t0)) s: pe-infer $(stat -c %s "$B/pe-infer") B, libpe_runtime.a $(stat -c %s "$B/libpe_runtime.a") B"
  ctest --test-dir "$B" --output-on-failure -j "$JOBS" >"$B/pe-ctest.log" 2>&1 \
    || { grep -E "Failed|\*\*\*" "$B/pe-ctest.log" | head -20 >&2; die "$TARGET: ctest under $QEMU failed ($B/pe-ctest.log)"; }
  log "$TARGET: ctest under $QEMU: $(grep -E 'tests passed' "$B/pe-ctest.log")"
  local D=$B/cross-compare
  rm -rf "$D"; mkdir -p "$D"
  rows_csv >"$D/rows6.csv"
  local n=0 m
  for m in "$GOLDEN"/*.pem; do
    local name; name=$(basename "$m" .pem)
    local csv=$D/rows6.csv
    [[ $name == default_* ]] && continue
    "$HOST/pe-infer" --logits "$m" "$csv" >"$D/$name.native" 2>&1 \
      || { cat "$D/$name.native" >&2; die "$TARGET: the x86-64 pe-infer failed on $name"; }
    "${emu[@]}" "$B/pe-infer" --logits "$m" "$csv" >"$D/$name.cross" 2>&1 \
      || { cat "$D/$name.cross" >&2; die "$TARGET: pe-infer under $QEMU failed on $name"; }
    if [ -z "${PE_CROSS_STRICT:-}" ] && has_gelu "$m" && ! cmp -s "$D/$name.native" "$D/$name.cross"; then
      local rel rows; rel=$(max_rel_diff "$D/$name.native" "$D/$name.cross")
      rows=$(diff "$D/$name.native" "$D/$name.cross" | grep -c '^<')
      awk -v r="$rel" 'BEGIN { exit !(r <= 1e-5) }' \
        || { DIFFS=$((DIFFS + 1)); log "DIFFERS: $name logits beyond 1e-5 (max rel diff $rel)"; }
      GELU_NOTES+=("$name: $rows of 64 rows not bitwise (GELU: libm erff), max rel diff $rel")
      continue
    fi
    compare "$name logits" "$D/$name.native" "$D/$name.cross"; n=$((n + 1))
  done
  for p in fp32 int8; do  # the default model's golden rows: verdict line with the logits' CRC
    "$HOST/pe-infer" --golden "$GOLDEN/default_${p}_golden.bin" "$GOLDEN/default_$p.pem" >"$D/golden_$p.native" 2>&1 \
      || { cat "$D/golden_$p.native" >&2; die "$TARGET: golden rows of default_$p failed on x86-64"; }
    "${emu[@]}" "$B/pe-infer" --golden "$GOLDEN/default_${p}_golden.bin" "$GOLDEN/default_$p.pem" >"$D/golden_$p.cross" 2>&1 \
      || { cat "$D/golden_$p.cross" >&2; die "$TARGET: golden rows of default_$p failed"; }
    compare "default_$p golden rows" "$D/golden_$p.native" "$D/golden_$p.cross"; n=$((n + 1))
    log "$TARGET: default_$p: $(cat "$D/golden_$p.cross")"
  done
  local g; for g in "${GELU_NOTES[@]}"; do log "$TARGET: $g"; done
  [ "$DIFFS" -eq 0 ] || die "$TARGET: $DIFFS of $n outputs differ from x86-64 (files in $D)"
  log "$TARGET: all $n compared outputs bitwise identical to x86-64 ($((n - 2)) test models x 64 rows of logits, 2 golden checks; ${#GELU_NOTES[@]} GELU models within 1e-5) in $((SECONDS - t0)) s"
}

# ---- Cortex-M4: pe-embed the model, build the firmware, run it under QEMU mps2-an386
run_fw() {  # NAME MODEL GOLDEN FLOAT_ACCUM(ON|OFF) -> prints the firmware's lines; sets FW_LAST
  local name=$1 model=$2 gold=$3 fa=$4
  local B=$CPP/build-cortex-m4/$name
  mkdir -p "$B/gen"
  "$HOST/pe-embed" "$model" "$gold" "$B/gen" >/dev/null || die "cortex-m4: pe-embed failed for $model"
  configure "$B/fw" "$B/pe-configure.log" -S "$CPP/firmware" -DCMAKE_TOOLCHAIN_FILE="$CPP/cmake/toolchain-cortex-m4.cmake" \
    -DPE_FW_GEN_DIR="$B/gen" -DPE_FLOAT_ACCUM="$fa"
  build "$B/fw" "$B/pe-build.log"
  local elf=$B/fw/pe_firmware.elf
  "$TRIPLE-size" -A "$elf" >"$B/size.txt"
  timeout "${PE_FW_TIMEOUT:-300}" "$QEMU" -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" >"$B/run.log" 2>&1
  local rc=$?
  sed "s/^/[cortex-m4 $name] /" "$B/run.log" >&2
  FW_LAST=$(tail -1 "$B/run.log")
  [ $rc -eq 0 ] && [[ $FW_LAST == golden*pass* ]] || die "cortex-m4 $name: firmware failed (exit $rc; $B/run.log)"
}
crc_of() { sed -n 's/.*logits crc32 \([0-9a-f]*\).*/\1/p' <<<"$1"; }

m4_target() {
  local models=()
  if [ -n "$ARTIFACT" ]; then
    [ -f "$ARTIFACT/model.pem" ] && [ -f "$ARTIFACT/golden.bin" ] || die "cortex-m4: $ARTIFACT needs model.pem and golden.bin" 2
    models=("artifact:$ARTIFACT/model.pem:$ARTIFACT/golden.bin")
  else
    models=("int8:$GOLDEN/default_int8.pem:$GOLDEN/default_int8_golden.bin"
            "fp32:$GOLDEN/default_fp32.pem:$GOLDEN/default_fp32_golden.bin")
  fi
  # PE_ACCUM_FLOAT=1 (float accumulators, the MCU build's setting) is honoured only by a core that
  # implements it; otherwise the MCU build accumulates in double like x86-64's default build.
  local fa_impl=0 HF=$CPP/build-host-float
  grep -rqs PE_ACCUM_FLOAT "$CPP/src" && fa_impl=1
  if [ $fa_impl = 1 ]; then
    configure "$HF" "$HF/pe-configure.log" -S "$CPP" -DCMAKE_BUILD_TYPE=Release -DPE_BUILD_TESTS=OFF \
      -DPE_WITH_ADAPTERS=OFF -DPE_FLOAT_ACCUM=ON "-DCMAKE_CXX_FLAGS=-ffp-contract=off -DPE_ACCUM_FLOAT=1"
    build "$HF" "$HF/pe-build.log" pe-infer
  else
    log "cortex-m4: this core does not implement PE_ACCUM_FLOAT yet: the MCU build accumulates in double"
  fi
  local entry name model gold ref_d ref_f summary=()
  for entry in "${models[@]}"; do
    IFS=: read -r name model gold <<<"$entry"
    ref_d=$("$HOST/pe-infer" --golden "$gold" "$model")
    if [ $fa_impl = 1 ]; then  # the default double path must be bitwise equal to x86-64
      run_fw "$name-double" "$model" "$gold" OFF
      [ "$(crc_of "$FW_LAST")" = "$(crc_of "$ref_d")" ] \
        || die "cortex-m4 $name-double: logits differ from x86-64 (crc $(crc_of "$FW_LAST") vs $(crc_of "$ref_d"))"
      summary+=("$name, double accumulators: logits bitwise identical to x86-64")
    fi
    run_fw "$name" "$model" "$gold" ON  # the MCU build
    if [ $fa_impl = 1 ]; then  # golden tolerance; bitwise reported against x86-64 with the same setting
      ref_f=$("$HF/pe-infer" --golden "$gold" "$model")
      local same=identical; [ "$(crc_of "$FW_LAST")" = "$(crc_of "$ref_f")" ] || same="DIFFERENT (within the golden tolerance)"
      summary+=("$name, PE_ACCUM_FLOAT=1: golden pass; logits bitwise $same to x86-64 built with PE_ACCUM_FLOAT=1")
    else
      [ "$(crc_of "$FW_LAST")" = "$(crc_of "$ref_d")" ] \
        || die "cortex-m4 $name: logits differ from x86-64 (crc $(crc_of "$FW_LAST") vs $(crc_of "$ref_d"))"
      summary+=("$name: golden pass; logits bitwise identical to x86-64")
    fi
    local sz; sz=$(awk '$1==".text"||$1==".ARM.exidx"{f+=$2} $1==".data"{f+=$2;r+=$2} $1==".bss"||$1==".stack"{r+=$2} END{print f" B flash, "r" B RAM"}' "$CPP/build-cortex-m4/$name/size.txt")
    summary+=("$name image: $sz (arm-none-eabi-size)")
  done
  local s; for s in "${summary[@]}"; do log "cortex-m4: $s"; done
  log "cortex-m4: done in $((SECONDS - t0)) s"
  echo "$FW_LAST"
}

if [ "$TARGET" = cortex-m4 ]; then m4_target; else linux_target; fi
