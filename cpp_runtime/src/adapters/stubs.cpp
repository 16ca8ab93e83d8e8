// Factories for the adapters this build lacks: they report which SDK was missing at configure time.
#include <memory>
#include <string>

#include "pe_runtime.hpp"

namespace pe {
namespace {
std::unique_ptr<Engine> missing(const char* what, std::string* error) {
  if (error) *error = std::string("pe_runtime was built without the ") + what + " adapter (SDK not found at configure time)";
  return nullptr;
}
}  // namespace

#ifndef PE_HAVE_ONNXRUNTIME
std::unique_ptr<Engine> make_onnxruntime_engine(const std::string&, std::string* e) { return missing("ONNX Runtime", e); }
#endif
#ifndef PE_HAVE_OPENVINO
std::unique_ptr<Engine> make_openvino_engine(const std::string&, std::string* e) { return missing("OpenVINO", e); }
std::unique_ptr<Engine> make_openvino_engine_static(const std::string&, size_t, std::string* e) {
  return missing("OpenVINO", e);
}
#endif
#ifndef PE_HAVE_LIBTORCH
std::unique_ptr<Engine> make_libtorch_engine(const std::string&, std::string* e) { return missing("libtorch", e); }
#endif
#ifndef PE_HAVE_TENSORRT
std::unique_ptr<Engine> make_tensorrt_engine(const std::string&, std::string* e) { return missing("TensorRT", e); }
#endif
}  // namespace pe
