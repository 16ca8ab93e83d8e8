// pe::Engine over TensorRT 10 (a serialized engine plan): IRuntime::deserializeCudaEngine,
// IExecutionContext::setInputShape / setTensorAddress / enqueueV3 on a CUDA stream.
// Compiled only where CMake finds NvInfer.h, libnvinfer and the CUDA runtime.
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "make_engine.h"
#include "pe_runtime.hpp"

namespace pe {
namespace {

class Logger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kWARNING) std::fprintf(stderr, "tensorrt: %s\n", msg);
  }
};

bool cuda_ok(cudaError_t e, std::string* err) {
  if (e == cudaSuccess) return true;
  *err = cudaGetErrorString(e);
  return false;
}

class TrtEngine final : public Engine {
 public:
  explicit TrtEngine(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> plan((std::istreambuf_iterator<char>(in)), {});
    if (plan.empty()) throw std::runtime_error("cannot read the plan file");
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    engine_.reset(runtime_ ? runtime_->deserializeCudaEngine(plan.data(), plan.size()) : nullptr);
    if (!engine_) throw std::runtime_error("deserializeCudaEngine failed (plan built by another TensorRT or GPU?)");
    context_.reset(engine_->createExecutionContext());
    if (!context_) throw std::runtime_error("createExecutionContext failed");
    for (int i = 0; i < engine_->getNbIOTensors(); ++i) {
      const char* n = engine_->getIOTensorName(i);
      (engine_->getTensorIOMode(n) == nvinfer1::TensorIOMode::kINPUT ? in_name_ : out_name_) = n;
    }
    const auto in_dims = engine_->getTensorShape(in_name_.c_str());
    const auto out_dims = engine_->getTensorShape(out_name_.c_str());
    if (in_dims.nbDims != 2 || out_dims.nbDims != 2) throw std::runtime_error("expected [N, F] -> [N, C]");
    f_ = size_t(in_dims.d[1]);
    c_ = size_t(out_dims.d[1]);
    std::string err;
    if (!cuda_ok(cudaStreamCreate(&stream_), &err)) throw std::runtime_error(err);
  }
  ~TrtEngine() override {
    cudaFree(d_in_);
    cudaFree(d_out_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  const char* name() const override { return "tensorrt"; }
  size_t n_features() const override { return f_; }
  size_t n_classes() const override { return c_; }
  Status reserve(size_t max_rows) override {
    if (max_rows <= cap_) return Status::Ok();
    cudaFree(d_in_);
    cudaFree(d_out_);
    d_in_ = d_out_ = nullptr;
    cap_ = 0;
    std::string err;
    if (!cuda_ok(cudaMalloc(&d_in_, max_rows * f_ * sizeof(float)), &err) ||
        !cuda_ok(cudaMalloc(&d_out_, max_rows * c_ * sizeof(float)), &err))
      return Status::Error("tensorrt: cudaMalloc: " + err);
    cap_ = max_rows;
    return Status::Ok();
  }
  Status run(const float* x, size_t rows, float* logits) override {
    Status s = reserve(rows);
    if (!s.ok) return s;
    std::string err;
    nvinfer1::Dims2 shape(int64_t(rows), int64_t(f_));
    if (!context_->setInputShape(in_name_.c_str(), shape)) return Status::Error("tensorrt: setInputShape failed (batch outside the profile?)");
    context_->setTensorAddress(in_name_.c_str(), d_in_);
    context_->setTensorAddress(out_name_.c_str(), d_out_);
    if (!cuda_ok(cudaMemcpyAsync(d_in_, x, rows * f_ * sizeof(float), cudaMemcpyHostToDevice, stream_), &err))
      return Status::Error("tensorrt: " + err);
    if (!context_->enqueueV3(stream_)) return Status::Error("tensorrt: enqueueV3 failed");
    if (!cuda_ok(cudaMemcpyAsync(logits, d_out_, rows * c_ * sizeof(float), cudaMemcpyDeviceToHost, stream_), &err) ||
        !cuda_ok(cudaStreamSynchronize(stream_), &err))
      return Status::Error("tensorrt: " + err);
    return Status::Ok();
  }

 private:
  Logger logger_;
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  std::string in_name_, out_name_;
  cudaStream_t stream_ = nullptr;
  void* d_in_ = nullptr;
  void* d_out_ = nullptr;
  size_t f_ = 0, c_ = 0, cap_ = 0;
};

}  // namespace

std::unique_ptr<Engine> make_tensorrt_engine(const std::string& path, std::string* error) {
  return make_engine<TrtEngine>("tensorrt", path, error);
}

}  // namespace pe
