// The compute kernels. Inner loops run over contiguous output channels with no reductions that
// need reassociation, so -O3 vectorises them without -ffast-math.
#include "pe_kernels.h"

#include <cmath>

namespace pe_k {

void standardize(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                 const float* __restrict mean, const float* __restrict std) {
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * xs;
    float* __restrict yr = y + r * ys;
    for (size_t i = 0; i < dim; ++i) yr[i] = (xr[i] - mean[i]) / std[i];
  }
}

// Accumulates a block of NB outputs in double (exact products of floats, one rounding per
// sum), so long dot products with cancellation stay within float rounding of PyTorch's result.
template <size_t NB>
static inline void dense_block(size_t in, size_t out, const float* __restrict xr,
                               const float* __restrict wt, double* __restrict acc) {
  for (size_t i = 0; i < in; ++i) {
    const double xv = xr[i];
    const float* __restrict w = wt + i * out;
    for (size_t j = 0; j < NB; ++j) acc[j] += xv * double(w[j]);
  }
}

static inline void dense_tail(size_t in, size_t out, size_t nb, const float* __restrict xr,
                              const float* __restrict wt, double* __restrict acc) {
  for (size_t i = 0; i < in; ++i) {
    const double xv = xr[i];
    const float* __restrict w = wt + i * out;
    for (size_t j = 0; j < nb; ++j) acc[j] += xv * double(w[j]);
  }
}

// nb (<= NB) consecutive outputs: bias, sums, write-out. Called with nb == NB the width is a
// compile-time constant and the loops vectorise; the 1-3 wide tail passes a smaller nb.
template <size_t NB>
static inline void dense_out_block(size_t in, size_t out, size_t nb, const float* __restrict xr,
                                   const float* __restrict wt, const float* bias, float* __restrict yr,
                                   bool accumulate) {
  double acc[NB];
  for (size_t j = 0; j < nb; ++j) acc[j] = bias ? double(bias[j]) : 0.0;
  if (nb == NB) dense_block<NB>(in, out, xr, wt, acc);
  else dense_tail(in, out, nb, xr, wt, acc);
  for (size_t j = 0; j < nb; ++j) yr[j] = accumulate ? yr[j] + float(acc[j]) : float(acc[j]);
}

void dense_f32(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
               const float* bias, float* y, size_t ys, bool accumulate) {
  constexpr size_t kB = 16;
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * xs;
    float* __restrict yr = y + r * ys;
    size_t o0 = 0;
    for (; o0 + kB <= out; o0 += kB)
      dense_out_block<kB>(in, out, kB, xr, wt + o0, bias ? bias + o0 : nullptr, yr + o0, accumulate);
    for (; o0 < out; o0 += 4)  // 4-wide blocks, the last one possibly 1-3 wide
      dense_out_block<4>(in, out, out - o0 < 4 ? out - o0 : 4, xr, wt + o0, bias ? bias + o0 : nullptr,
                         yr + o0, accumulate);
  }
}

#if defined(__GNUC__) || defined(__clang__)
#define PE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PE_ALWAYS_INLINE inline
#endif

// quantize_row's body, inlined into quantize_row and into dense_i8_split (whose other compile
// options keep GCC from inlining quantize_row itself there): one function, no call per pass.
static PE_ALWAYS_INLINE float quantize_row_impl(size_t n, const float* __restrict x, int8_t* __restrict q) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    m = a > m ? a : m;  // NaN never wins a comparison
  }
  if (!(m > 0.0f) || !std::isfinite(m)) {
    for (size_t i = 0; i < n; ++i) q[i] = 0;
    return std::isfinite(m) ? 0.0f : m;
  }
  const float inv = 127.0f / m;
  // Round half to even (what std::nearbyint and NumPy's rint do in the default rounding mode) by
  // adding and subtracting 1.5 * 2^23: exact for |v| < 2^22, and inlined and vectorised, where
  // std::nearbyint is a libm call per element without SSE4.1. |x * inv| <= 127 here except for
  // non-finite x, which the clamp and the NaN test below handle as before.
  constexpr float kRound = 12582912.0f;
  for (size_t i = 0; i < n; ++i) {
    const float s = x[i] * inv;
    float v = std::fabs(s) < 4194304.0f ? (s + kRound) - kRound : s;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[i] = static_cast<int8_t>(v == v ? v : 0.0f);
  }
  return m / 127.0f;
}

float quantize_row(size_t n, const float* __restrict x, int8_t* __restrict q) { return quantize_row_impl(n, x, q); }

