// Each kernel against golden vectors written by gen_golden.py (PyTorch references).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pe_kernels.h"
#include "pe_runtime.h"
#include "testutil.h"

namespace {

std::map<std::string, Array> g;
const float* F(const char* n) { return g.at(n).f.data(); }

void expect(const std::vector<float>& got, const char* want, double tol, const char* what) {
  const Array& w = g.at(want);
  CHECK(got.size() == w.f.size());
  const double d = max_abs_diff(got.data(), w.f.data(), w.f.size(), tol, what);
  std::printf("%s: max abs diff %.3g (tol %.1g)\n", what, d, tol);
  CHECK(d <= tol);
}

void test_standardize() {
  const Array& x = g.at("x");
  std::vector<float> y(x.f.size());
  pe_k::standardize(x.rows(), x.cols(), x.f.data(), x.cols(), y.data(), x.cols(), F("mean"), F("std"));
  expect(y, "y", 1e-6, "standardize");
}

void test_dense_f32() {
  const Array& x = g.at("x");
  const Array& w = g.at("w");
  const size_t out = w.dims[0], in = w.dims[1];
  std::vector<float> wt(in * out), y(x.rows() * out), y2(g.at("y0").f);
  for (size_t o = 0; o < out; ++o) for (size_t i = 0; i < in; ++i) wt[i * out + o] = w.f[o * in + i];
  pe_k::dense_f32(x.rows(), in, out, x.f.data(), in, wt.data(), F("b"), y.data(), out, false);
  expect(y, "y", 1e-5, "dense_f32");
  pe_k::dense_f32(x.rows(), in, out, x.f.data(), in, wt.data(), nullptr, y2.data(), out, true);
  expect(y2, "y_acc", 1e-5, "dense_f32 accumulate");
}

// Every width in the golden file (gen_golden.py DENSE_WIDTHS: each blocking branch of dense_f32).
void test_dense_f32_widths() {
  const Array& x = g.at("x");
  const size_t in = x.cols();
  size_t cases = 0;
  for (const auto& [name, w] : g) {
    if (name[0] != 'w') continue;
    const std::string n = name.substr(1);
    const size_t out = w.rows();
    CHECK(n == std::to_string(out) && w.cols() == in);
    ++cases;
    std::vector<float> wt(in * out), y(x.rows() * out);
    for (size_t o = 0; o < out; ++o) for (size_t i = 0; i < in; ++i) wt[i * out + o] = w.f[o * in + i];
    pe_k::dense_f32(x.rows(), in, out, x.f.data(), in, wt.data(), g.at("b" + n).f.data(), y.data(), out, false);
    expect(y, ("y" + n).c_str(), 1e-5, ("dense_f32 out=" + n).c_str());
  }
  CHECK(cases >= 7);
}

void test_dense_i8() {
  const Array& x = g.at("x");
  const Array& q = g.at("q");
  const size_t out = q.dims[0], in = q.dims[1];
  std::vector<int8_t> qt(in * out), qbuf(in);
  std::vector<int32_t> acc(out);
  for (size_t o = 0; o < out; ++o) for (size_t i = 0; i < in; ++i) qt[i * out + o] = q.i8[o * in + i];
  std::vector<float> y(x.rows() * out);
  pe_k::dense_i8(x.rows(), in, out, x.f.data(), in, qt.data(), F("scale"), F("b"), y.data(), out, false,
                 qbuf.data(), acc.data());
  expect(y, "y", 1e-4, "dense_i8");
}

// The two-pass split against its float32 reference (gen_golden.py split_case): each pass's int8
// row and the residual bit for bit, the outputs exactly (same float32 operations, no FMA).
void test_dense_i8_split() {
  const Array& x = g.at("x");
  const Array& q = g.at("q");
  const size_t out = q.dims[0], in = q.dims[1], rows = x.rows();
  std::vector<int8_t> qt(in * out), q1(in), q2(in);
  std::vector<int32_t> acc1(out), acc2(out);
  std::vector<float> res(in);
  for (size_t o = 0; o < out; ++o) for (size_t i = 0; i < in; ++i) qt[i * out + o] = q.i8[o * in + i];
  size_t mismatches = 0;
  for (size_t r = 0; r < rows; ++r) {  // the kernel's own steps, row by row
    const float* xr = &x.f[r * in];
    const float s1 = pe_k::quantize_row(in, xr, q1.data());
    pe_k::residual_row(in, xr, q1.data(), s1, res.data());
    pe_k::quantize_row(in, res.data(), q2.data());
    for (size_t i = 0; i < in; ++i) {
      mismatches += q1[i] != g.at("qx").i8[r * in + i] || q2[i] != g.at("qr").i8[r * in + i];
      const float want = g.at("r").f[r * in + i];
      mismatches += std::memcmp(&res[i], &want, 4) != 0 && !(res[i] != res[i] && want != want);
    }
  }
  std::printf("dense_i8_split: %zu mismatches in q1 / residual / q2 over %zu rows\n", mismatches, rows);
  CHECK(mismatches == 0);
  std::vector<float> y(rows * out), y2(g.at("y0").f);
  pe_k::dense_i8_split(rows, in, out, x.f.data(), in, qt.data(), F("scale"), F("b"), y.data(), out, false,
                       q1.data(), q2.data(), res.data(), acc1.data(), acc2.data());
  expect(y, "y", 0.0, "dense_i8_split");
  pe_k::dense_i8_split(rows, in, out, x.f.data(), in, qt.data(), F("scale"), nullptr, y2.data(), out, true,
                       q1.data(), q2.data(), res.data(), acc1.data(), acc2.data());
  expect(y2, "y_acc", 0.0, "dense_i8_split accumulate");
  // the split is finer than one pass: compared with the float product x W^T, error well below
  std::vector<float> y1(rows * out);
  pe_k::dense_i8(rows, in, out, x.f.data(), in, qt.data(), F("scale"), F("b"), y1.data(), out, false,
                 q1.data(), acc1.data());
  double e1 = 0, e2 = 0;
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < out; ++o) {
      double ref = g.at("b").f[o];
      for (size_t i = 0; i < in; ++i) ref += double(x.f[r * in + i]) * q.i8[o * in + i] * g.at("scale").f[o];
      if (ref != ref) continue;  // the NaN row
      e1 = std::max(e1, std::fabs(y1[r * out + o] - ref));
      e2 = std::max(e2, std::fabs(y[r * out + o] - ref));
    }
  std::printf("dense_i8_split: max error vs int8 weights on float inputs %.3g (one pass %.3g)\n", e2, e1);
  CHECK(e2 * 20 < e1);
}

