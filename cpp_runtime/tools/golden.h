// Golden rows (golden.bin, FORMAT.md): an allocation-free view and tolerance check usable on a
// microcontroller (firmware/), plus a file reader for host tools (pe-infer, pe-embed).
#ifndef PE_TOOLS_GOLDEN_H
#define PE_TOOLS_GOLDEN_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pe_golden {

constexpr size_t kHeader = 40;
constexpr uint32_t kMaxRows = 1u << 20;
constexpr uint32_t kMaxDim = 4096;

// Checked view over golden.bin bytes; inputs/logits point into them (read with row_input/row_ref).
struct View {
  uint32_t rows = 0, features = 0, classes = 0;
  float abs_tol = 0, rel_tol = 0, min_top1 = 0;
  const uint8_t* inputs = nullptr;
  const uint8_t* logits = nullptr;
};

inline uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline float rdf(const uint8_t* p) {
  const uint32_t u = rd32(p);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0);  // zlib's CRC-32, chainable

// nullptr when valid (fills *v); else a static one-phrase reason (size, magic, version, shape, CRC).
const char* decode(const uint8_t* data, size_t size, View* v);

// Copies row r's inputs / reference logits out as floats (the bytes need not be aligned).
inline void row_input(const View& v, uint32_t r, float* out) {
  std::memcpy(out, v.inputs + size_t(r) * v.features * 4, size_t(v.features) * 4);
}
inline void row_ref(const View& v, uint32_t r, float* out) {
  std::memcpy(out, v.logits + size_t(r) * v.classes * 4, size_t(v.classes) * 4);
}

// Running check, row by row: |got - ref| <= abs_tol + rel_tol * |ref| for every logit (double,
// as phoneprice_edge/golden.py), argmax agreement, and a CRC-32 of the logits' bytes so that
// two machines can compare their outputs bit for bit.
struct Tally {
  uint32_t rows = 0, bad_rows = 0, agree = 0, nonfinite = 0;
  double max_diff = 0.0;
  uint32_t crc = 0;
};

void add_row(const View& v, const float* ref, const float* got, Tally* t);
// Rows whose top-1 must agree: the smallest k with k / rows >= min_top1.
uint32_t needed_agree(const View& v);
bool passed(const View& v, const Tally& t);
// "golden K/N pass|FAIL, top-1 A/N (needs M), max |diff| 1.23e-06, logits crc32 89abcdef"
// (K = rows within tolerance). Deterministic formatting (no printf floats): the same text on
// every machine for the same bits.
void format_line(const View& v, const Tally& t, char* buf, size_t n);

}  // namespace pe_golden
#endif
