// pe_runtime C++ API: an RAII model over the C API, and the Engine interface shared by the core
// runtime and the vendor adapters (ONNX Runtime, OpenVINO, libtorch, TensorRT). No exceptions
// cross this interface: failures are a pe::Status with a message.
#ifndef PE_RUNTIME_HPP
#define PE_RUNTIME_HPP

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pe_runtime.h"

namespace pe {

struct Status {
  bool ok = true;
  std::string message;
  static Status Ok() { return {}; }
  static Status Error(std::string msg) { return {false, std::move(msg)}; }
  // `what` is only turned into a string on error: the OK path allocates and copies nothing.
  static Status From(pe_status s, const char* what) {
    return s == PE_OK ? Ok() : Error(std::string(what) + ": " + pe_status_str(s));
  }
  static Status From(pe_status s, const std::string& what) { return From(s, what.c_str()); }
};

// One loaded model on one runtime: raw float32 features [rows, n_features] -> logits [rows, n_classes].
class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  virtual size_t n_features() const = 0;
  virtual size_t n_classes() const = 0;
  // Prepare for batches of up to max_rows rows (allocation happens here, not in run).
  virtual Status reserve(size_t max_rows) = 0;
  virtual Status run(const float* x, size_t rows, float* logits) = 0;
};

// The core runtime over a .pem file or in-memory bytes.
class Model final : public Engine {
 public:
  Model() = default;
  ~Model() override { pe_model_release(&m_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  Status load_file(const std::string& path) {
    pe_model_release(&m_);
    return Status::From(pe_model_load_file(&m_, path.c_str()), path);
  }
  // The bytes must stay alive and unchanged while the model is used.
  Status load_memory(const void* data, size_t size) {
    pe_model_release(&m_);
    return Status::From(pe_model_init(&m_, data, size), "model bytes");
  }
  const char* name() const override { return "pe_runtime"; }
  size_t n_features() const override { return m_.n_features; }
  size_t n_classes() const override { return m_.n_classes; }
  pe_precision precision() const { return static_cast<pe_precision>(m_.precision); }
  std::vector<std::string> feature_names() const { return names(m_.n_features, true); }
  std::vector<std::string> class_names() const { return names(m_.n_classes, false); }
  const pe_model* raw() const { return &m_; }

  Status reserve(size_t max_rows) override {
    size_t bytes = 0;
    const pe_status s = pe_arena_size(&m_, max_rows, &bytes);
    if (s != PE_OK) return Status::From(s, "arena size");
    if (arena_.size() < bytes) arena_.assign(bytes, 0);
    return Status::Ok();
  }
  Status run(const float* x, size_t rows, float* logits) override {
    if (arena_.empty()) {
      Status s = reserve(rows < 256 ? rows : 256);
      if (!s.ok) return s;
    }
    return Status::From(pe_run(&m_, arena_.data(), arena_.size(), x, rows, logits), "run");
  }

 private:
  std::vector<std::string> names(uint32_t n, bool features) const {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < n; ++i)
      out.emplace_back(features ? pe_model_feature_name(&m_, i) : pe_model_class_name(&m_, i));
    return out;
  }
  pe_model m_{};
  std::vector<unsigned char> arena_;
};

// Adapters: each returns nullptr and sets *error when its SDK is absent or loading fails.
// Declared always; defined only in builds where CMake found the SDK (see PE_HAVE_* macros).
std::unique_ptr<Engine> make_onnxruntime_engine(const std::string& onnx_path, std::string* error);
std::unique_ptr<Engine> make_openvino_engine(const std::string& model_path, std::string* error);
// OpenVINO compiled for exactly `rows` rows (a static shape, which the CPU plugin runs faster at
// small batches); run() with any other row count returns an error.
std::unique_ptr<Engine> make_openvino_engine_static(const std::string& model_path, size_t rows, std::string* error);
std::unique_ptr<Engine> make_libtorch_engine(const std::string& torchscript_path, std::string* error);
std::unique_ptr<Engine> make_tensorrt_engine(const std::string& plan_path, std::string* error);

}  // namespace pe
#endif
