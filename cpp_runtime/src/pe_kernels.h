// Internal: the compute kernels (fp32 and int8), written as plain loops the compiler vectorises.
#ifndef PE_KERNELS_H
#define PE_KERNELS_H

#include <cstddef>
#include <cstdint>

namespace pe_k {

// y[r, :] = (x[r, :] - mean) / std
void standardize(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                 const float* mean, const float* std);
// y[r, :] (+)= x[r, :] @ wt + bias, wt stored [in, out] (transposed Linear weight).
void dense_f32(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
               const float* bias, float* y, size_t ys, bool accumulate);
// int8 weights wt[in, out] with per-output-channel scales; each row quantised symmetrically
// (scale = max|x| / 127) into qbuf[in]; int32 accumulators in acc[out].
void dense_i8(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
              const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
              int8_t* qbuf, int32_t* acc);
// The two-pass activation split (DENSE flag kSplitActivations, FORMAT.md): per row, q1 = the
// quantised x (scale s1), r = x - q1 * s1 in float32, q2 = the quantised r (scale s2), both passes
// through the same int8 weights (int32 acc1, acc2), y = (acc1 * s1 + acc2 * s2) * wscale + bias.
// Buffers: q1, q2 int8[in]; r float[in]; acc1, acc2 int32[out].
void dense_i8_split(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                    const float* wscale, const float* bias, float* y, size_t ys, bool accumulate,
                    int8_t* q1, int8_t* q2, float* r, int32_t* acc1, int32_t* acc2);
// r[i] = x[i] - float(q[i]) * s, the product and the difference each rounded to float (no FMA).
void residual_row(size_t n, const float* x, const int8_t* q, float s, float* r);
// Quantise one row; returns the scale (0 for an all-zero row).
float quantize_row(size_t n, const float* x, int8_t* q);
void layernorm(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
               const float* gamma, const float* beta, float eps);
void relu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys);
void gelu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys);

}  // namespace pe_k
#endif
