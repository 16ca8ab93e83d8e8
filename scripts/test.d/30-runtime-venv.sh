#!/usr/bin/env bash
# The device install, end to end: exports onnx-fp32, onnx-int8 and cpp-fp32 with the full .venv into
# a temp folder (a short training run, then only the export folders are kept: no run folder), builds
# a runtime-only venv (`python -m venv` + `pip install .` from this checkout; pip's cache makes it
# fast), asserts that no build-side package (torch, scikit-learn, matplotlib, tensorboard, onnx,
# scipy, pyarrow) is installed and that the cpp backend finds the library the wheel bundled, then in
# it: pe verify, pe bench --artifact, pe predict on each artifact; a build-side command fails with
# the one-line "install phoneprice_edge[train]" error; then `pip install .[serve]` (still no torch)
# and pe serve answers /v1/predict for each artifact. Prints the time taken and the venv's
# site-packages size (benchmarks/sizes.md). Fails the suite on any failure.
# PE_RUNTIME_VENV=0 skips it (one line); PE_RUNTIME_VENV_KEEP=1 keeps the temp folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
log() { echo "[runtime-venv] $*" >&2; }
if [ "${PE_RUNTIME_VENV:-1}" = 0 ]; then log "skipped: PE_RUNTIME_VENV=0"; exit 0; fi
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pe-runtime-venv.XXXXXX")
cleanup() { [ "${PE_RUNTIME_VENV_KEEP:-0}" = 1 ] && log "kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT
die() { log "FAILED: $*"; exit 1; }
run_logged() {  # run_logged NAME CMD...: quiet unless it fails
  "${@:2}" >"$WORK/$1.log" 2>&1 || { tail -30 "$WORK/$1.log" >&2; die "$1 ($WORK/$1.log)"; }
}
t0=$SECONDS
PROFILES=(onnx-fp32 onnx-int8 cpp-fp32)

# --- 1. export with the full venv (build side) and this checkout's code, keep only the export folders
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
bash scripts/build-cpp.sh >/dev/null 2>&1 || die "scripts/build-cpp.sh (the cpp-fp32 export needs the library)"
run_logged train .venv/bin/pe train --epochs 3 --seed 7 --out "$WORK/run"
for p in "${PROFILES[@]}"; do run_logged "export-$p" .venv/bin/pe export --run "$WORK/run" --profile "$p"; done
mv "$WORK/run/export" "$WORK/artifacts"
run_logged synth .venv/bin/pe data synth --out "$WORK/rows.csv" --rows 300
rm -rf "$WORK/run"
t_export=$((SECONDS - t0))

# --- 2. the runtime-only venv
t1=$SECONDS
"$PY" -m venv "$WORK/venv"
V=$WORK/venv/bin
rm -rf build/lib build/bdist.* 2>/dev/null || true  # setuptools would package stale files left there
run_logged pip-install env PIP_DISABLE_PIP_VERSION_CHECK=1 "$V/pip" install "$ROOT"
t_install=$((SECONDS - t1))
SITE=$("$V/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
size_base=$(du -sm "$SITE" | cut -f1)

# Everything below runs outside the checkout, without PYTHONPATH or PE_RUNTIME_LIB: the installed
# package is all there is.
cd "$WORK"
unset PYTHONPATH PE_RUNTIME_LIB VIRTUAL_ENV
export PATH="$V:$PATH"
"$V/python" - <<'EOF' || die "the runtime venv is not torch-free or lacks the bundled C++ library"
import importlib.util, sys
build_side = ("torch", "sklearn", "matplotlib", "tensorboard", "onnx", "onnxscript", "scipy", "pyarrow")
found = [m for m in build_side if importlib.util.find_spec(m) is not None]
if found:
    sys.exit(f"build-side packages in the runtime venv: {', '.join(found)}")
import phoneprice_edge
from phoneprice_edge.backends import cpp
if "site-packages" not in phoneprice_edge.__file__:
    sys.exit(f"phoneprice_edge imported from {phoneprice_edge.__file__}, not the install")
if cpp.library_path() != cpp.PACKAGED_LIB or cpp.unavailable_reason():
    sys.exit(f"cpp backend: {cpp.unavailable_reason() or cpp.library_path()}")
EOF

A=$WORK/artifacts
run_logged verify "$V/pe" verify "${PROFILES[@]/#/$A/}" --json "$WORK/verify.json"
[ "$(grep -c '  PASS$' "$WORK/verify.log" || true)" = "${#PROFILES[@]}" ] \
  || { cat "$WORK/verify.log" >&2; die "pe verify: expected one PASS line per artifact"; }
run_logged bench "$V/pe" bench "${PROFILES[@]/#/--artifact=$A/}" --batch-sizes 1,64 \
  --min-time 0.05 --min-iters 20 --out "$WORK/bench"
[ -s "$WORK/bench/report.json" ] || die "pe bench --artifact wrote no report.json"
for p in "${PROFILES[@]}"; do
  run_logged "predict-$p" "$V/pe" predict --artifact "$A/$p" --data rows.csv --out "pred-$p.csv"
  [ "$(wc -l <"pred-$p.csv")" -eq 301 ] || die "pe predict $p: expected 300 rows in pred-$p.csv"
done
set +e
err=$("$V/pe" train --epochs 1 --out "$WORK/no-train" 2>&1 >/dev/null); rc=$?
set -e
{ [ "$rc" = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [[ $err == *"phoneprice_edge[train]"* ]]; } \
  || die "pe train without torch: want one line naming phoneprice_edge[train] and exit 1, got $rc: $err"

# --- 3. + the serve extra: still no torch; pe serve answers for every artifact
run_logged pip-serve env PIP_DISABLE_PIP_VERSION_CHECK=1 "$V/pip" install "$ROOT[serve]"
size_serve=$(du -sm "$SITE" | cut -f1)
"$V/python" - "$A" "${PROFILES[@]}" <<'EOF' || die "pe serve in the runtime venv"
import csv, importlib.util, os, signal, socket, subprocess, sys, time
import httpx
assert importlib.util.find_spec("torch") is None, "the serve extra brought torch"
root, profiles = sys.argv[1], sys.argv[2:]
rec = next(csv.DictReader(open("rows.csv")))
rec = {k: float(v) for k, v in rec.items() if k not in ("id", "price_range")}
for p in profiles:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    proc = subprocess.Popen(["pe", "serve", "--artifact", os.path.join(root, p), "--host",
                             "127.0.0.1", "--port", str(port)], stderr=subprocess.PIPE)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                sys.exit(f"{p}: pe serve exited {proc.returncode}: {proc.stderr.read().decode()[-800:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"{p}: not ready after 60 s")
            time.sleep(0.2)
        r = httpx.post(f"{url}/v1/predict", json={"records": [rec]}, timeout=10)
        if r.status_code != 200 or not r.json().get("predictions"):
            sys.exit(f"{p}: /v1/predict answered {r.status_code}: {r.text[:300]}")
        print(f"serve {p}: {r.json()['predictions'][0]}", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
EOF
log "ok in $((SECONDS - t0)) s (export ${t_export} s, venv + pip install . ${t_install} s); site-packages ${size_base} MB, with [serve] ${size_serve} MB; no torch"
