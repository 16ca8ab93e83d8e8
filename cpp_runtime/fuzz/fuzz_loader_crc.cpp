// libFuzzer entry that gets past the checksums: the header's file size and both CRC-32s are
// rewritten for every input before pe_model_init, so byte mutations reach the layout, tensor,
// string and graph checks and the run path instead of stopping at PE_ERR_CHECKSUM (as most
// inputs of fuzz_loader.cpp do). Inputs shorter than the header go through unchanged.
#include <cstdint>
#include <cstring>
#include <vector>

#include "pe_format.h"
#include "pe_runtime.h"

namespace {
void wr32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint32_t> buf(size / 4 + 1);  // 4-byte aligned copy, exactly `size` bytes used
  if (size) std::memcpy(buf.data(), data, size);
  uint8_t* b = reinterpret_cast<uint8_t*>(buf.data());
  if (size >= pe_fmt::kHeaderSize) {
    wr32(b + pe_fmt::kFileSize, uint32_t(size));
    wr32(b + pe_fmt::kPayloadCrc, pe_fmt::crc32(b + pe_fmt::kHeaderSize, size - pe_fmt::kHeaderSize));
    wr32(b + pe_fmt::kHeaderCrc, pe_fmt::crc32(b, pe_fmt::kHeaderCrc));
  }
  pe_model m;
  if (pe_model_init(&m, b, size) != PE_OK) return 0;
  for (size_t rows : {size_t(1), size_t(3)}) {
    size_t bytes = 0;
    if (pe_arena_size(&m, rows, &bytes) != PE_OK) return 0;
    std::vector<unsigned char> arena(bytes);
    std::vector<float> x(size_t(m.n_features) * rows, 0.5f), y(size_t(m.n_classes) * rows);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 7) - 3) * 1.7f;
    pe_run(&m, arena.data(), arena.size(), x.data(), rows, y.data());
  }
  for (uint32_t i = 0; i < m.n_features; ++i) (void)pe_model_feature_name(&m, i);
  for (uint32_t i = 0; i < m.n_classes; ++i) (void)pe_model_class_name(&m, i);
  return 0;
}