void dense_i8(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
              const float* __restrict wscale, const float* __restrict bias, float* y, size_t ys,
              bool accumulate, int8_t* __restrict qbuf, int32_t* __restrict acc) {
  for (size_t r = 0; r < rows; ++r) {
    const float sx = quantize_row(in, x + r * xs, qbuf);
    for (size_t o = 0; o < out; ++o) acc[o] = 0;
    for (size_t i = 0; i < in; ++i) {
      const int32_t qv = qbuf[i];
      const int8_t* __restrict w = wt + i * out;
      for (size_t o = 0; o < out; ++o) acc[o] += qv * int32_t(w[o]);
    }
    float* __restrict yr = y + r * ys;
    for (size_t o = 0; o < out; ++o) {
      const float v = float(acc[o]) * (sx * wscale[o]) + (bias ? bias[o] : 0.0f);
      yr[o] = accumulate ? yr[o] + v : v;
    }
  }
}

// The split kernel rounds every float product and sum exactly as written, as the NumPy reference
// (export/cpp_pem.py) does: an FMA would change the residual, and so q2 and the output. GCC
// contracts a * b + c into an FMA across statements by default in C++ (-ffp-contract=fast, even
// with -std=c++17) wherever the target has one (aarch64; x86-64 with PE_NATIVE / -march=native);
// clang does within one expression. Both are switched off for the two functions below only, so
// every other kernel compiles exactly as before.
#if defined(__clang__)
#define PE_NO_FP_CONTRACT_FN
#define PE_NO_FP_CONTRACT_BODY _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define PE_NO_FP_CONTRACT_FN __attribute__((optimize("fp-contract=off")))
#define PE_NO_FP_CONTRACT_BODY
#else
#define PE_NO_FP_CONTRACT_FN
#define PE_NO_FP_CONTRACT_BODY
#endif

PE_NO_FP_CONTRACT_FN
void residual_row(size_t n, const float* __restrict x, const int8_t* __restrict q, float s,
                  float* __restrict r) {
  PE_NO_FP_CONTRACT_BODY
  for (size_t i = 0; i < n; ++i) {
    const float p = float(q[i]) * s;
    r[i] = x[i] - p;
  }
}

// Same loop structure as dense_i8: per row, both quantised copies of the input, then one pass over
// the weights feeding two int32 accumulator rows (each weight loaded once for its two MACs).
PE_NO_FP_CONTRACT_FN
void dense_i8_split(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                    const float* __restrict wscale, const float* __restrict bias, float* y, size_t ys,
                    bool accumulate, int8_t* __restrict q1, int8_t* __restrict q2, float* __restrict res,
                    int32_t* __restrict acc1, int32_t* __restrict acc2) {
  PE_NO_FP_CONTRACT_BODY
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    const float s1 = quantize_row_impl(in, xr, q1);
    residual_row(in, xr, q1, s1, res);
    const float s2 = quantize_row_impl(in, res, q2);
    for (size_t o = 0; o < out; ++o) acc1[o] = acc2[o] = 0;
    for (size_t i = 0; i < in; ++i) {
      const int32_t a = q1[i], b = q2[i];
      const int8_t* __restrict w = wt + i * out;
      for (size_t o = 0; o < out; ++o) {
        const int32_t wv = w[o];
        acc1[o] += a * wv;
        acc2[o] += b * wv;
      }
    }
    float* __restrict yr = y + r * ys;
    for (size_t o = 0; o < out; ++o) {
      const float coarse = float(acc1[o]) * s1;
      const float fine = float(acc2[o]) * s2;
      const float v = (coarse + fine) * wscale[o] + (bias ? bias[o] : 0.0f);
      yr[o] = accumulate ? yr[o] + v : v;
    }
  }
}

void layernorm(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
               const float* __restrict gamma, const float* __restrict beta, float eps) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    float* yr = y + r * ys;
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < dim; ++i) s += xr[i];
    const float mean = float(s / double(dim));
    for (size_t i = 0; i < dim; ++i) {
      const double d = double(xr[i] - mean);
      s2 += d * d;
    }
    const float inv = 1.0f / std::sqrt(float(s2 / double(dim)) + eps);
    for (size_t i = 0; i < dim; ++i) yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
  }
}

void relu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    float* yr = y + r * ys;
    for (size_t i = 0; i < dim; ++i) yr[i] = xr[i] > 0.0f ? xr[i] : 0.0f;
  }
}

void gelu(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys) {
  const float k = 0.70710678118654752f;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    float* yr = y + r * ys;
    for (size_t i = 0; i < dim; ++i) yr[i] = 0.5f * xr[i] * (1.0f + std::erf(xr[i] * k));
  }
}

}  // namespace pe_k
