// Every adapter built into this binary against the PyTorch golden outputs; adapters whose SDK
// was absent at configure time print one skip line.
#include <string>

#include "pe_runtime.hpp"
#include "testutil.h"

namespace {

using Factory = std::unique_ptr<pe::Engine> (*)(const std::string&, std::string*);

void check(const char* label, Factory make, const std::string& path, const Array& x, const Array& want) {
  std::string err;
  auto e = make(path, &err);
  if (!e) {
    const bool absent = err.find("built without") != std::string::npos;
    std::printf("%s: %s %s\n", label, absent ? "skipped:" : "FAILED:", err.c_str());
    CHECK(absent);
    return;
  }
  CHECK(e->n_features() == x.cols() && e->n_classes() == want.cols());
  std::vector<float> y(want.f.size());
  const pe::Status s = e->run(x.f.data(), x.rows(), y.data());
  if (!s.ok) std::fprintf(stderr, "%s: %s\n", label, s.message.c_str());
  CHECK(s.ok);
  const double d = max_abs_diff(y.data(), want.f.data(), y.size(), 1e-5, label);
  std::printf("%s (%s): max abs diff vs torch %.3g\n", label, e->name(), d);
  CHECK(d <= 1e-5);
}

size_t g_static_rows = 0;
std::unique_ptr<pe::Engine> openvino_static(const std::string& path, std::string* error) {
  return pe::make_openvino_engine_static(path, g_static_rows, error);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: test_adapters GOLDEN_DIR\n"), 2;
  const std::string dir = argv[1];
  for (const char* m : {"mlp_relu", "bn_gelu_wide"}) {
    auto g = read_golden(dir + "/" + m + ".bin");
    const std::string base = dir + "/" + m;
    check("onnxruntime", pe::make_onnxruntime_engine, base + ".onnx", g.at("x"), g.at("y"));
    check("openvino", pe::make_openvino_engine, base + ".onnx", g.at("x"), g.at("y"));
    g_static_rows = g.at("x").rows();
    check("openvino static shape", openvino_static, base + ".onnx", g.at("x"), g.at("y"));
    std::string err;
    if (auto e = pe::make_openvino_engine_static(base + ".onnx", g_static_rows + 1, &err)) {
      std::vector<float> y(g.at("y").f.size());
      CHECK(!e->run(g.at("x").f.data(), g_static_rows, y.data()).ok);  // other row counts refused
    }
    check("libtorch", pe::make_libtorch_engine, base + ".pt", g.at("x"), g.at("y"));
    check("tensorrt", pe::make_tensorrt_engine, base + ".plan", g.at("x"), g.at("y"));
  }
  return g_failures ? 1 : 0;
}