void test_quantize_row() {
  const Array& x = g.at("x");
  const Array& want = g.at("qx");
  std::vector<int8_t> q(x.cols());
  size_t mismatches = 0;
  for (size_t r = 0; r < x.rows(); ++r) {
    const float s = pe_k::quantize_row(x.cols(), &x.f[r * x.cols()], q.data());
    CHECK(r != 3 || s == 0.0f);  // the all-zero row
    for (size_t i = 0; i < x.cols(); ++i) mismatches += q[i] != want.i8[r * x.cols() + i];
  }
  std::printf("quantize_row: %zu mismatches\n", mismatches);
  CHECK(mismatches == 0);
}

void test_layernorm() {
  const Array& x = g.at("x");
  std::vector<float> y(x.f.size());
  pe_k::layernorm(x.rows(), x.cols(), x.f.data(), x.cols(), y.data(), x.cols(), F("gamma"), F("beta"), g.at("eps").f[0]);
  expect(y, "y", 1e-5, "layernorm");
  std::vector<float> inplace(x.f);  // in place, as the runtime may run it
  pe_k::layernorm(x.rows(), x.cols(), inplace.data(), x.cols(), inplace.data(), x.cols(), F("gamma"), F("beta"), g.at("eps").f[0]);
  expect(inplace, "y", 1e-5, "layernorm in place");
}

void test_act(bool gelu) {
  const Array& x = g.at("x");
  std::vector<float> y(x.f);
  if (gelu) pe_k::gelu(x.rows(), x.cols(), y.data(), x.cols(), y.data(), x.cols());
  else pe_k::relu(x.rows(), x.cols(), y.data(), x.cols(), y.data(), x.cols());
  expect(y, "y", gelu ? 1e-6 : 0.0, gelu ? "gelu" : "relu");
}

