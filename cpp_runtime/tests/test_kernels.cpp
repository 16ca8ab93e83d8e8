// Each kernel against golden vectors written by gen_golden.py (PyTorch references).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "pe_kernels.h"
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: test_kernels GOLDEN_DIR KERNEL\n"), 2;
  const std::string dir = argv[1], k = argv[2];
  const bool big = k == "dense_i8_split_big";
  g = read_golden(dir + "/" + (k == "quantize_row" ? std::string("dense_i8") : k) + ".bin");
  if (k == "standardize") test_standardize();
  else if (k == "dense_f32") test_dense_f32();
  else if (k == "dense_f32_widths") test_dense_f32_widths();
  else if (k == "dense_i8") test_dense_i8();
  else if (k == "dense_i8_split" || big) test_dense_i8_split();
  else if (k == "quantize_row") test_quantize_row();
  else if (k == "layernorm") test_layernorm();
  else if (k == "relu") test_act(false);
  else if (k == "gelu") test_act(true);
  else return std::fprintf(stderr, "unknown kernel %s\n", k.c_str()), 2;
  return g_failures ? 1 : 0;
}
