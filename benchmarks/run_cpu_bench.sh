#!/usr/bin/env bash
# Regenerate the recorded CPU benchmark (benchmarks/cpu/report.{json,md}, latency.png).
#
#   benchmarks/run_cpu_bench.sh [RUN_DIR]
#
# Without RUN_DIR: reuses runs/bench-cpu when it holds a trained model; else trains it there on the
# real phone data set when it lies beside the checkout (../shared/data/mobile_price_train.csv),
# else on the built-in synthetic data.
# Then exports every profile this host can build (pe-export --all), checks parity, and times
# every CPU artifact plus the eager PyTorch reference at batch 1, 64 and 1024 on 1 thread.
# Extra pe-bench options go in BENCH_OPTS (e.g. BENCH_OPTS="--threads 1,2 --min-time 2").
# Run it on a quiet machine: the figures are only as good as the machine is idle.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
pe() { "$PY" -m phoneprice_edge.cli "$@"; }
RUN="${1:-}"
if [ -z "$RUN" ]; then
  RUN="runs/bench-cpu"
  REAL="$REPO/../shared/data/mobile_price_train.csv"
  if [ -f "$RUN/checkpoints/best_model.pt" ]; then
    echo "reusing the trained run in $RUN (delete it to retrain)"
  else
    if [ -f "$REAL" ]; then DATA=(--data "$REAL" --label price_range); else DATA=(); fi
    pe train "${DATA[@]}" --out "$RUN"
  fi
fi
pe export --run "$RUN" --all
pe parity --run "$RUN" --all || echo "note: some parity checks failed; see $RUN/parity/" >&2
# shellcheck disable=SC2086
pe bench --run "$RUN" --all --reference --batch-sizes 1,64,1024 ${BENCH_OPTS:-}
mkdir -p benchmarks/cpu
cp "$RUN/bench/report.json" "$RUN/bench/report.md" "$RUN/bench/latency.png" benchmarks/cpu/
echo "recorded in benchmarks/cpu/ (from $RUN)"
