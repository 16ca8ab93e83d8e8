// Internal: the compute kernels (fp32, dynamic int8, static int8) behind one table per
// instruction-set level. The bodies live once in pe_kernels_impl.h; each pe_kernels_<level>.cpp
// compiles them with its own flags, and pe_dispatch.cpp picks the table once (cpuid, capped by
// $PE_CPU_DISPATCH). The free functions below run the active table's kernel (tests call them).
#ifndef PE_KERNELS_H
#define PE_KERNELS_H

#include <cstddef>
#include <cstdint>

namespace pe_k {

struct KernelTable {
  const char* name;  // "baseline", "avx2", "avx512", "vnni"
  void (*standardize)(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                      const float* mean, const float* std);
  void (*dense_f32)(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
                    const float* bias, float* y, size_t ys, bool accumulate);
  void (*dense_i8)(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                   const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
                   int8_t* qbuf, int32_t* acc);
  void (*dense_i8_split)(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                         const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
                         int8_t* q1, int8_t* q2, float* r, int32_t* acc1, int32_t* acc2);
  float (*quantize_row)(size_t n, const float* x, int8_t* q);
  void (*residual_row)(size_t n, const float* x, const int8_t* q, float s, float* r);
  void (*quantize_static)(size_t rows, size_t dim, const float* x, size_t xs, uint8_t* y, size_t ys,
                          const float* inv_scale);
  void (*dense_q)(size_t rows, size_t in, size_t out, const uint8_t* x, size_t xs, const int8_t* wq,
                  const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
                  bool accumulate);
  void (*quantize_static16)(size_t rows, size_t dim, const float* x, size_t xs, int16_t* y, size_t ys,
                            const float* inv_scale);
  void (*dense_q16)(size_t rows, size_t in, size_t out, const int16_t* x, size_t xs, const int8_t* wq,
                    const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
                    bool accumulate, bool out16);
  void (*layernorm)(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                    const float* gamma, const float* beta, float eps);
  void (*relu)(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys);
  void (*gelu)(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys);
};

// Dispatch levels, lowest first. Each level's table exists only where it was compiled (x86-64).
enum Level : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2, kVnni = 3 };
// The level in use: chosen on the first call (pe_model_init makes that call) from cpuid, capped
// by $PE_CPU_DISPATCH=baseline|avx2|avx512|vnni; fixed for the life of the process.
const KernelTable& active();
int active_level();
const KernelTable* table_for(int level);  // nullptr where not compiled or not supported here

// y[r, :] = (x[r, :] - mean) / std
void standardize(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                 const float* mean, const float* std);
// y[r, :] (+)= x[r, :] @ wt + bias, wt stored [in, out] (transposed Linear weight); sums in
// double (or float where built with PE_ACCUM_FLOAT), in input order, bias first.
void dense_f32(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
               const float* bias, float* y, size_t ys, bool accumulate);
// int8 weights wt[in, out] with per-output-channel scales; each row quantised symmetrically
// (scale = max|x| / 127) into qbuf[in]; int32 accumulators in acc[out].
void dense_i8(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
              const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
              int8_t* qbuf, int32_t* acc);
// The two-pass activation split (DENSE flag kSplitActivations, FORMAT.md).
void dense_i8_split(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                    const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
                    int8_t* q1, int8_t* q2, float* r, int32_t* acc1, int32_t* acc2);
// r[i] = x[i] - float(q[i]) * s, the product and the difference each rounded to float (no FMA).
void residual_row(size_t n, const float* x, const int8_t* q, float s, float* r);
// Quantise one row; returns the scale (0 for an all-zero row).
float quantize_row(size_t n, const float* x, int8_t* q);
// Static QUANTIZE (format v2): y[i] = rint(clamp(x[i] * inv_scale[i], -128, 127)) + 128 as uint8
// (NaN -> 128); bytes [dim, round4(dim)) of each row set to 0.
void quantize_static(size_t rows, size_t dim, const float* x, size_t xs, uint8_t* y, size_t ys,
                     const float* inv_scale);
// Static int8 DENSE (format v2): acc[o] = bias[o] + sum_i x[i] * W[o, i] in int32, x uint8, W int8
// stored [round4(in)/4][out][4]. requant != null: y uint8 = clamp((acc * M + 2^(n-1)) >> n, 0,
// 255) with (M, n) = requant[2o], requant[2o + 1] (int64 arithmetic), padding bytes to round4(out)
// zeroed; else y float = float(acc) * dequant[o] (+ y when accumulate).
void dense_q(size_t rows, size_t in, size_t out, const uint8_t* x, size_t xs, const int8_t* wq,
             const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
             bool accumulate);
// W8A16 (format v3): y[i] = rint(clamp(x[i] * inv_scale[i], -32767, 32767)) as int16 (NaN -> 0);
// elements [dim, round4(dim)) of each row set to 0. ys in int16 elements.
void quantize_static16(size_t rows, size_t dim, const float* x, size_t xs, int16_t* y, size_t ys,
                       const float* inv_scale);
// Static DENSE on int16 activations (format v3), int8 W as dense_q, int32 sums (the exporter bounds
// them). requant != null: y = clamp((acc * M + 2^(n-1)) >> n, 0, out16 ? 32767 : 255) as int16 or
// uint8 (padding to round4(out) zeroed); else float(acc) * dequant[o] (+ y). xs, ys in elements.
void dense_q16(size_t rows, size_t in, size_t out, const int16_t* x, size_t xs, const int8_t* wq,
               const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
               bool accumulate, bool out16);
void layernorm(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
               const float* gamma, const float* beta, float eps);
void relu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys);
void gelu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys);

}  // namespace pe_k

struct pe_model;
// pe_run on a given kernel table (pe_run passes the active one; tests run every level in one
// process and compare the bits). Returns a pe_status.
int pe_run_with_table(const pe_model* m, const pe_k::KernelTable& k, void* arena, size_t arena_bytes,
                      const float* x, size_t rows, float* logits);
#endif
