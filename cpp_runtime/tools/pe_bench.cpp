// pe-bench-cpp: batch-1 / batch-N latency of the core runtime (fp32, int8), a hand-written loop of
// the same layer sizes, and the ONNX Runtime / OpenVINO / libtorch C++ APIs, in one process.
// Medians over many timed blocks; JSON on stdout or --out FILE.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../src/pe_format.h"
#include "pe_runtime.hpp"

namespace {

struct Args {
  std::string pem, pem_int8, onnx, torchscript, out;
  std::vector<size_t> batches{1, 1024};
  int blocks = 301;
};

struct Result {
  std::string engine, precision;
  size_t batch;
  double p50_us, p90_us;
};

// Time fn over `blocks` blocks of `inner` calls each; returns sorted per-call microseconds.
std::vector<double> time_calls(const std::function<void()>& fn, int blocks) {
  using clk = std::chrono::steady_clock;
  for (int i = 0; i < 200; ++i) fn();
  auto t0 = clk::now();
  int probe = 0;
  while (clk::now() - t0 < std::chrono::milliseconds(20)) fn(), ++probe;
  const int inner = std::max(1, probe / 20);  // ~1 ms blocks
  std::vector<double> us;
  for (int b = 0; b < blocks; ++b) {
    const auto s = clk::now();
    for (int i = 0; i < inner; ++i) fn();
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - s).count() / inner);
  }
  std::sort(us.begin(), us.end());
  return us;
}

// The baseline: a plain loop over the same dense layers (standardize, dense+ReLU..., head, and
// the wide path z -> logits when the model has one).
struct HandLoop {
  std::vector<size_t> dims;  // F, H1, ..., C
  std::vector<std::vector<float>> w, b;
  std::vector<float> mean, inv_std, buf_a, buf_b, z, wide;  // wide: C x F, empty without one
  explicit HandLoop(const pe_model* m) {
    dims.push_back(m->n_features);
    bool has_wide = false;
    for (uint32_t i = 0; i < m->n_ops; ++i) {
      const auto op = pe_fmt::op_at(m->ops, i);
      if (op.kind != pe_fmt::kDense) continue;
      if (op.flags & pe_fmt::kAccumulate) has_wide = true;
      else dims.push_back(op.out_dim);
    }
    std::mt19937 rng(0);
    std::normal_distribution<float> nd(0.f, 0.3f);
    for (size_t l = 0; l + 1 < dims.size(); ++l) {
      w.emplace_back(dims[l] * dims[l + 1]);
      b.emplace_back(dims[l + 1]);
      for (auto& v : w.back()) v = nd(rng);
      for (auto& v : b.back()) v = nd(rng);
    }
    if (has_wide) {
      wide.resize(dims.back() * dims.front());
      for (auto& v : wide) v = nd(rng);
    }
    mean.assign(dims[0], 1.0f);
    inv_std.assign(dims[0], 0.5f);
    z.resize(dims[0]);
    const size_t widest = *std::max_element(dims.begin(), dims.end());
    buf_a.resize(widest);
    buf_b.resize(widest);
  }
  void run(const float* x, size_t rows, float* y) {
    for (size_t r = 0; r < rows; ++r) {
      for (size_t i = 0; i < dims[0]; ++i) z[i] = buf_a[i] = (x[r * dims[0] + i] - mean[i]) * inv_std[i];
      for (size_t l = 0; l + 1 < dims.size(); ++l) {
        const size_t in = dims[l], out = dims[l + 1];
        const bool last = l + 2 == dims.size();
        float* dst = last ? y + r * out : buf_b.data();
        for (size_t o = 0; o < out; ++o) {
          float acc = b[l][o];
          for (size_t i = 0; i < in; ++i) acc += w[l][o * in + i] * buf_a[i];
          dst[o] = last ? acc : (acc > 0.f ? acc : 0.f);
        }
        if (!last) std::swap(buf_a, buf_b);
      }
      if (!wide.empty()) {
        const size_t f = dims.front(), c = dims.back();
        for (size_t o = 0; o < c; ++o) {
          float acc = 0.f;
          for (size_t i = 0; i < f; ++i) acc += wide[o * f + i] * z[i];
          y[r * c + o] += acc;
        }
      }
    }
  }
};

