// Part of pe_kernels_impl.h (included there, inside its namespaces, on x86-64): the static int8
// DENSE with pmaddwd, in xmm (baseline, SSE2), ymm (avx2) and, at the avx512 level (AVX-512 BW),
// 16-output blocks in zmm first; used for uint8 activations where AVX-512 VNNI is not compiled and
// for int16 activations (W8A16, format v3) at every level (at the vnni level vpdpwssd fuses the
// pmaddwd and the add: the same exact int32 sums).
//
// Exact integer arithmetic, so the same int32 sums as the portable loop and vpdpbusd: the uint8
// activations and the int8 weights are widened to int16 (zero- and sign-extension) and pmaddwd
// multiplies them and adds adjacent pairs into int32 (|x * w| <= 255 * 128, a pair's sum far from
// the int32 limits; pmaddubsw is not used: its int16 pair sums saturate for these ranges). Each
// row's activations are widened once (a group of 4 inputs = one 64-bit lane of four int16,
// broadcast per group); each group's weights are widened once per register block of rows. The
// lanes hold (output, input pair) partial sums; a horizontal add of the pairs gives the outputs'
// sums, to which the bias is added (int32 addition: any order, the same bits). The output stage
// is dense_q_emit's (vectorised for AVX2: int64 acc * M + 2^(n-1), an arithmetic shift by n,
// clamp to [0, 255]; with no vpsravq a negative sum is clamped to 0 first and the shift of the
// non-negative rest is logical, the same value).

constexpr size_t kQxMax = 2048;  // inputs per row widened on the stack; wider layers: portable loop
// The row blocks read each row's groups as int64 lanes of four int16, xst lanes apart: the widened
// copies of uint8 rows, or (W8A16) the int16 slot itself, read in place (may_alias: it is int16
// memory; aligned(2): an int16 row need not be 8-byte aligned).
typedef int64_t i64a __attribute__((may_alias, aligned(2)));

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define PE_MADD512(acc, x, w) _mm512_dpwssd_epi32(acc, x, w)
#define PE_MADD256(acc, x, w) _mm256_dpwssd_epi32(acc, x, w)
#else
#define PE_MADD512(acc, x, w) _mm512_add_epi32(acc, _mm512_madd_epi16(x, w))
#define PE_MADD256(acc, x, w) _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
#endif

#if defined(__AVX2__)
// The 4 x 8 int32 sums -> 8 outputs' int32, in order: a0 = outputs 0-3, a1 = 4-7, lanes
// (o, inputs 0-1), (o, inputs 2-3).
PE_INLINE __m256i sum8(__m256i a0, __m256i a1) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(a0, a1), _MM_SHUFFLE(3, 1, 2, 0));
}

// dense_q_emit's requantisation for 4 outputs (one int32 each in acc): int64 results in [0, hi]
// (255, or 32767 for an int16 output).
PE_INLINE __m256i requant4(__m128i acc, const int32_t* mn_pairs, int64_t hi = 255) {
  const __m256i one = _mm256_set1_epi64x(1), zero = _mm256_setzero_si256(), top = _mm256_set1_epi64x(hi);
  const __m256i mn = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mn_pairs));
  const __m256i n = _mm256_srli_epi64(mn, 32);
  const __m256i p = _mm256_add_epi64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(acc), mn),
                                     _mm256_sllv_epi64(one, _mm256_sub_epi64(n, one)));
  __m256i v = _mm256_andnot_si256(_mm256_cmpgt_epi64(zero, p), _mm256_srlv_epi64(p, n));
  return _mm256_blendv_epi8(v, top, _mm256_cmpgt_epi64(v, top));
}

