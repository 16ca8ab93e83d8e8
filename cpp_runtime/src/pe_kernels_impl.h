// The kernel bodies, written once. Each pe_kernels_<level>.cpp defines PE_KNS (its namespace),
// PE_KTABLE (the name of its table function) and PE_DENSE_ROWS (rows per register block of the
// batch fp32 kernel), then includes this file; CMake compiles that file with the level's flags
// (baseline, -mavx2 -mfma, AVX-512, AVX-512 VNNI), always with -ffp-contract=off. Everything
// here is in an anonymous namespace and uses compiler builtins rather than std:: inline
// functions, so no code compiled for a higher level can be shared with a lower one by the linker.
//
// Results do not depend on the level: fp32 sums are double (PE_ACCUM_FLOAT=0), whose products
// of two floats are exact, so fma(a, b, c) and c + a * b round identically; every sum runs in
// input order from the bias; all other float steps are single IEEE operations (no contraction).
// The int8 paths are integer arithmetic apart from the float steps listed in FORMAT.md.
#include <cstring>

#include "pe_kernels.h"

#if defined(__GNUC__) || defined(__clang__)
#define PE_INLINE inline __attribute__((always_inline))
#define PE_FABSF(x) __builtin_fabsf(x)
#define PE_ISFINITE(x) __builtin_isfinite(x)
#define PE_ERFF(x) __builtin_erff(x)
#define PE_SQRTF(x) __builtin_sqrtf(x)
#else
#include <cmath>
#define PE_INLINE inline
#define PE_FABSF(x) std::fabs(x)
#define PE_ISFINITE(x) std::isfinite(x)
#define PE_ERFF(x) std::erf(x)
#define PE_SQRTF(x) std::sqrt(x)
#endif

#ifndef PE_ACCUM_FLOAT
#define PE_ACCUM_FLOAT 0
#endif

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define PE_DENSE_Q_VNNI 1
#elif defined(__ARM_FEATURE_DSP) && !defined(__aarch64__)
#define PE_DENSE_Q_DSP 1
#include <arm_acle.h>
#endif