void bench(pe::Engine& e, const char* prec, const Args& a, std::vector<Result>* out) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (size_t n : a.batches) {
    std::vector<float> x(n * e.n_features()), y(n * e.n_classes());
    for (auto& v : x) v = nd(rng);
    if (!e.reserve(n).ok) continue;
    bool ok = true;
    const auto us = time_calls([&] { ok = e.run(x.data(), n, y.data()).ok && ok; }, a.blocks);
    if (!ok) { std::fprintf(stderr, "%s: run failed\n", e.name()); return; }
    out->push_back({e.name(), prec, n, us[us.size() / 2], us[us.size() * 9 / 10]});
    std::fprintf(stderr, "%-12s %-5s batch %5zu  p50 %10.3f us  p90 %10.3f us\n", e.name(), prec, n,
                 us[us.size() / 2], us[us.size() * 9 / 10]);
  }
}

class HandEngine final : public pe::Engine {
 public:
  explicit HandEngine(const pe_model* m) : loop_(m) {}
  const char* name() const override { return "hand_loop"; }
  size_t n_features() const override { return loop_.dims.front(); }
  size_t n_classes() const override { return loop_.dims.back(); }
  pe::Status reserve(size_t) override { return pe::Status::Ok(); }
  pe::Status run(const float* x, size_t rows, float* y) override { loop_.run(x, rows, y); return pe::Status::Ok(); }
 private:
  HandLoop loop_;
};

bool parse(int argc, char** argv, Args* a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--pem") a->pem = v;
    else if (k == "--pem-int8") a->pem_int8 = v;
    else if (k == "--onnx") a->onnx = v;
    else if (k == "--torchscript") a->torchscript = v;
    else if (k == "--out") a->out = v;
    else if (k == "--blocks") a->blocks = std::max(11, std::atoi(v.c_str()));
    else if (k == "--batches") {
      a->batches.clear();
      for (size_t p = 0; p < v.size();) {
        a->batches.push_back(std::stoul(v.substr(p)));
        p = v.find(',', p);
        p = p == std::string::npos ? v.size() : p + 1;
      }
    } else return false;
  }
  return argc % 2 == 1 && !a->pem.empty();
}

void write_json(const Args& a, const std::vector<Result>& rs, const pe_model* m) {
  FILE* f = a.out.empty() ? stdout : std::fopen((a.out + ".tmp").c_str(), "w");
  if (!f) return;
  std::fprintf(f, "{\n  \"model\": {\"pem\": \"%s\", \"n_features\": %u, \"n_classes\": %u, \"n_ops\": %u},\n",
               a.pem.c_str(), m->n_features, m->n_classes, m->n_ops);
  std::fprintf(f, "  \"threads\": 1,\n  \"results\": [\n");
  for (size_t i = 0; i < rs.size(); ++i)
    std::fprintf(f, "    {\"engine\": \"%s\", \"precision\": \"%s\", \"batch_size\": %zu, \"p50_us\": %.4f, \"p90_us\": %.4f}%s\n",
                 rs[i].engine.c_str(), rs[i].precision.c_str(), rs[i].batch, rs[i].p50_us, rs[i].p90_us,
                 i + 1 < rs.size() ? "," : "");
  std::fprintf(f, "  ]\n}\n");
  if (f != stdout) {
    std::fclose(f);
    std::rename((a.out + ".tmp").c_str(), a.out.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, &a))
    return std::fprintf(stderr, "usage: pe-bench-cpp --pem M.pem [--pem-int8 M8.pem] [--onnx M.onnx] "
                                "[--torchscript M.pt] [--batches 1,1024] [--blocks N] [--out FILE.json]\n"), 2;
  std::vector<Result> rs;
  pe::Model core;
  if (auto s = core.load_file(a.pem); !s.ok) return std::fprintf(stderr, "%s\n", s.message.c_str()), 1;
  HandEngine hand(core.raw());
  bench(hand, "fp32", a, &rs);
  bench(core, "fp32", a, &rs);
  if (!a.pem_int8.empty()) {
    pe::Model q;
    if (auto s = q.load_file(a.pem_int8); s.ok) bench(q, "int8", a, &rs);
  }
  std::string err;
  if (!a.onnx.empty()) {
    if (auto e = pe::make_onnxruntime_engine(a.onnx, &err)) bench(*e, "fp32", a, &rs);
    else std::fprintf(stderr, "skipped: %s\n", err.c_str());
    if (auto e = pe::make_openvino_engine(a.onnx, &err)) bench(*e, "fp32", a, &rs);
    else std::fprintf(stderr, "skipped: %s\n", err.c_str());
  }
  if (!a.torchscript.empty()) {
    if (auto e = pe::make_libtorch_engine(a.torchscript, &err)) bench(*e, "fp32", a, &rs);
    else std::fprintf(stderr, "skipped: %s\n", err.c_str());
  }
  write_json(a, rs, core.raw());
  return 0;
}
