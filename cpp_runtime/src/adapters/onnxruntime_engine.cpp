// pe::Engine over ONNX Runtime's C/C++ API (model.onnx), single intra-op thread, CPU provider.
#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>
#include <vector>

#include "make_engine.h"
#include "pe_runtime.hpp"

namespace pe {
namespace {

class OrtEngine final : public Engine {
 public:
  explicit OrtEngine(const std::string& path)
      : env_(ORT_LOGGING_LEVEL_WARNING, "pe_runtime"), mem_(Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault)) {
    Ort::SessionOptions opts;
    opts.SetIntraOpNumThreads(1);
    opts.SetInterOpNumThreads(1);
    opts.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    session_ = std::make_unique<Ort::Session>(env_, path.c_str(), opts);
    Ort::AllocatorWithDefaultOptions alloc;
    in_name_ = session_->GetInputNameAllocated(0, alloc).get();
    out_name_ = session_->GetOutputNameAllocated(0, alloc).get();
    const auto in_shape = session_->GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
    const auto out_shape = session_->GetOutputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
    if (in_shape.size() != 2 || out_shape.size() != 2 || in_shape[1] < 1 || out_shape[1] < 1)
      throw std::runtime_error("expected [N, F] -> [N, C] float tensors");
    f_ = size_t(in_shape[1]);
    c_ = size_t(out_shape[1]);
  }
  const char* name() const override { return "onnxruntime"; }
  size_t n_features() const override { return f_; }
  size_t n_classes() const override { return c_; }
  Status reserve(size_t) override { return Status::Ok(); }
  Status run(const float* x, size_t rows, float* logits) override {
    try {
      const int64_t in_dims[2] = {int64_t(rows), int64_t(f_)}, out_dims[2] = {int64_t(rows), int64_t(c_)};
      Ort::Value in = Ort::Value::CreateTensor<float>(mem_, const_cast<float*>(x), rows * f_, in_dims, 2);
      Ort::Value out = Ort::Value::CreateTensor<float>(mem_, logits, rows * c_, out_dims, 2);
      const char* in_names[] = {in_name_.c_str()};
      const char* out_names[] = {out_name_.c_str()};
      session_->Run(run_opts_, in_names, &in, 1, out_names, &out, 1);
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Error(std::string("onnxruntime: ") + e.what());
    }
  }

 private:
  Ort::Env env_;
  Ort::MemoryInfo mem_;
  Ort::RunOptions run_opts_;
  std::unique_ptr<Ort::Session> session_;
  std::string in_name_, out_name_;
  size_t f_ = 0, c_ = 0;
};

}  // namespace

std::unique_ptr<Engine> make_onnxruntime_engine(const std::string& path, std::string* error) {
  return make_engine<OrtEngine>("onnxruntime", path, error);
}

}  // namespace pe