namespace pe_k {
namespace PE_KNS {
namespace {

#if PE_ACCUM_FLOAT
using acc_t = float;  // microcontrollers with a single-precision FPU (CMake PE_FLOAT_ACCUM=ON)
#else
using acc_t = double;
#endif

// c + a * b. With double accumulators the product of two floats is exact, so the fused form
// (one instruction where the level has FMA) gives the same bits as the separate one.
PE_INLINE acc_t madd(acc_t a, acc_t b, acc_t c) {
#if !PE_ACCUM_FLOAT && defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_fma(a, b, c);
#else
  return c + a * b;
#endif
}

void standardize(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
                 const float* __restrict mean, const float* __restrict std) {
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * xs;
    float* __restrict yr = y + r * ys;
    for (size_t i = 0; i < dim; ++i) yr[i] = (xr[i] - mean[i]) / std[i];
  }
}

// R rows x nb (<= NB) consecutive outputs: bias, sums over the inputs in order, write-out. With
// nb == NB the widths are compile-time constants and the loops vectorise across outputs; each
// weight vector is converted once and used for the R rows. Every output's sum is the same
// sequence of operations whatever R is, so a row alone gives its batch answer bit for bit.
template <size_t NB, size_t R>
PE_INLINE void dense_tile(size_t in, size_t out, size_t nb, const float* __restrict x, size_t xs,
                          const float* __restrict wt, const float* bias, float* __restrict y, size_t ys,
                          bool accumulate) {
  acc_t acc[R][NB];
  for (size_t r = 0; r < R; ++r)
    for (size_t j = 0; j < NB; ++j) acc[r][j] = (bias && j < nb) ? acc_t(bias[j]) : acc_t(0);
  if (nb == NB && R == 1) {
    for (size_t i = 0; i < in; ++i) {
      const float* __restrict w = wt + i * out;
      const acc_t xv = acc_t(x[i]);
      for (size_t j = 0; j < NB; ++j) acc[0][j] = madd(xv, acc_t(w[j]), acc[0][j]);
    }
  } else if (nb == NB) {
    for (size_t i = 0; i < in; ++i) {
      const float* __restrict w = wt + i * out;
      acc_t wv[NB];
      for (size_t j = 0; j < NB; ++j) wv[j] = acc_t(w[j]);
      for (size_t r = 0; r < R; ++r) {
        const acc_t xv = acc_t(x[r * xs + i]);
        for (size_t j = 0; j < NB; ++j) acc[r][j] = madd(xv, wv[j], acc[r][j]);
      }
    }
  } else {
    for (size_t i = 0; i < in; ++i) {
      const float* __restrict w = wt + i * out;
      for (size_t r = 0; r < R; ++r) {
        const acc_t xv = acc_t(x[r * xs + i]);
        for (size_t j = 0; j < nb; ++j) acc[r][j] = madd(xv, acc_t(w[j]), acc[r][j]);
      }
    }
  }
  for (size_t r = 0; r < R; ++r)
    for (size_t j = 0; j < nb; ++j) {
      float* yo = y + r * ys + j;
      *yo = accumulate ? *yo + float(acc[r][j]) : float(acc[r][j]);
    }
}

#ifndef PE_DENSE_BLOCK
#define PE_DENSE_BLOCK 16  // outputs per block; a level may set fewer (register count)
#endif

template <size_t R>
PE_INLINE void dense_rows(size_t in, size_t out, const float* x, size_t xs, const float* wt,
                          const float* bias, float* y, size_t ys, bool accumulate) {
  constexpr size_t kB = PE_DENSE_BLOCK;
  size_t o0 = 0;
  for (; o0 + kB <= out; o0 += kB)
    dense_tile<kB, R>(in, out, kB, x, xs, wt + o0, bias ? bias + o0 : nullptr, y + o0, ys, accumulate);
  for (; o0 < out; o0 += 4)  // 4-wide blocks, the last one possibly 1-3 wide
    dense_tile<4, R>(in, out, out - o0 < 4 ? out - o0 : 4, x, xs, wt + o0, bias ? bias + o0 : nullptr,
                     y + o0, ys, accumulate);
}

void dense_f32(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
               const float* bias, float* y, size_t ys, bool accumulate) {
  constexpr size_t R = PE_DENSE_ROWS;
  size_t r = 0;
  if (R > 1)
    for (; r + R <= rows; r += R) dense_rows<R>(in, out, x + r * xs, xs, wt, bias, y + r * ys, ys, accumulate);
  for (; r < rows; ++r) dense_rows<1>(in, out, x + r * xs, xs, wt, bias, y + r * ys, ys, accumulate);
}

#if defined(__AVX512F__) && defined(__AVX512VL__) && !PE_ACCUM_FLOAT
// AVX-512: the same sums as dense_tile (bias, then fma over the inputs in order, in double), with
// the R rows' inputs converted to double once per tile (broadcast straight from memory), 16- and
// 8-output blocks in zmm, 4-output blocks (masked for a 1-3 tail) in ymm. Bit-identical to the
// portable form: fma of an exact product, float(double) and float additions are the same.
constexpr size_t kXdMax = 512;  // inputs per row pre-converted on the stack; wider layers: dense_rows

PE_INLINE __m256 out_f32(__m512d a, const float* y, bool accumulate) {
  const __m256 v = _mm512_cvtpd_ps(a);
  return accumulate ? _mm256_add_ps(_mm256_loadu_ps(y), v) : v;
}

template <size_t R>
PE_INLINE void f32_rows_512(size_t in, size_t out, const double* xd, const float* wt, const float* bias,
                            float* y, size_t ys, bool accumulate) {
  size_t o0 = 0;
  for (; o0 + 16 <= out; o0 += 16) {
    for (size_t r0 = 0; r0 < R; r0 += (R < 4 ? R : 4)) {
      constexpr size_t Q = R < 4 ? R : 4;
      __m512d a[Q][2];
      const __m512d b0 = bias ? _mm512_cvtps_pd(_mm256_loadu_ps(bias + o0)) : _mm512_setzero_pd();
      const __m512d b1 = bias ? _mm512_cvtps_pd(_mm256_loadu_ps(bias + o0 + 8)) : _mm512_setzero_pd();
      for (size_t r = 0; r < Q; ++r) a[r][0] = b0, a[r][1] = b1;
      for (size_t i = 0; i < in; ++i) {
        const float* w = wt + i * out + o0;
        const __m512d w0 = _mm512_cvtps_pd(_mm256_loadu_ps(w)), w1 = _mm512_cvtps_pd(_mm256_loadu_ps(w + 8));
        for (size_t r = 0; r < Q; ++r) {
          const __m512d xv = _mm512_set1_pd(xd[(r0 + r) * in + i]);
          a[r][0] = _mm512_fmadd_pd(xv, w0, a[r][0]);
          a[r][1] = _mm512_fmadd_pd(xv, w1, a[r][1]);
        }
      }
      for (size_t r = 0; r < Q; ++r) {
        float* yr = y + (r0 + r) * ys + o0;
        _mm256_storeu_ps(yr, out_f32(a[r][0], yr, accumulate));
        _mm256_storeu_ps(yr + 8, out_f32(a[r][1], yr + 8, accumulate));
      }
    }
  }
  for (; o0 + 8 <= out; o0 += 8) {
    __m512d a[R];
    const __m512d b = bias ? _mm512_cvtps_pd(_mm256_loadu_ps(bias + o0)) : _mm512_setzero_pd();
    for (size_t r = 0; r < R; ++r) a[r] = b;
    for (size_t i = 0; i < in; ++i) {
      const __m512d w = _mm512_cvtps_pd(_mm256_loadu_ps(wt + i * out + o0));
      for (size_t r = 0; r < R; ++r) a[r] = _mm512_fmadd_pd(_mm512_set1_pd(xd[r * in + i]), w, a[r]);
    }
    for (size_t r = 0; r < R; ++r) {
      float* yr = y + r * ys + o0;
      _mm256_storeu_ps(yr, out_f32(a[r], yr, accumulate));
    }
  }
  for (; o0 < out; o0 += 4) {
    const size_t nb = out - o0 < 4 ? out - o0 : 4;
    const __mmask8 k = static_cast<__mmask8>((1u << nb) - 1);
    __m256d a[R];
    const __m256d b = bias ? _mm256_cvtps_pd(_mm_maskz_loadu_ps(k, bias + o0)) : _mm256_setzero_pd();
    for (size_t r = 0; r < R; ++r) a[r] = b;
    for (size_t i = 0; i < in; ++i) {
      const __m256d w = _mm256_cvtps_pd(_mm_maskz_loadu_ps(k, wt + i * out + o0));
      for (size_t r = 0; r < R; ++r) a[r] = _mm256_fmadd_pd(_mm256_set1_pd(xd[r * in + i]), w, a[r]);
    }
    for (size_t r = 0; r < R; ++r) {
      float* yr = y + r * ys + o0;
      __m128 v = _mm256_cvtpd_ps(a[r]);
      if (accumulate) v = _mm_add_ps(_mm_maskz_loadu_ps(k, yr), v);
      _mm_mask_storeu_ps(yr, k, v);
    }
  }
}

template <size_t R>
PE_INLINE void f32_tile_512(size_t in, size_t out, const float* x, size_t xs, const float* wt, const float* bias,
                            float* y, size_t ys, bool accumulate) {
  alignas(64) double xd[R * kXdMax];
  for (size_t r = 0; r < R; ++r)
    for (size_t i = 0; i < in; ++i) xd[r * in + i] = double(x[r * xs + i]);
  f32_rows_512<R>(in, out, xd, wt, bias, y, ys, accumulate);
}

// Batches of kPrepackRows rows and more (below that the per-call conversion costs more than it
// saves): the weights pre-converted to double once per call (a column chunk
// of at most kWdMax doubles at a time, each row of the chunk padded to a multiple of 8 with
// zeros), then register blocks of 8 rows x C zmm (C = 3, 2, 1: 24, 16, 8 outputs; a last block
// of 1-7 outputs masked): per input, C weight loads and 8 broadcasts feed 8C FMAs, and no
// conversion is left in the loop. The same sums in the same order as above, so the same bits.
constexpr size_t kWdMax = 4096;  // 32 KiB
constexpr size_t kPrepackRows = 128;

template <size_t R, size_t C, bool kTail>
PE_INLINE void f32_block_pd(size_t in, size_t ldw, const double* xd, const double* wd, const float* bias,
                            size_t nb, float* y, size_t ys, bool accumulate) {
  const __mmask8 kt = static_cast<__mmask8>(kTail ? (1u << nb) - 1 : 0xffu);
  __m512d a[R][C];
  for (size_t c = 0; c < C; ++c) {
    const __m512d b = !bias ? _mm512_setzero_pd()
                      : kTail ? _mm512_cvtps_pd(_mm256_maskz_loadu_ps(kt, bias + 8 * c))
                              : _mm512_cvtps_pd(_mm256_loadu_ps(bias + 8 * c));
    for (size_t r = 0; r < R; ++r) a[r][c] = b;
  }
  for (size_t i = 0; i < in; ++i) {
    __m512d w[C];
    for (size_t c = 0; c < C; ++c) w[c] = _mm512_load_pd(wd + i * ldw + 8 * c);
    for (size_t r = 0; r < R; ++r) {
      const __m512d xv = _mm512_set1_pd(xd[r * in + i]);
      for (size_t c = 0; c < C; ++c) a[r][c] = _mm512_fmadd_pd(xv, w[c], a[r][c]);
    }
  }
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) {
      float* yr = y + r * ys + 8 * c;
      const __m256 v = _mm512_cvtpd_ps(a[r][c]);
      if (kTail) {
        _mm256_mask_storeu_ps(yr, kt, accumulate ? _mm256_add_ps(_mm256_maskz_loadu_ps(kt, yr), v) : v);
      } else {
        _mm256_storeu_ps(yr, accumulate ? _mm256_add_ps(_mm256_loadu_ps(yr), v) : v);
      }
    }
}

// R rows (inputs in xd, double) x the cw outputs of one pre-converted chunk (wd, row stride ldw).
template <size_t R>
PE_INLINE void f32_chunk_pd(size_t in, size_t cw, size_t ldw, const double* xd, const double* wd,
                            const float* bias, float* y, size_t ys, bool accumulate) {
  size_t o = 0;
  for (; o + 24 <= cw; o += 24)
    f32_block_pd<R, 3, false>(in, ldw, xd, wd + o, bias ? bias + o : nullptr, 24, y + o, ys, accumulate);
  if (o + 16 <= cw) {
    f32_block_pd<R, 2, false>(in, ldw, xd, wd + o, bias ? bias + o : nullptr, 16, y + o, ys, accumulate);
    o += 16;
  }
  if (o + 8 <= cw) {
    f32_block_pd<R, 1, false>(in, ldw, xd, wd + o, bias ? bias + o : nullptr, 8, y + o, ys, accumulate);
    o += 8;
  }
  if (o < cw)
    f32_block_pd<R, 1, true>(in, ldw, xd, wd + o, bias ? bias + o : nullptr, cw - o, y + o, ys, accumulate);
}

void dense_f32_512(size_t rows, size_t in, size_t out, const float* x, size_t xs, const float* wt,
                   const float* bias, float* y, size_t ys, bool accumulate) {
  if (in > kXdMax) return dense_f32(rows, in, out, x, xs, wt, bias, y, ys, accumulate);
  constexpr size_t R = 8;
  size_t r = 0;
  if (rows >= kPrepackRows) {
    alignas(64) double wd[kWdMax];
    alignas(64) double xd[R * kXdMax];
    const size_t full = in * ((out + 7) & ~size_t(7)) <= kWdMax ? out : (kWdMax / in) & ~size_t(7);
    for (size_t c0 = 0; c0 < out; c0 += full) {
      const size_t cw = out - c0 < full ? out - c0 : full, ldw = (cw + 7) & ~size_t(7);
      for (size_t i = 0; i < in; ++i) {
        const float* __restrict w = wt + i * out + c0;
        double* __restrict d = wd + i * ldw;
        for (size_t j = 0; j < cw; ++j) d[j] = double(w[j]);
        for (size_t j = cw; j < ldw; ++j) d[j] = 0.0;
      }
      for (r = 0; r + R <= rows; r += R) {
        for (size_t k = 0; k < R; ++k)
          for (size_t i = 0; i < in; ++i) xd[k * in + i] = double(x[(r + k) * xs + i]);
        f32_chunk_pd<R>(in, cw, ldw, xd, wd, bias ? bias + c0 : nullptr, y + r * ys + c0, ys, accumulate);
      }
    }
  } else {
    for (; r + R <= rows; r += R) f32_tile_512<R>(in, out, x + r * xs, xs, wt, bias, y + r * ys, ys, accumulate);
  }
  for (; r < rows; ++r) f32_tile_512<1>(in, out, x + r * xs, xs, wt, bias, y + r * ys, ys, accumulate);
}
#define PE_DENSE_F32 dense_f32_512
#else
#define PE_DENSE_F32 dense_f32
#endif

// Dynamic per-row quantisation (round half to even by adding and subtracting 1.5 * 2^23: exact
// for |v| < 2^22, inlined and vectorised where std::nearbyint would be a libm call).
PE_INLINE float quantize_row_impl(size_t n, const float* __restrict x, int8_t* __restrict q) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float a = PE_FABSF(x[i]);
    m = a > m ? a : m;  // NaN never wins a comparison
  }
  if (!(m > 0.0f) || !PE_ISFINITE(m)) {
    for (size_t i = 0; i < n; ++i) q[i] = 0;
    return PE_ISFINITE(m) ? 0.0f : m;
  }
  const float inv = 127.0f / m;
  constexpr float kRound = 12582912.0f;
  for (size_t i = 0; i < n; ++i) {
    const float s = x[i] * inv;
    float v = PE_FABSF(s) < 4194304.0f ? (s + kRound) - kRound : s;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[i] = static_cast<int8_t>(v == v ? v : 0.0f);
  }
  return m / 127.0f;
}

