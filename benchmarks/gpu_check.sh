#!/usr/bin/env bash
# GPU check: parity and the latency sweep for every target that can run on a GPU host that has
# PyTorch and ONNX Runtime. Installs nothing; runs the project from source
# (PYTHONPATH=<repo> python3 -m phoneprice_edge.cli ...), so it works where no venv exists.
#
#   benchmarks/gpu_check.sh OUT_DIR [RUN_DIR] [--dry-run]
#
# OUT_DIR    where everything is written: env.txt, run/ (when no RUN_DIR is given), parity-cpu/,
#            parity-cuda/, bench-cpu/ and bench-cuda/ reports, steps.tsv (each step's exit code), log.txt.
# RUN_DIR    an existing training run to use; otherwise a small run is trained on the built-in
#            synthetic data (the real data set is not on GPU hosts).
# --dry-run  a few seconds per step (tiny training, 0.01 s per point): checks the script itself.
# Without a CUDA device the CUDA steps are replaced by the CPU path, and the check that
# `--device cuda` fails clearly (exit 1, no report) is run instead: never a silent CPU run.
# Environment: PYTHON (default python3), EPOCHS (default 30), CPU_THREADS (default 1,<nproc>).
set -uo pipefail

usage() { echo "usage: $0 OUT_DIR [RUN_DIR] [--dry-run]" >&2; exit 2; }
DRY=0; ARGS=()
for a in "$@"; do
  case "$a" in --dry-run) DRY=1 ;; -h|--help) usage ;; *) ARGS+=("$a") ;; esac
done
[ "${#ARGS[@]}" -ge 1 ] && [ "${#ARGS[@]}" -le 2 ] || usage
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${ARGS[0]}" && cd "${ARGS[0]}" && pwd)"
RUN="${ARGS[1]:-$OUT/run}"
PY="${PYTHON:-python3}"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg
pe() { "$PY" -m phoneprice_edge.cli "$@"; }

if [ "$DRY" = 1 ]; then EPOCHS="${EPOCHS:-2}"; TIMING=(--min-time 0.01 --min-iters 10)
else EPOCHS="${EPOCHS:-30}"; TIMING=(); fi
CPU_THREADS="${CPU_THREADS:-1,$(nproc)}"
: > "$OUT/steps.tsv"
FAILED=0
step() {  # step NAME EXPECTED_RC CMD...: run, log, record the exit code; never abort the script
  local name="$1" want="$2"; shift 2
  echo "== $name: $*" | tee -a "$OUT/log.txt"
  "$@" >>"$OUT/log.txt" 2>&1; local rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$want" >> "$OUT/steps.tsv"
  if [ "$rc" != "$want" ]; then echo "   -> exit $rc (expected $want)" | tee -a "$OUT/log.txt"; FAILED=1; fi
  return 0
}

# 1. What this host has (recorded before anything can fail).
"$PY" - > "$OUT/env.txt" 2>&1 <<'PYEOF'
import json, platform, shutil, subprocess
out = {"python": platform.python_version(), "machine": platform.machine()}
try:
    import torch
    out["torch"] = torch.__version__
    out["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
        out["torch_cuda"] = torch.version.cuda
except Exception as exc:
    out["torch_error"] = repr(exc)
try:
    import onnxruntime as ort
    out["onnxruntime"] = ort.__version__
    out["ort_providers"] = ort.get_available_providers()
except Exception as exc:
    out["onnxruntime_error"] = repr(exc)
for mod in ("tensorrt", "openvino", "click", "matplotlib"):
    try:
        m = __import__(mod)
        out[mod] = getattr(m, "__version__", "present")
    except Exception:
        out[mod] = None
if shutil.which("nvidia-smi"):
    out["nvidia_smi"] = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip()
print(json.dumps(out, indent=2))
PYEOF
cat "$OUT/env.txt"
has() { "$PY" -c "$1" >/dev/null 2>&1; }
CUDA=0; has 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' && CUDA=1
ORT_GPU=0; has 'import onnxruntime as o, sys; p=o.get_available_providers(); sys.exit(0 if "CUDAExecutionProvider" in p else 1)' && ORT_GPU=1
TRT=0; has 'import tensorrt' && TRT=1
echo "cuda=$CUDA onnxruntime-cuda=$ORT_GPU tensorrt=$TRT dry_run=$DRY" | tee -a "$OUT/log.txt"

# 2. A run to export (unless one was given).
if [ ! -d "$RUN/checkpoints" ]; then
  step train 0 pe train --epochs "$EPOCHS" --out "$RUN" --quiet
fi

# 3. Export every profile that can run on a GPU host with torch + ONNX Runtime (+ TensorRT).
PROFILES=(torchscript-fp32 onnx-fp32 onnx-fp16)
[ "$TRT" = 1 ] && PROFILES+=(tensorrt-fp16 tensorrt-int8)
for p in "${PROFILES[@]}"; do step "export:$p" 0 pe export --run "$RUN" --profile "$p"; done

# 4. CPU: parity of every artifact, then the CPU sweep (for comparison with the GPU figures).
step parity-cpu 0 pe parity --run "$RUN" --all
mkdir -p "$OUT/parity-cpu" && cp -f "$RUN"/parity/*.json "$OUT/parity-cpu/" 2>/dev/null
step bench-cpu 0 pe bench --run "$RUN" --all --device cpu --reference --threads "$CPU_THREADS" \
     --out "$OUT/bench-cpu" "${TIMING[@]}"

# 5. CUDA: parity on the GPU of what can run there, then the CUDA sweep: the torch reference,
#    TorchScript, ORT's CUDA/TensorRT providers and TensorRT engines, whichever load (the rest is
#    listed under "Not timed" in the report). Without a GPU: check that cuda is refused clearly.
if [ "$CUDA" = 1 ]; then
  ARTS=(--artifact "$RUN/export/torchscript-fp32")
  [ "$ORT_GPU" = 1 ] && ARTS+=(--artifact "$RUN/export/onnx-fp32" --artifact "$RUN/export/onnx-fp16")
  [ "$TRT" = 1 ] && ARTS+=(--artifact "$RUN/export/tensorrt-fp16" --artifact "$RUN/export/tensorrt-int8")
  step parity-cuda 0 pe parity --run "$RUN" "${ARTS[@]}" --device cuda
  mkdir -p "$OUT/parity-cuda" && cp -f "$RUN"/parity/*.json "$OUT/parity-cuda/" 2>/dev/null
  step bench-cuda 0 pe bench --run "$RUN" --all --device cuda --reference \
       --batch-sizes 1,64,1024,8192 --out "$OUT/bench-cuda" "${TIMING[@]}"
else
  echo "no CUDA device here: checking that --device cuda is refused clearly (exit 1)" \
    | tee -a "$OUT/log.txt"
  step bench-cuda-refused 1 pe bench --run "$RUN" --all --device cuda --out "$OUT/bench-cuda" \
       "${TIMING[@]}"
  step parity-cuda-refused 1 pe parity --run "$RUN" --artifact "$RUN/export/torchscript-fp32" \
       --device cuda
fi

echo "== steps (name, exit code, expected)"; cat "$OUT/steps.tsv"
[ -f "$OUT/bench-cuda/report.md" ] && cat "$OUT/bench-cuda/report.md"
exit "$FAILED"