// A random static DENSE layer for the kernel tests: int8 weights in the file's layout (output 0
// all -128, output 1 all 127), int32 biases, requantisation (M, n) pairs, dequantisation scales.
template <typename Next>
void random_layer(Next& next, size_t in, size_t out, std::vector<int8_t>& w, std::vector<int32_t>& bias,
                  std::vector<int32_t>& req, std::vector<float>& deq) {
  for (size_t o = 0; o < out; ++o) {
    for (size_t i = 0; i < in; ++i)
      w[((i / 4) * out + o) * 4 + i % 4] = o == 0 ? int8_t(-128) : o == 1 ? int8_t(127) : int8_t(next());
    bias[o] = int32_t(next() % (1u << 21)) - (1 << 20);
    req[2 * o] = int32_t((1u << 30) + next() % (1u << 30));
    req[2 * o + 1] = int32_t(31 + next() % 16);
    deq[o] = float(next() % 10000 + 1) * 1e-6f;
  }
}

// QUANTIZE: every uint8 exactly (halves to even, clamps, NaN -> 128, infinities), padding zeroed.
void test_quantize_static() {
  const Array& x = g.at("x");
  const size_t rows = x.rows(), dim = x.cols(), ys = 16;
  std::vector<uint8_t> q(rows * ys, 0xAB);
  pe_k::quantize_static(rows, dim, x.f.data(), dim, q.data(), ys, F("inv"));
  size_t bad = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < dim; ++i) bad += float(q[r * ys + i]) != g.at("q").f[r * dim + i];
    for (size_t i = dim; i < 16; ++i) bad += q[r * ys + i] != 0;
  }
  std::printf("quantize_static: %zu mismatches (%s)\n", bad, pe_k::active().name);
  CHECK(bad == 0);
  // Every rotation of each row (the halves, clamps, NaN and infinities of row 5 then reach every
  // vector lane and the scalar tail of a level's kernel): each byte against the formula, padding 0.
  std::vector<float> xr(dim), inv(dim);
  std::vector<uint8_t> qa(ys);
  size_t diff = 0;
  for (size_t r = 0; r < rows; ++r)
    for (size_t k = 0; k < dim; ++k) {
      for (size_t i = 0; i < dim; ++i) xr[i] = x.f[r * dim + (i + k) % dim], inv[i] = F("inv")[(i + k) % dim];
      std::fill(qa.begin(), qa.end(), 0xAB);
      pe_k::quantize_static(1, dim, xr.data(), dim, qa.data(), ys, inv.data());
      bool ok = true;
      for (size_t i = 0; i < dim; ++i) {
        float v = xr[i] * inv[i];
        v = v > 127.0f ? 127.0f : (v < -128.0f ? -128.0f : v);
        ok &= qa[i] == uint8_t(int(std::nearbyint(v == v ? v : 0.0f)) + 128);
      }
      for (size_t i = dim; i < ((dim + 3) & ~size_t(3)); ++i) ok &= qa[i] == 0;
      diff += !ok;
    }
  std::printf("quantize_static rotated: %zu rows wrong\n", diff);
  CHECK(diff == 0);
}

// Static int8 DENSE: uint8 outputs and float outputs bit for bit against the integer reference.
void test_dense_q() {
  const Array& x = g.at("x");
  const size_t rows = x.rows(), in = x.cols(), out = g.at("bias").i32.size(), xs = 16, ys = 40;
  std::vector<uint8_t> xu(rows * xs, 0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < in; ++i) xu[r * xs + i] = uint8_t(x.f[r * in + i]);
  const int8_t* wq = g.at("wq").i8.data();
  const int32_t* bias = g.at("bias").i32.data();
  std::vector<uint8_t> yu(rows * ys, 0xAB);
  pe_k::dense_q(rows, in, out, xu.data(), xs, wq, bias, g.at("requant").i32.data(), nullptr, yu.data(), ys, false);
  size_t bad = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t o = 0; o < out; ++o) bad += float(yu[r * ys + o]) != g.at("y_u8").f[r * out + o];
    for (size_t o = out; o < 40; ++o) bad += yu[r * ys + o] != 0;
  }
  std::printf("dense_q uint8: %zu mismatches (%s)\n", bad, pe_k::active().name);
  CHECK(bad == 0);
  std::vector<float> yf(rows * out), ya(g.at("y0").f);
  pe_k::dense_q(rows, in, out, xu.data(), xs, wq, bias, nullptr, F("dequant"), yf.data(), out, false);
  expect(yf, "y_f", 0.0, "dense_q float");
  pe_k::dense_q(rows, in, out, xu.data(), xs, wq, bias, nullptr, F("dequant"), ya.data(), out, true);
  expect(ya, "y_acc", 0.0, "dense_q accumulate");
}