float quantize_row(size_t n, const float* x, int8_t* q) { return quantize_row_impl(n, x, q); }

void dense_i8(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
              const float* __restrict wscale, const float* __restrict bias, float* y, size_t ys,
              bool accumulate, int8_t* __restrict qbuf, int32_t* __restrict acc) {
  for (size_t r = 0; r < rows; ++r) {
    const float sx = quantize_row_impl(in, x + r * xs, qbuf);
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

PE_INLINE void residual_row_impl(size_t n, const float* __restrict x, const int8_t* __restrict q, float s,
                                 float* __restrict r) {
  for (size_t i = 0; i < n; ++i) {
    const float p = float(q[i]) * s;
    r[i] = x[i] - p;
  }
}

void residual_row(size_t n, const float* x, const int8_t* q, float s, float* r) { residual_row_impl(n, x, q, s, r); }

// The split kernel rounds every float product and sum exactly as written, as the NumPy reference
// (export/cpp_pem.py) does; the file is compiled with -ffp-contract=off, so no FMA is formed.
void dense_i8_split(size_t rows, size_t in, size_t out, const float* x, size_t xs, const int8_t* wt,
                    const float* __restrict wscale, const float* __restrict bias, float* y, size_t ys,
                    bool accumulate, int8_t* __restrict q1, int8_t* __restrict q2, float* __restrict res,
                    int32_t* __restrict acc1, int32_t* __restrict acc2) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    const float s1 = quantize_row_impl(in, xr, q1);
    residual_row_impl(in, xr, q1, s1, res);
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

// ---- static int8 (format v2): uint8 activations, int8 weights, int32 sums ----

PE_INLINE size_t round4(size_t n) { return (n + 3) & ~size_t(3); }

// QUANTIZE's output types: uint8 = int8 + 128 (format v2), int16 symmetric with no offset (format
// v3, W8A16); the clamp range of each.
template <typename T> struct QOut;
template <> struct QOut<uint8_t> {
  static constexpr float lo = -128.0f, hi = 127.0f;
  static constexpr int32_t zp = 128;
};
template <> struct QOut<int16_t> {
  static constexpr float lo = -32767.0f, hi = 32767.0f;
  static constexpr int32_t zp = 0;
};

// x * inv_scale, clamped, NaN -> 0, rounded half to even by the 1.5 * 2^23 addition (exact for
// |v| < 2^22), + the offset; the lanes from dim to round4(dim) zero.
template <typename T>
PE_INLINE void quantize_rows(size_t rows, size_t dim, const float* x, size_t xs, T* y, size_t ys,
                             const float* __restrict inv_scale) {
  constexpr float kRound = 12582912.0f;
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * xs;
    T* __restrict yr = y + r * ys;
    for (size_t i = 0; i < dim; ++i) {
      float s = xr[i] * inv_scale[i];
      s = s > QOut<T>::hi ? QOut<T>::hi : s;
      s = s < QOut<T>::lo ? QOut<T>::lo : s;
      s = s == s ? s : 0.0f;
      const float v = (s + kRound) - kRound;
      yr[i] = static_cast<T>(static_cast<int32_t>(v) + QOut<T>::zp);
    }
    for (size_t i = dim; i < round4(dim); ++i) yr[i] = 0;
  }
}

[[maybe_unused]] void quantize_static(size_t rows, size_t dim, const float* x, size_t xs, uint8_t* y, size_t ys,
                                      const float* inv_scale) {
  quantize_rows(rows, dim, x, xs, y, ys, inv_scale);
}

[[maybe_unused]] void quantize_static16(size_t rows, size_t dim, const float* x, size_t xs, int16_t* y,
                                        size_t ys, const float* inv_scale) {
  quantize_rows(rows, dim, x, xs, y, ys, inv_scale);
}

// The vector forms: the same steps, a lane helper per level giving the rounded int32 values (no
// offset), the stores per output type.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// 16 lanes (the first n of x), vrndscaleps: the 1.5 * 2^23 trick's result in this range.
PE_INLINE __m512i quantize_lanes_512(const float* x, const float* inv_scale, __mmask16 k, float lo, float hi) {
  __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x), _mm512_maskz_loadu_ps(k, inv_scale));
  v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
  return _mm512_cvtps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Row blocks of 16 lanes, those from dim to round4(dim) zero (k4 stores them, k leaves them 0).
