// Internal: the adapters' factory body: construct an engine, or report why not in *error.
#ifndef PE_ADAPTERS_MAKE_ENGINE_H
#define PE_ADAPTERS_MAKE_ENGINE_H

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "pe_runtime.hpp"

namespace pe {

// E's constructor throws std::exception on any failure; the message becomes "tag: path: what".
template <class E, class... Args>
std::unique_ptr<Engine> make_engine(const char* tag, const std::string& path, std::string* error, Args&&... args) {
  try {
    return std::make_unique<E>(path, std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    if (error) *error = std::string(tag) + ": " + path + ": " + e.what();
    return nullptr;
  }
}

}  // namespace pe
#endif