// dense_q_emit for the 8 outputs o0 .. o0 + 8 (sums in a).
PE_INLINE void emit8(size_t o0, __m256i a, const int32_t* requant, const float* dequant, void* yrow,
                     bool accumulate, int ob) {
  if (requant && ob == 16) {  // int16 output (W8A16): the same stage clamped to 32767
    const __m256i v0 = requant4(_mm256_castsi256_si128(a), requant + 2 * o0, 32767);
    const __m256i v1 = requant4(_mm256_extracti128_si256(a, 1), requant + 2 * o0 + 8, 32767);
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);  // int64 lanes -> their low int32
    const __m128i lo = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v0, even));
    const __m128i hi = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v1, even));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<int16_t*>(yrow) + o0), _mm_packs_epi32(lo, hi));
    return;
  }
  if (!requant) {
    float* yr = static_cast<float*>(yrow) + o0;
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_loadu_ps(dequant + o0));
    if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(yr), v);
    _mm256_storeu_ps(yr, v);
    return;
  }
  const __m256i v0 = requant4(_mm256_castsi256_si128(a), requant + 2 * o0);
  const __m256i v1 = requant4(_mm256_extracti128_si256(a, 1), requant + 2 * o0 + 8);
  // int32 lanes [o0 o4 o1 o5 | o2 o6 o3 o7]; bytes 0, 8, 4, 12 of each half: [o0 o1 o4 o5 | o2 o3 o6 o7]
  const __m256i w = _mm256_or_si256(v0, _mm256_slli_epi64(v1, 32));
  const __m256i pick = _mm256_setr_epi8(0, 8, 4, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        0, 8, 4, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i s = _mm256_shuffle_epi8(w, pick);
  const __m128i b = _mm_unpacklo_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(static_cast<uint8_t*>(yrow) + o0), b);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define PE_Q_ZMM 1
// The 2 x 16 int32 sums (zmm: 8 outputs x 2 input pairs each) -> 16 outputs' int32, in order.
PE_INLINE __m512i sum16(__m512i a0, __m512i a1) {
  const __m512i s0 = _mm512_add_epi32(a0, _mm512_srli_epi64(a0, 32));  // even lanes: the outputs
  const __m512i s1 = _mm512_add_epi32(a1, _mm512_srli_epi64(a1, 32));
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_epi32(s0, even, s1);
}
#else
#define PE_Q_ZMM 0
#endif

// R rows (activations widened in xw: R x groups 64-bit lanes) x all outputs.
template <size_t R>
PE_INLINE void dense_q_rows_avx2(size_t groups, size_t out, const i64a* xw, size_t xst, const int8_t* wq,
                                 const int32_t* bias, const int32_t* requant, const float* dequant, void* y,
                                 size_t ys, bool accumulate, int ob) {
  size_t o0 = 0;
#if PE_Q_ZMM
  for (; o0 + 16 <= out; o0 += 16) {
    __m512i a[R][2];
    for (size_t r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm512_setzero_si512();
    for (size_t g = 0; g < groups; ++g) {
      const int8_t* w = wq + (g * out + o0) * 4;
      const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
      const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32)));
      for (size_t r = 0; r < R; ++r) {
        const __m512i xv = _mm512_set1_epi64(xw[r * xst + g]);
        a[r][0] = PE_MADD512(a[r][0], xv, w0);
        a[r][1] = PE_MADD512(a[r][1], xv, w1);
      }
    }
    const __m512i b = _mm512_loadu_si512(bias + o0);
    for (size_t r = 0; r < R; ++r)
      emit16(o0, _mm512_add_epi32(sum16(a[r][0], a[r][1]), b), requant, dequant, row_ptr(y, r, ys, requant, ob),
             accumulate, ob);
  }
#endif
  for (; o0 + 8 <= out; o0 += 8) {
    __m256i a[R][2];
    for (size_t r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm256_setzero_si256();
    for (size_t g = 0; g < groups; ++g) {
      const int8_t* w = wq + (g * out + o0) * 4;
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16)));
      for (size_t r = 0; r < R; ++r) {
        const __m256i xv = _mm256_set1_epi64x(xw[r * xst + g]);
        a[r][0] = PE_MADD256(a[r][0], xv, w0);
        a[r][1] = PE_MADD256(a[r][1], xv, w1);
      }
    }
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + o0));
    for (size_t r = 0; r < R; ++r)
      emit8(o0, _mm256_add_epi32(sum8(a[r][0], a[r][1]), b), requant, dequant, row_ptr(y, r, ys, requant, ob),
            accumulate, ob);
  }
  for (; o0 < out; o0 += 4) {  // 4-wide blocks, the last one possibly 1-3 wide (masked loads)
    const size_t nb = out - o0 < 4 ? out - o0 : 4;
    const __m128i k = _mm_cmpgt_epi32(_mm_set1_epi32(int32_t(nb)), _mm_setr_epi32(0, 1, 2, 3));
    __m256i a[R];
    for (size_t r = 0; r < R; ++r) a[r] = _mm256_setzero_si256();
    for (size_t g = 0; g < groups; ++g) {
      const int* w = reinterpret_cast<const int*>(wq + (g * out + o0) * 4);
      const __m256i wv = _mm256_cvtepi8_epi16(_mm_maskload_epi32(w, k));
      for (size_t r = 0; r < R; ++r)
        a[r] = PE_MADD256(a[r], _mm256_set1_epi64x(xw[r * xst + g]), wv);
    }
    const __m128i b = _mm_maskload_epi32(bias + o0, k);
    for (size_t r = 0; r < R; ++r) {
      const __m256i h = _mm256_hadd_epi32(a[r], a[r]);  // [o0 o1 o0 o1 | o2 o3 o2 o3]
      const __m128i s = _mm_add_epi32(_mm_unpacklo_epi64(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)), b);
      void* yrow = row_ptr(y, r, ys, requant, ob);
      if (!requant) {  // float(acc) * dequant (+ y), as dense_q_emit
        float* yr = static_cast<float*>(yrow) + o0;
        __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(s), _mm_maskload_ps(dequant + o0, k));
        if (accumulate) v = _mm_add_ps(_mm_maskload_ps(yr, k), v);
        _mm_maskstore_ps(yr, k, v);
        continue;
      }
      alignas(16) int32_t acc[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(acc), s);
      dense_q_emit(o0, nb, acc, requant, dequant, yrow, accumulate, ob);
    }
  }
  for (size_t r = 0; r < R; ++r) dense_q_pad(out, requant, row_ptr(y, r, ys, requant, ob), ob);
}

