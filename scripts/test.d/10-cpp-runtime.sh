#!/usr/bin/env bash
# Builds cpp_runtime/ (core, tools, adapters whose SDK is found; scripts/build-cpp.sh --all) and
# runs ctest; then short libFuzzer runs of the two loader harnesses (fuzz/: CRCs as given, and
# CRCs recomputed so mutations reach the parser; corpus seeded with overflow shapes) with clang, installing Debian's clang and
# libclang-rt-dev where it is missing (root + apt-get, bounded by PE_APT_TIMEOUT s;
# PE_FUZZ_NO_INSTALL=1 never installs), else one line says why the fuzz run is skipped. Idempotent: incremental builds, cached SDKs.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
BUILD=$ROOT/cpp_runtime/build
CACHE=${PE_SDK_CACHE:-$HOME/.cache/phoneprice_edge/sdk}
JOBS=${PE_BUILD_JOBS:-2}
log() { echo "[cpp] $*" >&2; }

# --- ONNX Runtime: headers from Debian 13's libonnxruntime-dev (private apt state), library from the wheel
fetch_ort_headers() {
  local d=$CACHE/apt-trixie
  [ -f "$CACHE/ort/include/onnxruntime_c_api.h" ] && return 0
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || return 1
  local src; src=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$src" ] || return 1
  mkdir -p "$d/state/lists/partial" "$d/cache/archives/partial" "$d/etc" "$CACHE/ort"
  awk 'BEGIN{RS=""; ORS="\n\n"} /Suites:/ && !/security/ {print; exit}' "$src" \
    | sed 's/^Suites:.*/Suites: trixie/' > "$d/etc/trixie.sources"
  local o=(-o Dir::State="$d/state" -o Dir::Cache="$d/cache" -o Dir::Etc::SourceList=/dev/null
           -o Dir::Etc::SourceParts="$d/etc" -o Dir::State::status=/var/lib/dpkg/status -qq)
  apt-get "${o[@]}" update >/dev/null 2>&1 || return 1
  (cd "$d/cache" && apt-get "${o[@]}" download libonnxruntime-dev >/dev/null 2>&1) || return 1
  dpkg-deb -x "$d"/cache/libonnxruntime-dev_*.deb "$d/root" || return 1
  cp -r "$d/root/usr/include/onnxruntime/." "$CACHE/ort/include/"
}

ORT_ARGS=()
ORT_LIB=$(ls "$ROOT"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -1 || true)
if [ -n "$ORT_LIB" ] && fetch_ort_headers; then
  mkdir -p "$BUILD/ort/lib"
  ln -sf "$CACHE/ort/include" "$BUILD/ort/"
  ln -sf "$ORT_LIB" "$BUILD/ort/lib/libonnxruntime.so"
  ln -sf "$ORT_LIB" "$BUILD/ort/lib/libonnxruntime.so.1"
  ORT_ARGS=(-DPE_ORT_ROOT="$BUILD/ort")
else
  log "ONNX Runtime adapter skipped: wheel library or libonnxruntime-dev headers unavailable"
fi

OV_DIR=$(ls -d "$ROOT"/.venv/lib/python3*/site-packages/openvino/cmake 2>/dev/null | head -1 || true)
TORCH_PREFIX=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
TORCH_ARGS=(-DPE_WITH_LIBTORCH=OFF)
if [ -n "$TORCH_PREFIX" ] && [ "${PE_SKIP_LIBTORCH:-0}" != 1 ]; then
  TORCH_ARGS=(-DPE_WITH_LIBTORCH=ON -DCMAKE_PREFIX_PATH="$TORCH_PREFIX")
else
  log "libtorch adapter skipped (torch wheel not found or PE_SKIP_LIBTORCH=1)"
fi

PE_BUILD_JOBS=$JOBS bash scripts/build-cpp.sh --all -DPE_PYTHON="$PY" \
  -DPE_OPENVINO_DIR="${OV_DIR:-}" "${ORT_ARGS[@]}" "${TORCH_ARGS[@]}" || exit 1
LD_LIBRARY_PATH="$BUILD/ort/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" >"$BUILD/pe-ctest.log" 2>&1 \
  || { cat "$BUILD/pe-ctest.log" >&2; exit 1; }
log "$(grep -E 'tests passed' "$BUILD/pe-ctest.log")"

