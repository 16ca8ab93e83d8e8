// pe::Engine over OpenVINO's C++ API (ONNX or IR), CPU plugin pinned to fp32, one thread; the
// batch dimension dynamic, or fixed at construction (static shape).
#include <cstring>
#include <memory>
#include <string>

#include <openvino/openvino.hpp>

#include "make_engine.h"
#include "pe_runtime.hpp"

namespace pe {
namespace {

class OvEngine final : public Engine {
 public:
  OvEngine(const std::string& path, size_t static_rows) : static_rows_(static_rows) {
    std::shared_ptr<ov::Model> model = core_.read_model(path);
    const auto in = model->input().get_partial_shape(), out = model->output().get_partial_shape();
    if (in.rank().get_length() != 2 || out.rank().get_length() != 2 || in[1].is_dynamic() || out[1].is_dynamic())
      throw std::runtime_error("expected [N, F] -> [N, C] tensors with static F and C");
    f_ = size_t(in[1].get_length());
    c_ = size_t(out[1].get_length());
    if (static_rows_) model->reshape(ov::PartialShape{int64_t(static_rows_), int64_t(f_)});
    // Pin fp32: the CPU plugin otherwise runs bf16 on CPUs with avx512_bf16.
    compiled_ = core_.compile_model(model, "CPU", ov::hint::inference_precision(ov::element::f32),
                                    ov::inference_num_threads(1),
                                    ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY));
    request_ = compiled_.create_infer_request();
  }
  const char* name() const override { return static_rows_ ? "openvino_static" : "openvino"; }
  size_t n_features() const override { return f_; }
  size_t n_classes() const override { return c_; }
  Status reserve(size_t) override { return Status::Ok(); }
  Status run(const float* x, size_t rows, float* logits) override {
    if (static_rows_ && rows != static_rows_)
      return Status::Error("openvino: compiled for " + std::to_string(static_rows_) + " rows, got " + std::to_string(rows));
    try {
      ov::Tensor in(ov::element::f32, ov::Shape{rows, f_}, const_cast<float*>(x));
      request_.set_input_tensor(in);
      request_.infer();
      const ov::Tensor out = request_.get_output_tensor();
      if (out.get_size() != rows * c_) return Status::Error("openvino: unexpected output size");
      std::memcpy(logits, out.data<const float>(), rows * c_ * sizeof(float));
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Error(std::string("openvino: ") + e.what());
    }
  }

 private:
  ov::Core core_;
  ov::CompiledModel compiled_;
  ov::InferRequest request_;
  size_t static_rows_ = 0, f_ = 0, c_ = 0;
};

}  // namespace

std::unique_ptr<Engine> make_openvino_engine_static(const std::string& path, size_t rows, std::string* error) {
  return make_engine<OvEngine>("openvino", path, error, rows);
}

std::unique_ptr<Engine> make_openvino_engine(const std::string& path, std::string* error) {
  return make_openvino_engine_static(path, 0, error);
}

}  // namespace pe