template <typename T, typename Store>
PE_INLINE void quantize_512(size_t rows, size_t dim, const float* x, size_t xs, T* y, size_t ys,
                            const float* inv_scale, Store store) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i0 = 0; i0 < round4(dim); i0 += 16) {
      const size_t n = dim - i0 < 16 ? dim - i0 : 16, n4 = round4(dim) - i0 < 16 ? round4(dim) - i0 : 16;
      const __mmask16 k = static_cast<__mmask16>((1u << n) - 1), k4 = static_cast<__mmask16>((1u << n4) - 1);
      const __m512i q = quantize_lanes_512(x + r * xs + i0, inv_scale + i0, k, QOut<T>::lo, QOut<T>::hi);
      store(y + r * ys + i0, k, k4, q);
    }
  }
}

void quantize_static_512(size_t rows, size_t dim, const float* x, size_t xs, uint8_t* y, size_t ys,
                         const float* inv_scale) {
  quantize_512(rows, dim, x, xs, y, ys, inv_scale, [](uint8_t* p, __mmask16 k, __mmask16 k4, __m512i q) {
    _mm_mask_storeu_epi8(p, k4, _mm512_cvtepi32_epi8(_mm512_maskz_add_epi32(k, q, _mm512_set1_epi32(128))));
  });
}