# --- bounded libFuzzer + ASan/UBSan run of the loader (clang++ with libFuzzer)
fuzz_links() {  # clang++ can build and link a libFuzzer + ASan/UBSan binary
  command -v clang++ >/dev/null 2>&1 || return 1
  local d; d=$(mktemp -d)
  printf '#include <stddef.h>\n#include <stdint.h>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$d/p.cpp"
  timeout 120 clang++ -fsanitize=fuzzer,address,undefined "$d/p.cpp" -o "$d/p" >/dev/null 2>&1
  local rc=$?; rm -rf "$d"; return $rc
}
FUZZ_WHY=""
ensure_fuzz_toolchain() {  # 0 when usable; else FUZZ_WHY says why not
  fuzz_links && return 0
  local have="clang++ not installed"
  command -v clang++ >/dev/null 2>&1 && have="clang++ cannot link -fsanitize=fuzzer (no libFuzzer runtime)"
  if [ -n "${PE_FUZZ_NO_INSTALL:-}" ]; then FUZZ_WHY="$have (PE_FUZZ_NO_INSTALL set)"; return 1; fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    FUZZ_WHY="$have and no root apt-get to install clang + libclang-rt-dev"; return 1
  fi
  local limit=${PE_APT_TIMEOUT:-420}
  log "installing clang + libclang-rt-dev for the fuzz run (at most ${limit} s)"
  # Package lists are refreshed only when the install cannot find the packages (a fresh image);
  # clang alone where libclang-rt-dev does not exist (older distributions bundle libFuzzer).
  DEBIAN_FRONTEND=noninteractive timeout "$limit" bash -c '
    apt="apt-get -y -qq -o DPkg::Lock::Timeout=60 --no-install-recommends install"
    $apt clang libclang-rt-dev || { apt-get -qq -o DPkg::Lock::Timeout=60 update && $apt clang libclang-rt-dev; } \
      || $apt clang' >/dev/null 2>&1 || true
  fuzz_links && return 0
  FUZZ_WHY="$have and apt-get install clang libclang-rt-dev did not fix it (or took over ${limit} s)"; return 1
}
if [ "${PE_FUZZ_SECONDS:-20}" -le 0 ]; then
  log "fuzzer skipped: PE_FUZZ_SECONDS=${PE_FUZZ_SECONDS}"
elif ensure_fuzz_toolchain; then
  FB=$ROOT/cpp_runtime/build-fuzz
  mkdir -p "$FB"
  CXX=clang++ CC=clang cmake -S cpp_runtime -B "$FB" -DPE_FUZZ=ON -DPE_BUILD_TESTS=OFF \
    -DPE_WITH_ADAPTERS=OFF >"$FB/pe-configure.log" 2>&1 && cmake --build "$FB" --target pe_fuzz_loader \
    pe_fuzz_loader_crc pe_fuzz_seeds -j "$JOBS" >"$FB/pe-build.log" 2>&1 \
    || { tail -30 "$FB/pe-build.log" >&2; exit 1; }
  # Corpus: the valid test models plus overflow shapes derived from a few of them (fresh each run;
  # what the fuzzers add is kept in $FB/corpus-* between runs).
  G=$ROOT/cpp_runtime/tests/golden
  rm -rf "$FB/seeds" && mkdir -p "$FB/seeds" "$FB/corpus-loader" "$FB/corpus-crc"
  cp "$G"/*.pem "$FB/seeds/"
  "$FB/fuzz/pe_fuzz_seeds" "$FB/seeds" "$G/mlp_relu_fp32.pem" "$G/bn_gelu_wide_split.pem" \
    "$G/ln_relu_wide_mixed.pem" "$G/default_int8.pem" >/dev/null || { log "fuzz seeds not written"; exit 1; }
  # Both harnesses, each bounded by PE_FUZZ_SECONDS: the plain loader harness (CRCs as given) and
  # the one that recomputes the CRCs so that mutations reach the parser. A model that loads is run,
  # so each harness runs again at every lower kernel level (PE_CPU_DISPATCH; a level this CPU lacks
  # runs as its own), a quarter of the time each, the corpus grown above replayed first.
  secs=${PE_FUZZ_SECONDS:-20}
  for lvl in "" baseline avx2 avx512; do
    t=$secs; [ -n "$lvl" ] && t=$(( (secs + 3) / 4 ))
    for h in loader crc; do
      bin=$FB/fuzz/pe_fuzz_loader; [ $h = crc ] && bin=$FB/fuzz/pe_fuzz_loader_crc
      flog=$FB/pe-fuzz-$h${lvl:+-$lvl}.log
      PE_CPU_DISPATCH=${lvl:-${PE_CPU_DISPATCH:-}} "$bin" "$FB/corpus-$h" "$FB/seeds" -max_total_time="$t" \
        -max_len=8192 -print_final_stats=1 >"$flog" 2>&1 || { tail -40 "$flog" >&2; exit 1; }
      log "fuzz ($(basename "$bin")${lvl:+, PE_CPU_DISPATCH=$lvl}): $(grep -E 'stat::number_of_executed_units' "$flog" | awk '{print $2}') runs, $(grep -oE 'cov: [0-9]+' "$flog" | tail -1), no crash"
    done
  done
else
  log "fuzzer skipped: $FUZZ_WHY"
fi
