#!/usr/bin/env bash
# Builds the C++ runtime (cpp_runtime/) into cpp_runtime/build/, incrementally.
#
#   bash scripts/build-cpp.sh                      the core shared library only: libpe_runtime.so,
#                                                  which the Python cpp exporter and backend load
#                                                  (no SDKs, no tests, no Python; a few seconds the
#                                                  first time, a no-op when up to date)
#   bash scripts/build-cpp.sh --optional           the same, for a caller that goes on without it
#                                                  (./run.sh pipeline): a failure line adds that the
#                                                  cpp export profiles will be skipped
#   bash scripts/build-cpp.sh --all [CMAKE_ARGS]   configure with CMAKE_ARGS and build every target
#                                                  (scripts/test.d/10-cpp-runtime.sh: adapters, tools,
#                                                  tests; then it runs ctest)
#
# Exit 0: built or up to date. 3: no cmake or no C/C++ compiler (one line says which). 1: the
# configure or the build failed (the end of its log is printed). PE_BUILD_JOBS sets -j.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$ROOT/cpp_runtime/build
JOBS=${PE_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
log() { echo "[cpp] $*" >&2; }

all=0 suffix=""
if [ "${1:-}" = --all ]; then all=1; shift; fi
if [ "${1:-}" = --optional ]; then suffix="; continuing without it: the cpp export profiles will be skipped"; shift; fi
what="C++ runtime library"
[ "$all" = 1 ] && what="C++ runtime"

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v "${CXX:-c++}" >/dev/null 2>&1 || missing+=("a C++ compiler (${CXX:-c++})")
command -v "${CC:-cc}" >/dev/null 2>&1 || missing+=("a C compiler (${CC:-cc})")
if [ ${#missing[@]} -gt 0 ]; then
  log "$what not built: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g') not found (Debian: apt-get install cmake g++)$suffix"
  exit 3
fi

mkdir -p "$BUILD"
# One build at a time in this folder (a pipeline and a test run may start together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BUILD/.pe-build.lock"
  flock 9
fi

# A cache written for another checkout (a copied tree) cannot be reused: configure afresh.
if [ -f "$BUILD/CMakeCache.txt" ] && \
   ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT/cpp_runtime" "$BUILD/CMakeCache.txt"; then
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi

configure() {
  cmake -S cpp_runtime -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >"$BUILD/pe-configure.log" 2>&1 \
    || { tail -30 "$BUILD/pe-configure.log" >&2; log "$what not built: cmake configure failed ($BUILD/pe-configure.log)$suffix"; exit 1; }
}
build() {
  cmake --build "$BUILD" -j "$JOBS" "$@" >"$BUILD/pe-build.log" 2>&1 \
    || { tail -50 "$BUILD/pe-build.log" >&2; log "$what not built: the build failed ($BUILD/pe-build.log)$suffix"; exit 1; }
}

t0=$SECONDS
if [ "$all" = 1 ]; then
  # Options stated explicitly: a cache left by the core-only build has them off.
  configure -DPE_BUILD_TESTS=ON -DPE_WITH_ADAPTERS=ON "$@"
  grep -E "pe_runtime: .*(skipped|built)" "$BUILD/pe-configure.log" | sed 's/^-- /[cpp] /' >&2 || true
  build
else
  # Keep the options of an existing build folder (e.g. the test step's full one): only the
  # core target is built. A new folder is configured without SDK look-ups and tests.
  [ -f "$BUILD/CMakeCache.txt" ] || configure -DPE_BUILD_TESTS=OFF -DPE_WITH_ADAPTERS=OFF -DPE_WITH_LIBTORCH=OFF
  build --target pe_runtime
  [ -e "$BUILD/libpe_runtime.so" ] || { log "$what not built: $BUILD/libpe_runtime.so missing after the build$suffix"; exit 1; }
  log "$what: ${BUILD#"$ROOT"/}/libpe_runtime.so ($((SECONDS - t0)) s)"
fi