void quantize_static16_512(size_t rows, size_t dim, const float* x, size_t xs, int16_t* y, size_t ys,
                           const float* inv_scale) {
  quantize_512(rows, dim, x, xs, y, ys, inv_scale, [](int16_t* p, __mmask16, __mmask16 k4, __m512i q) {
    _mm256_mask_storeu_epi16(p, k4, _mm512_cvtepi32_epi16(q));
  });
}
#define PE_QUANTIZE_STATIC quantize_static_512
#define PE_QUANTIZE_STATIC16 quantize_static16_512
#elif defined(__AVX2__) || defined(__SSE2__)
#if defined(__AVX2__)
// 8 lanes, vroundps: the 1.5 * 2^23 trick's result in this range.
constexpr size_t kQLanes = 8;
PE_INLINE __m256i quantize_lanes(const float* x, const float* inv_scale, float lo, float hi) {
  __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(inv_scale));
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
  return _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
PE_INLINE void store_lanes(uint8_t* p, __m256i q) {
  q = _mm256_add_epi32(q, _mm256_set1_epi32(128));
  const __m128i h = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(h, h));
}
PE_INLINE void store_lanes(int16_t* p, __m256i q) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)));
}
#else
// SSE2 (the x86-64 baseline): 4 lanes, rounding by the same 1.5 * 2^23 addition and subtraction.
constexpr size_t kQLanes = 4;
PE_INLINE __m128i quantize_lanes(const float* x, const float* inv_scale, float lo, float hi) {
  const __m128 k = _mm_set1_ps(12582912.0f);
  __m128 v = _mm_mul_ps(_mm_loadu_ps(x), _mm_loadu_ps(inv_scale));
  v = _mm_and_ps(v, _mm_cmpord_ps(v, v));
  v = _mm_min_ps(_mm_max_ps(v, _mm_set1_ps(lo)), _mm_set1_ps(hi));
  return _mm_cvttps_epi32(_mm_sub_ps(_mm_add_ps(v, k), k));
}
PE_INLINE void store_lanes(uint8_t* p, __m128i q) {
  q = _mm_add_epi32(q, _mm_set1_epi32(128));
  const __m128i h = _mm_packs_epi32(q, q);
  const int32_t b = _mm_cvtsi128_si32(_mm_packus_epi16(h, h));
  std::memcpy(p, &b, 4);
}
PE_INLINE void store_lanes(int16_t* p, __m128i q) {
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi32(q, q));
}
#endif