// Static int8 DENSE over many shapes (every block width and tail of each level's kernel, register
// blocks of rows and their tail, layers past the stack-buffer limit), random uint8 x int8 with the
// extremes, against the formula of FORMAT.md computed here: uint8 outputs, padding zeroed and the
// bytes past it untouched; float outputs plain and accumulating, bit for bit.
void test_dense_q_shapes() {
  uint64_t st = 0x9E3779B97F4A7C15ull;
  auto next = [&st]() {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    return st;
  };
  auto r4 = [](size_t n) { return (n + 3) & ~size_t(3); };
  size_t cases = 0, bad = 0;
  for (size_t in : {1, 3, 4, 5, 13, 16, 17, 20, 33, 64, 2049, 2100})
    for (size_t out : {1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20, 24, 32, 33, 40})
      for (size_t rows : {1, 3, 4, 5, 9}) {
        if (in > 64 && (rows != 5 || out % 4 != 1)) continue;  // the wide layers: a few shapes
        ++cases;
        const size_t xs = r4(in) + 4, ys = r4(out) + 8;
        std::vector<uint8_t> x(rows * xs, 0);
        std::vector<int8_t> w(r4(in) * out, 0);
        std::vector<int32_t> bias(out), req(2 * out);
        std::vector<float> deq(out), y0(rows * out);
        for (size_t r = 0; r < rows; ++r)
          for (size_t i = 0; i < in; ++i) x[r * xs + i] = r == 0 ? 255 : uint8_t(next());
        random_layer(next, in, out, w, bias, req, deq);
        for (float& v : y0) v = float(int32_t(next() % 2001) - 1000) * 0.01f;
        std::vector<uint8_t> yu(rows * ys, 0xAB);
        std::vector<float> yf(rows * out), ya(y0);
        pe_k::dense_q(rows, in, out, x.data(), xs, w.data(), bias.data(), req.data(), nullptr, yu.data(), ys, false);
        pe_k::dense_q(rows, in, out, x.data(), xs, w.data(), bias.data(), nullptr, deq.data(), yf.data(), out, false);
        pe_k::dense_q(rows, in, out, x.data(), xs, w.data(), bias.data(), nullptr, deq.data(), ya.data(), out, true);
        bool ok = true;
        for (size_t r = 0; r < rows; ++r) {
          for (size_t o = 0; o < out; ++o) {
            int64_t acc = bias[o];
            for (size_t i = 0; i < in; ++i) acc += int64_t(x[r * xs + i]) * w[((i / 4) * out + o) * 4 + i % 4];
            const int32_t a = int32_t(acc);
            const int64_t m = req[2 * o], n = req[2 * o + 1];
            int64_t v = (int64_t(a) * m + (int64_t(1) << (n - 1))) >> n;
            v = v < 0 ? 0 : (v > 255 ? 255 : v);
            const float f = float(a) * deq[o], fa = y0[r * out + o] + f;
            ok &= yu[r * ys + o] == uint8_t(v);
            ok &= std::memcmp(&yf[r * out + o], &f, 4) == 0 && std::memcmp(&ya[r * out + o], &fa, 4) == 0;
          }
          for (size_t o = out; o < ys; ++o) ok &= yu[r * ys + o] == (o < r4(out) ? 0 : 0xAB);
        }
        if (!ok) std::fprintf(stderr, "dense_q in=%zu out=%zu rows=%zu: wrong\n", in, out, rows);
        bad += !ok;
      }
  std::printf("dense_q shapes: %zu of %zu wrong (%s)\n", bad, cases, pe_k::active().name);
  CHECK(cases == 810 && bad == 0);
}

