#!/usr/bin/env bash
# Cortex-M4 instructions per row of the core runtime under QEMU (mps2-an386, -icount shift=0):
# the default recipe model (PE_M4_MODEL=mlp_20_64_4: the other run_bench.py model) fp32
# (PE_ACCUM_FLOAT=1, float accumulators) and static int8, built
# with arm-none-eabi-gcc (Debian gcc-arm-none-eabi + libnewlib-arm-none-eabi, qemu-system-arm).
# Prints instructions per row, and whether the int8 logits equal the x86 runtime's bit for bit.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
OUT=${PE_M4_OUT:-$ROOT/cpp_runtime/build/cortex_m4}
OPT=${PE_M4_OPT:--O2}
mkdir -p "$OUT"
PYTHONPATH=$ROOT "$ROOT/.venv/bin/python" benchmarks/cpp/cortex_m4/gen.py "$OUT" "${PE_M4_MODEL:-default}" >/dev/null
FLAGS=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 "$OPT" -ffp-contract=off
       -ffunction-sections -fdata-sections -DPE_ACCUM_FLOAT=1 -Icpp_runtime/include -Icpp_runtime/src)
SRC=(cpp_runtime/src/pe_loader.cpp cpp_runtime/src/pe_graph.cpp cpp_runtime/src/pe_dispatch.cpp
     cpp_runtime/src/pe_kernels_base.cpp cpp_runtime/src/pe_crc32.cpp)
for prec in fp32 int8; do
  d=$OUT/$prec
  objs=()
  for s in "${SRC[@]}"; do
    o=$d/$(basename "$s").o
    arm-none-eabi-g++ "${FLAGS[@]}" -std=c++17 -fno-exceptions -fno-rtti -c "$s" -o "$o"
    objs+=("$o")
  done
  arm-none-eabi-gcc "${FLAGS[@]}" -I"$d" -I"$OUT" -c benchmarks/cpp/cortex_m4/fw.c -o "$d/fw.o"
  arm-none-eabi-g++ "${FLAGS[@]}" -nostartfiles --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \
    -T benchmarks/cpp/cortex_m4/link.ld "$d/fw.o" "${objs[@]}" -lm -o "$d/fw.elf"
  res=$(timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none -icount shift=0 \
        -semihosting-config enable=on,target=native -kernel "$d/fw.elf" 2>&1)
  ipr=$(echo "$res" | awk '/instructions_per_row/ {print $2}')
  hash=$(echo "$res" | awk '/logits_fnv1a/ {print $2}')
  text=$(arm-none-eabi-size "$d/fw.elf" | awk 'NR==2 {print $1}')
  same="differs from"; [ "$hash" = "$(cat "$d/x86_hash")" ] && same="bitwise equal to"
  echo "cortex-m4 ${PE_M4_MODEL:-default} $prec ($OPT): $ipr instructions/row; logits $same x86 (hash $hash); text $text bytes"
done