// kQLanes at a time, the last dim % kQLanes elements and the padding as quantize_rows.
template <typename T>
PE_INLINE void quantize_vec(size_t rows, size_t dim, const float* x, size_t xs, T* y, size_t ys,
                            const float* inv_scale) {
  const size_t dv = dim / kQLanes * kQLanes;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    T* yr = y + r * ys;
    for (size_t i = 0; i < dv; i += kQLanes) store_lanes(yr + i, quantize_lanes(xr + i, inv_scale + i, QOut<T>::lo, QOut<T>::hi));
    quantize_rows(1, dim - dv, xr + dv, xs, yr + dv, ys, inv_scale + dv);  // pads to round4(dim)
  }
}

void quantize_static_vec(size_t rows, size_t dim, const float* x, size_t xs, uint8_t* y, size_t ys,
                         const float* inv_scale) {
  quantize_vec(rows, dim, x, xs, y, ys, inv_scale);
}

void quantize_static16_vec(size_t rows, size_t dim, const float* x, size_t xs, int16_t* y, size_t ys,
                           const float* inv_scale) {
  quantize_vec(rows, dim, x, xs, y, ys, inv_scale);
}
#define PE_QUANTIZE_STATIC quantize_static_vec
#define PE_QUANTIZE_STATIC16 quantize_static16_vec
#else
#define PE_QUANTIZE_STATIC quantize_static
#define PE_QUANTIZE_STATIC16 quantize_static16
#endif

// One row's output stage from its int32 sums acc[0, nb) (outputs o0 .. o0 + nb); ob: the
// requantised output's width, 8 (uint8, 0..255) or 16 (int16, 0..32767; format v3).
PE_INLINE void dense_q_emit(size_t o0, size_t nb, const int32_t* __restrict acc, const int32_t* requant,
                            const float* dequant, void* yrow, bool accumulate, int ob = 8) {
  if (requant && ob == 16) {
    int16_t* __restrict yr = static_cast<int16_t*>(yrow) + o0;
    for (size_t j = 0; j < nb; ++j) {
      const int64_t m = requant[2 * (o0 + j)], n = requant[2 * (o0 + j) + 1];
      int64_t v = (int64_t(acc[j]) * m + (int64_t(1) << (n - 1))) >> n;
      v = v < 0 ? 0 : (v > 32767 ? 32767 : v);
      yr[j] = static_cast<int16_t>(v);
    }
  } else if (requant) {
    uint8_t* __restrict yr = static_cast<uint8_t*>(yrow) + o0;
    for (size_t j = 0; j < nb; ++j) {
      const int64_t m = requant[2 * (o0 + j)], n = requant[2 * (o0 + j) + 1];
      int64_t v = (int64_t(acc[j]) * m + (int64_t(1) << (n - 1))) >> n;
      v = v < 0 ? 0 : (v > 255 ? 255 : v);
      yr[j] = static_cast<uint8_t>(v);
    }
  } else {
    float* __restrict yr = static_cast<float*>(yrow) + o0;
    for (size_t j = 0; j < nb; ++j) {
      const float v = float(acc[j]) * dequant[o0 + j];
      yr[j] = accumulate ? yr[j] + v : v;
    }
  }
}

PE_INLINE void dense_q_pad(size_t out, const int32_t* requant, void* yrow, int ob = 8) {
  if (requant && ob == 16)
    for (size_t j = out; j < round4(out); ++j) static_cast<int16_t*>(yrow)[j] = 0;
  else if (requant)
    for (size_t j = out; j < round4(out); ++j) static_cast<uint8_t*>(yrow)[j] = 0;
}

// Row r of the output (ys in elements: bytes for uint8, int16s, floats).
PE_INLINE void* row_ptr(void* y, size_t r, size_t ys, const int32_t* requant, int ob = 8) {
  if (requant && ob == 16) return static_cast<void*>(static_cast<int16_t*>(y) + r * ys);
  return requant ? static_cast<void*>(static_cast<uint8_t*>(y) + r * ys)
                 : static_cast<void*>(static_cast<float*>(y) + r * ys);
}


// Portable form: 16-output blocks, groups of 4 inputs (the weight layout [in/4][out][4]). With
// the ARM DSP extension (Cortex-M4/M7, armv7e-m) two SMLADs do a group's four MACs. The dense_q
// of the baseline level (and of the others for layers wider than their stack buffers).

PE_INLINE uint32_t ror8(uint32_t v) { return (v >> 8) | (v << 24); }

PE_INLINE uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

#if defined(PE_DENSE_Q_DSP)
// A group's four activations as the two 16-bit pairs (x0, x2), (x1, x3) that SMLAD multiplies with
// the SXTB16-unpacked weight pairs (w0, w2), (w1, w3), CMSIS-NN style: uint8 by UXTB16, int16 by
// repacking the row's pairs once per group.
PE_INLINE void group_pairs(const uint8_t* x, uint32_t* x02, uint32_t* x13) {
  const uint32_t xw = load_u32(x);
  *x02 = __uxtb16(xw);
  *x13 = __uxtb16(ror8(xw));
}
PE_INLINE void group_pairs(const int16_t* x, uint32_t* x02, uint32_t* x13) {
  const uint32_t a = load_u32(x), b = load_u32(x + 2);
  *x02 = (a & 0xffffu) | (b << 16);
  *x13 = (a >> 16) | (b & 0xffff0000u);
}
#endif