// W8A16 (format v3): QUANTIZE to int16 over random, huge, infinite and NaN values, against the
// formula (float32 product, clamp +-32767, NaN -> 0, round half to even), padding zeroed.
void test_quantize_static16() {
  uint64_t st = 0x2545F4914F6CDD1Dull;
  auto next = [&st]() {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    return st;
  };
  size_t bad = 0, cases = 0;
  for (size_t dim : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100}) {
    const size_t rows = 6, xs = dim + 3, ys = ((dim + 3) & ~size_t(3)) + 4;
    std::vector<float> x(rows * xs), inv(dim);
    for (size_t i = 0; i < dim; ++i) inv[i] = float(next() % 100000 + 1) * 1e-2f;
    for (size_t r = 0; r < rows; ++r)
      for (size_t i = 0; i < dim; ++i) {
        const uint64_t k = next() % 16;
        x[r * xs + i] = k == 0 ? NAN : k == 1 ? INFINITY : k == 2 ? -1e30f : k == 3 ? (float(int(next() % 65535)) - 32767.0f + 0.5f) / inv[i]
                        : (float(int64_t(next() % 2000001) - 1000000) * 1e-3f);
      }
    std::vector<int16_t> y(rows * ys, int16_t(0x5A5A));
    pe_k::quantize_static16(rows, dim, x.data(), xs, y.data(), ys, inv.data());
    for (size_t r = 0; r < rows; ++r) {
      ++cases;
      bool ok = true;
      for (size_t i = 0; i < dim; ++i) {
        float v = x[r * xs + i] * inv[i];
        v = v > 32767.0f ? 32767.0f : (v < -32767.0f ? -32767.0f : v);
        ok &= y[r * ys + i] == int16_t(std::nearbyint(v == v ? v : 0.0f));
      }
      for (size_t i = dim; i < ys; ++i) ok &= y[r * ys + i] == (i < ((dim + 3) & ~size_t(3)) ? 0 : int16_t(0x5A5A));
      bad += !ok;
    }
  }
  std::printf("quantize_static16: %zu of %zu rows wrong (%s)\n", bad, cases, pe_k::active().name);
  CHECK(bad == 0);
}

// W8A16 static DENSE over many shapes (every block width and tail, row blocks, the > 2048-input
// fallback to the portable loop), int16 x int8 with the extremes (+-32767 against -128 / 127 where
// the sums allow it), rows read in place or copied (row strides), against the formula: int16 and
// uint8 requantised outputs (padding zeroed,
// what lies past it untouched), float outputs plain and accumulating, bit for bit.
void test_dense_q16_shapes() {
  uint64_t st = 0x9E3779B97F4A7C15ull;
  auto next = [&st]() {
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    return st;
  };
  auto r4 = [](size_t n) { return (n + 3) & ~size_t(3); };
  size_t cases = 0, bad = 0;
  for (size_t in : {1, 3, 4, 5, 13, 16, 17, 20, 33, 64, 300, 500, 2049, 2100})
    for (size_t out : {1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20, 24, 32, 33, 40})
      for (size_t rows : {1, 3, 4, 5, 9}) {
        if (in > 64 && (rows != 5 || out % 4 != 1)) continue;  // the wide layers: a few shapes
        ++cases;
        const int32_t xmax = in > 500 ? 1000 : 32767;  // keeps |sum| + |bias| < 2^31
        // a row stride that is not a multiple of 4 int16: the madd kernels copy rows instead of
        // reading the slot in place
        const size_t xs = r4(in) + (rows == 3 ? 2 : 4), ys = r4(out) + 8;
        std::vector<int16_t> x(rows * xs, 0);
        std::vector<int8_t> w(r4(in) * out, 0);
        std::vector<int32_t> bias(out), req(2 * out);
        std::vector<float> deq(out), y0(rows * out);
        for (size_t r = 0; r < rows; ++r)
          for (size_t i = 0; i < in; ++i)
            x[r * xs + i] = int16_t(r == 0 ? xmax : r == 1 ? -xmax : int32_t(next() % (2 * xmax + 1)) - xmax);
        random_layer(next, in, out, w, bias, req, deq);
        for (float& v : y0) v = float(int32_t(next() % 2001) - 1000) * 0.01f;
        std::vector<int16_t> y16(rows * ys, int16_t(0x5A5A));
        std::vector<uint8_t> yu(rows * ys, 0xAB);
        std::vector<float> yf(rows * out), ya(y0);
        pe_k::dense_q16(rows, in, out, x.data(), xs, w.data(), bias.data(), req.data(), nullptr, y16.data(), ys, false, true);
        pe_k::dense_q16(rows, in, out, x.data(), xs, w.data(), bias.data(), req.data(), nullptr, yu.data(), ys, false, false);
        pe_k::dense_q16(rows, in, out, x.data(), xs, w.data(), bias.data(), nullptr, deq.data(), yf.data(), out, false, false);
        pe_k::dense_q16(rows, in, out, x.data(), xs, w.data(), bias.data(), nullptr, deq.data(), ya.data(), out, true, false);
        bool ok = true;
        for (size_t r = 0; r < rows; ++r) {
          for (size_t o = 0; o < out; ++o) {
            int64_t acc = bias[o];
            for (size_t i = 0; i < in; ++i) acc += int64_t(x[r * xs + i]) * w[((i / 4) * out + o) * 4 + i % 4];
            const int32_t a = int32_t(acc);
            ok &= acc == a;
            const int64_t m = req[2 * o], n = req[2 * o + 1];
            const int64_t v = (int64_t(a) * m + (int64_t(1) << (n - 1))) >> n;
            const float f = float(a) * deq[o], fa = y0[r * out + o] + f;
            ok &= y16[r * ys + o] == int16_t(v < 0 ? 0 : (v > 32767 ? 32767 : v));
            ok &= yu[r * ys + o] == uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
            ok &= std::memcmp(&yf[r * out + o], &f, 4) == 0 && std::memcmp(&ya[r * out + o], &fa, 4) == 0;
          }
          for (size_t o = out; o < ys; ++o) {
            ok &= y16[r * ys + o] == (o < r4(out) ? 0 : int16_t(0x5A5A));
            ok &= yu[r * ys + o] == (o < r4(out) ? 0 : 0xAB);
          }
        }
        if (!ok) std::fprintf(stderr, "dense_q16 in=%zu out=%zu rows=%zu: wrong\n", in, out, rows);
        bad += !ok;
      }
  std::printf("dense_q16 shapes: %zu of %zu wrong (%s)\n", bad, cases, pe_k::active().name);
  CHECK(cases == 820 && bad == 0);
}

