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

// The baselines: plain loops over the same dense layers (standardize, dense+ReLU..., head, and the
// wide path z -> logits when the model has one), float accumulation, compiled with the same flags
// as the runtime. Two layouts: output-major dot products (the textbook loop; the compiler cannot
// vectorise the reduction without -ffast-math) and input-major axpy (the loop vectorises across
// outputs, as in the runtime's kernel). The runtime is compared with the faster of the two.
struct HandLoop {
  bool input_major;
  std::vector<size_t> dims;  // F, H1, ..., C
  std::vector<std::vector<float>> w, b;  // w[l]: [out][in], or [in][out] when input_major
  std::vector<float> mean, inv_std, buf_a, buf_b, z, wide;  // wide: like w, empty without one
  HandLoop(const pe_model* m, bool in_major) : input_major(in_major) {
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
  // y[o] (+)= sum_i w[o][i] x[i]  (output-major) or  y += x[i] * w[i][:]  (input-major)
  void dense(const float* x, const float* wl, const float* bl, size_t in, size_t out, float* y,
             bool relu, bool add) const {
    if (input_major) {
      float a[pe_fmt::kMaxDim];  // out <= kMaxDim: the loader enforces it
      for (size_t o = 0; o < out; ++o) a[o] = bl ? bl[o] : 0.f;
      for (size_t i = 0; i < in; ++i) {
        const float xv = x[i];
        const float* __restrict wr = wl + i * out;
        for (size_t o = 0; o < out; ++o) a[o] += xv * wr[o];
      }
      for (size_t o = 0; o < out; ++o) y[o] = add ? y[o] + a[o] : relu ? (a[o] > 0.f ? a[o] : 0.f) : a[o];
      return;
    }
    for (size_t o = 0; o < out; ++o) {
      float acc = bl ? bl[o] : 0.f;
      for (size_t i = 0; i < in; ++i) acc += wl[o * in + i] * x[i];
      y[o] = add ? y[o] + acc : relu ? (acc > 0.f ? acc : 0.f) : acc;
    }
  }
  void run(const float* x, size_t rows, float* y) {
    const size_t f = dims.front(), c = dims.back();
    for (size_t r = 0; r < rows; ++r) {
      for (size_t i = 0; i < f; ++i) z[i] = buf_a[i] = (x[r * f + i] - mean[i]) * inv_std[i];
      for (size_t l = 0; l + 1 < dims.size(); ++l) {
        const bool last = l + 2 == dims.size();
        dense(buf_a.data(), w[l].data(), b[l].data(), dims[l], dims[l + 1], last ? y + r * c : buf_b.data(),
              !last, false);
        if (!last) std::swap(buf_a, buf_b);
      }
      if (!wide.empty()) dense(z.data(), wide.data(), nullptr, f, c, y + r * c, false, true);
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
  HandEngine(const pe_model* m, bool input_major) : loop_(m, input_major) {}
  const char* name() const override { return loop_.input_major ? "hand_loop_in_major" : "hand_loop"; }
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
  std::fprintf(f, "  \"threads\": 1,\n  \"dispatch\": \"%s\",\n  \"results\": [\n", pe_dispatch_level());
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
  HandEngine hand(core.raw(), false), hand_in(core.raw(), true);
  bench(hand, "fp32", a, &rs);
  bench(hand_in, "fp32", a, &rs);
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
    for (size_t n : a.batches) {  // one static-shape compilation per batch size
      Args one = a;
      one.batches = {n};
      if (auto e = pe::make_openvino_engine_static(a.onnx, n, &err)) bench(*e, "fp32", one, &rs);
    }
  }
  if (!a.torchscript.empty()) {
    if (auto e = pe::make_libtorch_engine(a.torchscript, &err)) bench(*e, "fp32", a, &rs);
    else std::fprintf(stderr, "skipped: %s\n", err.c_str());
  }
  write_json(a, rs, core.raw());
  return 0;
}