// Row r's round4(in) activation bytes -> groups 64-bit lanes of four int16 (zero-extended).
PE_INLINE void widen_row(size_t groups, const uint8_t* x, int64_t* xw) {
  size_t g = 0;
  for (; g + 4 <= groups; g += 4)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(xw + g),
                        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 4 * g))));
  for (; g < groups; ++g) {
    int32_t v;
    std::memcpy(&v, x + 4 * g, 4);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(xw + g), _mm_cvtepu8_epi16(_mm_cvtsi32_si128(v)));
  }
}

#define PE_Q_ROWS dense_q_rows_avx2
#else  // SSE2 (every x86-64): 4-output blocks in xmm, the output stage dense_q_emit's own

// Row r's round4(in) activation bytes -> groups 64-bit lanes of four int16 (zero-extended).
PE_INLINE void widen_row(size_t groups, const uint8_t* x, int64_t* xw) {
  const __m128i z = _mm_setzero_si128();
  size_t g = 0;
  for (; g + 4 <= groups; g += 4) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 4 * g));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(xw + g), _mm_unpacklo_epi8(v, z));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(xw + g + 2), _mm_unpackhi_epi8(v, z));
  }
  for (; g < groups; ++g) {
    int32_t v;
    std::memcpy(&v, x + 4 * g, 4);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(xw + g), _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), z));
  }
}

// Sign-extends the 16 weight bytes of 4 outputs: outputs 0-1 in lo, 2-3 in hi (int16).
PE_INLINE void widen_w(__m128i w, __m128i* lo, __m128i* hi) {
  const __m128i s = _mm_cmpgt_epi8(_mm_setzero_si128(), w);
  *lo = _mm_unpacklo_epi8(w, s);
  *hi = _mm_unpackhi_epi8(w, s);
}

// (o0 i01, o0 i23, o1 i01, o1 i23), (o2 .., o3 ..) -> o0 o1 o2 o3.
PE_INLINE __m128i sum4(__m128i a, __m128i b) {
  const __m128 fa = _mm_castsi128_ps(a), fb = _mm_castsi128_ps(b);
  return _mm_add_epi32(_mm_castps_si128(_mm_shuffle_ps(fa, fb, _MM_SHUFFLE(2, 0, 2, 0))),
                       _mm_castps_si128(_mm_shuffle_ps(fa, fb, _MM_SHUFFLE(3, 1, 3, 1))));
}

