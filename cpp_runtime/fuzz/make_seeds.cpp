// make_seeds OUT_DIR MODEL.pem...: writes fuzz seeds with overflow shapes derived from valid
// models (header counts, offsets and sizes at 2^32-1, 2^31, the format's limits and one past;
// tensor dims whose byte size wraps 32 bits; offset + size wrapping; op dims and slots out of
// range), each with its file size and CRCs recomputed so that both harnesses parse past them.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pe_format.h"

namespace {

using Bytes = std::vector<uint8_t>;
void wr32(Bytes& b, size_t off, uint32_t v) {
  if (off + 4 > b.size()) return;
  for (int i = 0; i < 4; ++i) b[off + i] = uint8_t(v >> (8 * i));
}
void fix(Bytes& b) {
  wr32(b, pe_fmt::kFileSize, uint32_t(b.size()));
  wr32(b, pe_fmt::kPayloadCrc, pe_fmt::crc32(b.data() + 64, b.size() - 64));
  wr32(b, pe_fmt::kHeaderCrc, pe_fmt::crc32(b.data(), pe_fmt::kHeaderCrc));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return std::fprintf(stderr, "usage: make_seeds OUT_DIR MODEL.pem...\n"), 2;
  const uint32_t big[] = {0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 0x40000001u, 4097u, 65536u};
  int n = 0;
  for (int a = 2; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    const Bytes src((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (src.size() < 64) continue;
    const uint32_t nt = pe_fmt::rd32(src.data() + pe_fmt::kNTensors);
    const size_t ops = 64 + size_t(nt) * pe_fmt::kTensorEntry;
    std::vector<std::pair<size_t, uint32_t>> edits;
    for (uint32_t v : big)
      for (uint32_t f : {pe_fmt::kNFeatures, pe_fmt::kNClasses, pe_fmt::kNTensors, pe_fmt::kNOps,
                         pe_fmt::kNSlots, pe_fmt::kStringsOffset, pe_fmt::kStringsSize, pe_fmt::kDataOffset})
        edits.push_back({f, v});
    for (uint32_t f : {pe_fmt::kNFeatures, pe_fmt::kNClasses}) edits.push_back({f, pe_fmt::kMaxDim});
    edits.push_back({pe_fmt::kNTensors, pe_fmt::kMaxTensors});
    edits.push_back({pe_fmt::kNOps, pe_fmt::kMaxOps});
    edits.push_back({pe_fmt::kNSlots, pe_fmt::kMaxSlots});
    for (uint32_t t = 0; t < nt && t < 2; ++t) {  // tensor entries: dims, offset, nbytes
      const size_t e = 64 + size_t(t) * pe_fmt::kTensorEntry;
      for (uint32_t v : big) {
        edits.push_back({e + 8, v});
        edits.push_back({e + 12, v});
        edits.push_back({e + 16, v & ~63u});
        edits.push_back({e + 20, v});
      }
    }
    const uint32_t no = pe_fmt::rd32(src.data() + pe_fmt::kNOps);
    for (uint32_t o = 0; o < no && o < 2; ++o) {  // op entries: src, dst, in_dim, out_dim, tensors
      const size_t e = ops + size_t(o) * pe_fmt::kOpEntry;
      for (uint32_t v : {0xFFFFFFFFu, 4097u, 16u, 0x80000000u})
        for (size_t f = 4; f <= 28; f += 4) edits.push_back({e + f, v});
    }
    std::string base = argv[a];
    base = base.substr(base.find_last_of('/') + 1);
    for (const auto& [off, v] : edits) {
      Bytes b = src;
      wr32(b, off, v);
      if (off == 64 + 8) wr32(b, 64 + 12, v);  // dim0 = dim1 = v: the byte count wraps 32 bits
      fix(b);
      char name[64];
      std::snprintf(name, sizeof name, "/overflow_%03d_", n++);
      std::ofstream(argv[1] + std::string(name) + base, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    }
  }
  std::printf("make_seeds: %d overflow seeds in %s\n", n, argv[1]);
  return n ? 0 : 1;
}
