// pe::Engine over libtorch for the TorchScript artifact (model.pt), one intra-op thread.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstring>
#include <memory>
#include <string>

#include "make_engine.h"
#include "pe_runtime.hpp"

namespace pe {
namespace {

class TorchEngine final : public Engine {
 public:
  explicit TorchEngine(const std::string& path) : module_(torch::jit::load(path)) {
    at::set_num_threads(1);
    module_.eval();
    for (const auto& b : module_.named_buffers()) {  // the Standardize layer holds the feature count
      if (b.name == "standardize.mean") f_ = size_t(b.value.numel());
    }
    if (!f_) throw std::runtime_error("no standardize.mean buffer: not a phoneprice_edge TorchScript model");
    c_ = size_t(forward(torch::zeros({1, int64_t(f_)})).size(1));
  }
  const char* name() const override { return "libtorch"; }
  size_t n_features() const override { return f_; }
  size_t n_classes() const override { return c_; }
  Status reserve(size_t) override { return Status::Ok(); }
  Status run(const float* x, size_t rows, float* logits) override {
    try {
      auto in = torch::from_blob(const_cast<float*>(x), {int64_t(rows), int64_t(f_)}, torch::kFloat32);
      const auto out = forward(in).contiguous();
      std::memcpy(logits, out.data_ptr<float>(), rows * c_ * sizeof(float));
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Error(std::string("libtorch: ") + e.what());
    }
  }

 private:
  torch::Tensor forward(const torch::Tensor& x) {
    c10::InferenceMode guard;
    return module_.forward({x}).toTensor();
  }
  torch::jit::script::Module module_;
  size_t f_ = 0, c_ = 0;
};

}  // namespace

std::unique_ptr<Engine> make_libtorch_engine(const std::string& path, std::string* error) {
  return make_engine<TorchEngine>("libtorch", path, error);
}

}  // namespace pe
