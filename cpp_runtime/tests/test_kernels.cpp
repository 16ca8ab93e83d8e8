// Each kernel against golden vectors written by gen_golden.py (PyTorch references).
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
  g = read_golden(dir + "/" + (k == "quantize_row" ? std::string("dense_i8") : k) + ".bin");
  if (k == "standardize") test_standardize();
  else if (k == "dense_f32") test_dense_f32();
  else if (k == "dense_f32_widths") test_dense_f32_widths();
  else if (k == "dense_i8") test_dense_i8();
  else if (k == "quantize_row") test_quantize_row();
  else if (k == "layernorm") test_layernorm();
  else if (k == "relu") test_act(false);
  else if (k == "gelu") test_act(true);
  else return std::fprintf(stderr, "unknown kernel %s\n", k.c_str()), 2;
  return g_failures ? 1 : 0;
}
