// Runtime ISA dispatch: the kernel table for this CPU, chosen once (cpuid on x86-64, capped by
// $PE_CPU_DISPATCH), and the pe_k:: free functions that run the chosen table's kernels.
#include <cstdlib>
#include <cstring>

#include "pe_kernels.h"
#include "pe_runtime.h"

namespace pe_k {

const KernelTable* table_base();
#if defined(PE_X86_DISPATCH)
const KernelTable* table_avx2();
const KernelTable* table_avx512();
const KernelTable* table_vnni();
#endif

namespace {

// The highest level this CPU (and OS: __builtin_cpu_supports checks the saved register state)
// can run. avx2 = AVX2 + FMA; avx512 = F, BW, DQ, VL (as Skylake-SP on); vnni = avx512 + VNNI.
int cpu_level() {
#if defined(PE_X86_DISPATCH)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return kBaseline;
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
    return kAvx2;
  return __builtin_cpu_supports("avx512vnni") ? kVnni : kAvx512;
#else
  return kBaseline;
#endif
}

int choose_level() {
  int level = cpu_level();
#if defined(PE_X86_DISPATCH)
  if (const char* want = std::getenv("PE_CPU_DISPATCH")) {  // forced, never above the CPU
    static const char* const kNames[] = {"baseline", "avx2", "avx512", "vnni"};
    for (int i = 0; i < 4; ++i)
      if (std::strcmp(want, kNames[i]) == 0 && i < level) level = i;
  }
#endif
  return level;
}

}  // namespace

const KernelTable* table_for(int level) {
  if (level < kBaseline || level > cpu_level()) return nullptr;
  switch (level) {
#if defined(PE_X86_DISPATCH)
    case kAvx2: return table_avx2();
    case kAvx512: return table_avx512();
    case kVnni: return table_vnni();
#endif
    case kBaseline: return table_base();
    default: return nullptr;
  }
}

int active_level() {
  static const int level = choose_level();
  return level;
}

const KernelTable& active() {
  static const KernelTable* const t = table_for(active_level());
  return *t;
}

void standardize(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                 const float* mean, const float* std) {
  active().standardize(rows, dim, x, xs, y, ys, mean, std);
}
void dense_f32(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
               const float* bias, float* y, size_t ys, bool accumulate) {
  active().dense_f32(rows, in, out, x, xs, wt, bias, y, ys, accumulate);
}
void dense_i8(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
              const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
              int8_t* qbuf, int32_t* acc) {
  active().dense_i8(rows, in, out, x, xs, wt, wscale, bias, y, ys, accumulate, qbuf, acc);
}
void dense_i8_split(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                    const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
                    int8_t* q1, int8_t* q2, float* r, int32_t* acc1, int32_t* acc2) {
  active().dense_i8_split(rows, in, out, x, xs, wt, wscale, bias, y, ys, accumulate, q1, q2, r, acc1, acc2);
}
float quantize_row(size_t n, const float* x, int8_t* q) { return active().quantize_row(n, x, q); }
void residual_row(size_t n, const float* x, const int8_t* q, float s, float* r) {
  active().residual_row(n, x, q, s, r);
}
void quantize_static(size_t rows, size_t dim, const float* x, size_t xs, uint8_t* y, size_t ys,
                     const float* inv_scale) {
  active().quantize_static(rows, dim, x, xs, y, ys, inv_scale);
}
void dense_q(size_t rows, size_t in, size_t out, const uint8_t* x, size_t xs, const int8_t* wq,
             const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
             bool accumulate) {
  active().dense_q(rows, in, out, x, xs, wq, bias, requant, dequant, y, ys, accumulate);
}
void quantize_static16(size_t rows, size_t dim, const float* x, size_t xs, int16_t* y, size_t ys,
                       const float* inv_scale) {
  active().quantize_static16(rows, dim, x, xs, y, ys, inv_scale);
}
void dense_q16(size_t rows, size_t in, size_t out, const int16_t* x, size_t xs, const int8_t* wq,
               const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
               bool accumulate, bool out16) {
  active().dense_q16(rows, in, out, x, xs, wq, bias, requant, dequant, y, ys, accumulate, out16);
}
void layernorm(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
               const float* gamma, const float* beta, float eps) {
  active().layernorm(rows, dim, x, xs, y, ys, gamma, beta, eps);
}
void relu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys) {
  active().relu(rows, dim, x, xs, y, ys);
}
void gelu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys) {
  active().gelu(rows, dim, x, xs, y, ys);
}

}  // namespace pe_k

extern "C" const char* pe_dispatch_level(void) { return pe_k::active().name; }
