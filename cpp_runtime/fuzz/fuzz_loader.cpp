// libFuzzer entry: any byte string goes through pe_model_init; a model that validates is run on
// one and on three rows, so the run path is fuzzed against whatever the loader accepts.
#include <cstdint>
#include <cstring>
#include <vector>

#include "pe_runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint32_t> buf(size / 4 + 1);  // 4-byte aligned copy, exactly `size` bytes used
  if (size) std::memcpy(buf.data(), data, size);
  pe_model m;
  if (pe_model_init(&m, buf.data(), size) != PE_OK) return 0;
  size_t bytes = 0;
  if (pe_arena_size(&m, 3, &bytes) != PE_OK) return 0;
  std::vector<unsigned char> arena(bytes);
  std::vector<float> x(size_t(m.n_features) * 3, 0.5f), y(size_t(m.n_classes) * 3);
  pe_run(&m, arena.data(), arena.size(), x.data(), 3, y.data());
  for (uint32_t i = 0; i < m.n_features; ++i) (void)pe_model_feature_name(&m, i);
  return 0;
}