template <size_t R>
PE_INLINE void dense_q_rows_sse2(size_t groups, size_t out, const i64a* xw, size_t xst, const int8_t* wq,
                                 const int32_t* bias, const int32_t* requant, const float* dequant, void* y,
                                 size_t ys, bool accumulate, int ob) {
  for (size_t o0 = 0; o0 < out; o0 += 4) {  // the last block possibly 1-3 wide
    const size_t nb = out - o0 < 4 ? out - o0 : 4;
    __m128i a[R][2];
    for (size_t r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm_setzero_si128();
    for (size_t g = 0; g < groups; ++g) {
      const int8_t* w = wq + (g * out + o0) * 4;
      __m128i wv;
      if (nb == 4) {
        wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
      } else {
        alignas(16) int8_t t[16] = {};
        std::memcpy(t, w, 4 * nb);
        wv = _mm_load_si128(reinterpret_cast<const __m128i*>(t));
      }
      __m128i w0, w1;
      widen_w(wv, &w0, &w1);
      for (size_t r = 0; r < R; ++r) {
        const __m128i xv = _mm_set1_epi64x(xw[r * xst + g]);
        a[r][0] = _mm_add_epi32(a[r][0], _mm_madd_epi16(xv, w0));
        a[r][1] = _mm_add_epi32(a[r][1], _mm_madd_epi16(xv, w1));
      }
    }
    for (size_t r = 0; r < R; ++r) {
      alignas(16) int32_t acc[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(acc), sum4(a[r][0], a[r][1]));
      for (size_t j = 0; j < nb; ++j) acc[j] += bias[o0 + j];
      dense_q_emit(o0, nb, acc, requant, dequant, row_ptr(y, r, ys, requant, ob), accumulate, ob);
    }
  }
  for (size_t r = 0; r < R; ++r) dense_q_pad(out, requant, row_ptr(y, r, ys, requant, ob), ob);
}

#define PE_Q_ROWS dense_q_rows_sse2
#endif

// uint8 rows (format v2): R rows at a time widened into int16 lanes (widen_row, the level's own),
// then the level's row-block kernel PE_Q_ROWS.
[[maybe_unused]] void dense_q_madd(size_t rows, size_t in, size_t out, const uint8_t* x, size_t xs,
                                   const int8_t* wq, const int32_t* bias, const int32_t* requant,
                                   const float* dequant, void* y, size_t ys, bool accumulate) {
  if (in > kQxMax) return dense_q_portable(rows, in, out, x, xs, wq, bias, requant, dequant, y, ys, accumulate);
  constexpr size_t R = 4;
  constexpr int ob = 8;
  const size_t groups = round4(in) / 4;
  alignas(64) int64_t xw[R * kQxMax / 4];
  size_t r = 0;
  for (; r + R <= rows; r += R) {
    for (size_t k = 0; k < R; ++k) widen_row(groups, x + (r + k) * xs, xw + k * groups);
    PE_Q_ROWS<R>(groups, out, xw, groups, wq, bias, requant, dequant, row_ptr(y, r, ys, requant, ob), ys, accumulate, ob);
  }
  for (; r < rows; ++r) {
    widen_row(groups, x + r * xs, xw);
    PE_Q_ROWS<1>(groups, out, xw, groups, wq, bias, requant, dequant, row_ptr(y, r, ys, requant, ob), ys, accumulate, ob);
  }
}
#define PE_DENSE_Q_MADD dense_q_madd

// W8A16 (format v3): an int16 row is already the operand the row blocks take (four int16 = one
// 64-bit lane per group), so they read the slot in place (rows xs int16 apart, xs a multiple of 4;
// otherwise each row is copied first); pmaddwd's products |x * w| <= 32767 * 128 and pair sums are
// exact in int32, and the exporter keeps the total in int32 (FORMAT.md).
void dense_q16_madd(size_t rows, size_t in, size_t out, const int16_t* x, size_t xs, const int8_t* wq,
                    const int32_t* bias, const int32_t* requant, const float* dequant, void* y, size_t ys,
                    bool accumulate, bool out16) {
  if (in > kQxMax)
    return dense_q16_portable(rows, in, out, x, xs, wq, bias, requant, dequant, y, ys, accumulate, out16);
  constexpr size_t R = 4;
  const int ob = out16 ? 16 : 8;
  const size_t groups = round4(in) / 4;
  alignas(64) int64_t xw[R * kQxMax / 4];
  const bool in_place = xs % 4 == 0;
  const size_t xst = in_place ? xs / 4 : groups;
  size_t r = 0;
  for (; r + R <= rows; r += R) {
    const i64a* xp = reinterpret_cast<const i64a*>(x + r * xs);
    if (!in_place) {
      for (size_t k = 0; k < R; ++k) std::memcpy(xw + k * groups, x + (r + k) * xs, groups * 8);
      xp = xw;
    }
    PE_Q_ROWS<R>(groups, out, xp, xst, wq, bias, requant, dequant, row_ptr(y, r, ys, requant, ob), ys, accumulate, ob);
  }
  for (; r < rows; ++r) {
    const i64a* xp = reinterpret_cast<const i64a*>(x + r * xs);
    if (!in_place) {
      std::memcpy(xw, x + r * xs, groups * 8);
      xp = xw;
    }
    PE_Q_ROWS<1>(groups, out, xp, xst, wq, bias, requant, dequant, row_ptr(y, r, ys, requant, ob), ys, accumulate, ob);
  }
}