// The portable static DENSE for uint8 (format v2) or int16 (W8A16) rows, and every level's for
// layers wider than the stack buffers: products |x * w| <= 32767 * 127 summed in int32, which the
// exporter keeps from overflowing; ob: the requantised output's width (8, or 16 for int16).
template <typename T>
PE_INLINE void dense_q_rows_portable(size_t rows, size_t in, size_t out, const T* x, size_t xs,
                                     const int8_t* wq, const int32_t* bias, const int32_t* requant,
                                     const float* dequant, void* y, size_t ys, bool accumulate, int ob) {
  const size_t groups = round4(in) / 4;
  for (size_t r = 0; r < rows; ++r) {
    const T* __restrict xr = x + r * xs;
    void* yrow = row_ptr(y, r, ys, requant, ob);
    for (size_t o0 = 0; o0 < out; o0 += 16) {
      const size_t nb = out - o0 < 16 ? out - o0 : 16;
      int32_t acc[16];
      for (size_t j = 0; j < nb; ++j) acc[j] = bias[o0 + j];
      for (size_t g = 0; g < groups; ++g) {
        const int8_t* __restrict w = wq + (g * out + o0) * 4;
#if defined(PE_DENSE_Q_DSP)
        uint32_t x02, x13;
        group_pairs(xr + 4 * g, &x02, &x13);
        for (size_t j = 0; j < nb; ++j) {
          const uint32_t ww = load_u32(w + 4 * j);
          acc[j] = __smlad(__sxtb16(ww), x02, acc[j]);
          acc[j] = __smlad(__sxtb16(ror8(ww)), x13, acc[j]);
        }
#else
        const int32_t x0 = xr[4 * g], x1 = xr[4 * g + 1], x2 = xr[4 * g + 2], x3 = xr[4 * g + 3];
        for (size_t j = 0; j < nb; ++j)
          acc[j] += x0 * w[4 * j] + x1 * w[4 * j + 1] + x2 * w[4 * j + 2] + x3 * w[4 * j + 3];
#endif
      }
      dense_q_emit(o0, nb, acc, requant, dequant, yrow, accumulate, ob);
    }
    dense_q_pad(out, requant, yrow, ob);
  }
}

[[maybe_unused]] void dense_q_portable(size_t rows, size_t in, size_t out, const uint8_t* x, size_t xs,
                                       const int8_t* wq, const int32_t* bias, const int32_t* requant,
                                       const float* dequant, void* y, size_t ys, bool accumulate) {
  dense_q_rows_portable(rows, in, out, x, xs, wq, bias, requant, dequant, y, ys, accumulate, 8);
}

[[maybe_unused]] void dense_q16_portable(size_t rows, size_t in, size_t out, const int16_t* x, size_t xs,
                                         const int8_t* wq, const int32_t* bias, const int32_t* requant,
                                         const float* dequant, void* y, size_t ys, bool accumulate, bool out16) {
  dense_q_rows_portable(rows, in, out, x, xs, wq, bias, requant, dequant, y, ys, accumulate, out16 ? 16 : 8);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// dense_q_emit for 16 outputs in one zmm, the same integer and float operations vectorised: each
// (M, n) pair is one 64-bit lane (M low, n high); vpmuldq multiplies acc by M exactly in 64 bits.
PE_INLINE void emit16(size_t o0, __m512i a, const int32_t* requant, const float* dequant, void* yrow,
                      bool accumulate, int ob = 8) {
  if (!requant) {
    float* yr = static_cast<float*>(yrow) + o0;
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(dequant + o0));
    if (accumulate) v = _mm512_add_ps(_mm512_loadu_ps(yr), v);
    _mm512_storeu_ps(yr, v);
    return;
  }
  uint8_t* yr = static_cast<uint8_t*>(yrow) + o0;
  int16_t* yr16 = static_cast<int16_t*>(yrow) + o0;  // ob 16 (W8A16): int16 outputs, 0..32767
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
  const __m512i top = _mm512_set1_epi64(ob == 16 ? 32767 : 255);
  for (int h = 0; h < 2; ++h) {
    const __m512i x = _mm512_cvtepi32_epi64(h ? _mm512_extracti64x4_epi64(a, 1) : _mm512_castsi512_si256(a));
    const __m512i mn = _mm512_loadu_si512(requant + 2 * (o0 + 8 * h));
    const __m512i n = _mm512_srli_epi64(mn, 32);
    const __m512i p = _mm512_add_epi64(_mm512_mul_epi32(x, mn), _mm512_sllv_epi64(one, _mm512_sub_epi64(n, one)));
    const __m512i v = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(p, n), zero), top);
    if (ob == 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(yr16 + 8 * h), _mm512_cvtepi64_epi16(v));
    else
      _mm_storel_epi64(reinterpret_cast<__m128i*>(yr + 8 * h), _mm512_cvtepi64_epi8(v));
  }
}

#endif