// $PE_CPU_DISPATCH picks the level (capped to what this CPU runs).
void test_dispatch() {
  const char* want = std::getenv("PE_CPU_DISPATCH");
  static const char* const kNames[] = {"baseline", "avx2", "avx512", "vnni"};
  int top = 0;
  while (top < 3 && pe_k::table_for(top + 1)) ++top;
  int expect_level = top;
  for (int i = 0; want && i < 4; ++i)
    if (std::strcmp(want, kNames[i]) == 0 && i < top) expect_level = i;
  std::printf("dispatch: PE_CPU_DISPATCH=%s, CPU up to %s, running %s\n", want ? want : "(unset)", kNames[top],
              pe_dispatch_level());
  CHECK(pe_k::active_level() == expect_level);
  CHECK(std::strcmp(pe_dispatch_level(), kNames[expect_level]) == 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: test_kernels GOLDEN_DIR KERNEL\n"), 2;
  const std::string dir = argv[1], k = argv[2];
  const bool big = k == "dense_i8_split_big";
  if (k == "dispatch") return test_dispatch(), g_failures ? 1 : 0;
  if (k == "dense_q_shapes") return test_dense_q_shapes(), g_failures ? 1 : 0;
  if (k == "dense_q16_shapes") return test_dense_q16_shapes(), g_failures ? 1 : 0;
  if (k == "quantize_static16") return test_quantize_static16(), g_failures ? 1 : 0;
  g = read_golden(dir + "/" + (k == "quantize_row" ? std::string("dense_i8") : k) + ".bin");
  if (k == "standardize") test_standardize();
  else if (k == "dense_f32") test_dense_f32();
  else if (k == "dense_f32_widths") test_dense_f32_widths();
  else if (k == "dense_i8") test_dense_i8();
  else if (k == "dense_i8_split" || big) test_dense_i8_split();
  else if (k == "quantize_row") test_quantize_row();
  else if (k == "layernorm") test_layernorm();
  else if (k == "quantize_static") test_quantize_static();
  else if (k == "dense_q") test_dense_q();
  else if (k == "relu") test_act(false);
  else if (k == "gelu") test_act(true);
  else return std::fprintf(stderr, "unknown kernel %s\n", k.c_str()), 2;
  return g_failures ? 1 : 0;
}