#if defined(PE_DENSE_Q_VNNI)
// AVX-512 VNNI: vpdpbusd adds four uint8 x int8 products into each int32 lane without saturation,
// the same integers as the portable loop. 16-output blocks in zmm, 4-wide blocks (and a masked
// 1-3 tail) in xmm; rows in register blocks of 4 sharing each weight load.
template <size_t R>
PE_INLINE void dense_q_rows(size_t in, size_t out, const uint8_t* x, size_t xs, const int8_t* wq,
                            const int32_t* bias, const int32_t* requant, const float* dequant, void* y,
                            size_t ys, bool accumulate) {
  const size_t groups = round4(in) / 4;
  alignas(64) int32_t acc[R][4];
  size_t o0 = 0;
  for (; o0 + 16 <= out; o0 += 16) {
    __m512i a[R];
    const __m512i b = _mm512_loadu_si512(bias + o0);
    for (size_t r = 0; r < R; ++r) a[r] = b;
    for (size_t g = 0; g < groups; ++g) {
      const __m512i w = _mm512_loadu_si512(wq + (g * out + o0) * 4);
      for (size_t r = 0; r < R; ++r) {
        int32_t xv;
        std::memcpy(&xv, x + r * xs + 4 * g, 4);
        a[r] = _mm512_dpbusd_epi32(a[r], _mm512_set1_epi32(xv), w);
      }
    }
    for (size_t r = 0; r < R; ++r) emit16(o0, a[r], requant, dequant, row_ptr(y, r, ys, requant), accumulate);
  }
  for (; o0 < out; o0 += 4) {
    const size_t nb = out - o0 < 4 ? out - o0 : 4;
    const __mmask8 k = static_cast<__mmask8>((1u << nb) - 1);
    __m128i a[R];
    const __m128i b = _mm_maskz_loadu_epi32(k, bias + o0);
    for (size_t r = 0; r < R; ++r) a[r] = b;
    for (size_t g = 0; g < groups; ++g) {
      const __m128i w = _mm_maskz_loadu_epi32(k, wq + (g * out + o0) * 4);
      for (size_t r = 0; r < R; ++r) {
        int32_t xv;
        std::memcpy(&xv, x + r * xs + 4 * g, 4);
        a[r] = _mm_dpbusd_epi32(a[r], _mm_set1_epi32(xv), w);
      }
    }
    for (size_t r = 0; r < R; ++r) {
      if (!requant) {  // float(acc) * dequant (+ y), as dense_q_emit
        float* yr = static_cast<float*>(row_ptr(y, r, ys, requant)) + o0;
        __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(a[r]), _mm_maskz_loadu_ps(k, dequant + o0));
        if (accumulate) v = _mm_add_ps(_mm_maskz_loadu_ps(k, yr), v);
        _mm_mask_storeu_ps(yr, k, v);
        continue;
      }
      _mm_store_si128(reinterpret_cast<__m128i*>(acc[r]), a[r]);
      dense_q_emit(o0, nb, acc[r], requant, dequant, row_ptr(y, r, ys, requant), accumulate);
    }
  }
  for (size_t r = 0; r < R; ++r) dense_q_pad(out, requant, row_ptr(y, r, ys, requant));
}

void dense_q(size_t rows, size_t in, size_t out, const uint8_t* x, size_t xs, const int8_t* wq,
             const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
             bool accumulate) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4)
    dense_q_rows<4>(in, out, x + r * xs, xs, wq, bias, requant, dequant, row_ptr(y, r, ys, requant), ys, accumulate);
  for (; r < rows; ++r)
    dense_q_rows<1>(in, out, x + r * xs, xs, wq, bias, requant, dequant, row_ptr(y, r, ys, requant), ys, accumulate);
}
#define PE_DENSE_Q dense_q
#endif
#if defined(__SSE2__)
// x86-64: pmaddwd in xmm, ymm or zmm (vpdpwssd at the vnni level) for W8A16 at every level, and
// for the uint8 DENSE where VNNI is not compiled
#include "pe_kernels_q_madd.h"
#ifndef PE_DENSE_Q
#define PE_DENSE_Q PE_DENSE_Q_MADD
#endif
#define PE_DENSE_Q16 dense_q16_madd
#else
#define PE_DENSE_Q dense_q_portable
#define PE_DENSE_Q16 dense_q16_portable
#endif

void layernorm(size_t rows, size_t dim, const float* x, size_t xs, float* y, size_t ys,
               const float* __restrict gamma, const float* __restrict beta, float eps) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * xs;
    float* yr = y + r * ys;
    acc_t s = 0, s2 = 0;
    for (size_t i = 0; i < dim; ++i) s += xr[i];
    const float mean = float(s / acc_t(dim));
    for (size_t i = 0; i < dim; ++i) {
      const acc_t d = acc_t(xr[i] - mean);
      s2 += d * d;
    }
    const float inv = 1.0f / PE_SQRTF(float(s2 / acc_t(dim)) + eps);
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
    for (size_t i = 0; i < dim; ++i) yr[i] = 0.5f * xr[i] * (1.0f + PE_ERFF(xr[i] * k));
  }
}

const KernelTable kTable = {PE_KNAME, standardize, PE_DENSE_F32, dense_i8, dense_i8_split, quantize_row,
                            residual_row, PE_QUANTIZE_STATIC, PE_DENSE_Q, PE_QUANTIZE_STATIC16, PE_DENSE_Q16,
                            layernorm, relu, gelu};

}  // namespace
}  // namespace PE_KNS

const KernelTable* PE_KTABLE() { return &PE_KNS::kTable; }

}  // namespace pe_k
