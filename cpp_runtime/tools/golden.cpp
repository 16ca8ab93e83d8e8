// golden.bin decoding and the tolerance check of FORMAT.md "Golden rows"; no allocation, no stdio
// (the firmware links this file as is).
#include "golden.h"

namespace pe_golden {

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) {
    c ^= data[i];
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}

const char* decode(const uint8_t* d, size_t size, View* v) {
  if (size < kHeader + 4) return "truncated (shorter than the 44-byte minimum)";
  if (std::memcmp(d, "PEGOLDEN", 8) != 0) return "not a golden-rows file (bad magic)";
  if (rd32(d + 8) != 1) return "golden format version is not 1";
  const uint32_t rows = rd32(d + 12), feats = rd32(d + 16), classes = rd32(d + 20);
  if (rows > kMaxRows || feats == 0 || classes == 0 || feats > kMaxDim || classes > kMaxDim)
    return "implausible shape (rows, features or classes)";
  const uint64_t want = kHeader + 4ull * rows * (uint64_t(feats) + classes) + 4;
  if (size != want) return "size differs from what its header says (truncated?)";
  if (crc32(d, size - 4) != rd32(d + size - 4)) return "CRC mismatch (file damaged or modified)";
  v->rows = rows;
  v->features = feats;
  v->classes = classes;
  v->abs_tol = rdf(d + 28);
  v->rel_tol = rdf(d + 32);
  v->min_top1 = rdf(d + 36);
  v->inputs = d + kHeader;
  v->logits = d + kHeader + 4ull * rows * feats;
  return nullptr;
}

static uint32_t argmax(const float* x, uint32_t n) {
  uint32_t best = 0;
  for (uint32_t k = 1; k < n; ++k)
    if (x[k] > x[best]) best = k;  // the first maximum, as numpy's argmax
  return best;
}

void add_row(const View& v, const float* ref, const float* got, Tally* t) {
  bool bad = false;
  for (uint32_t k = 0; k < v.classes; ++k) {
    const double g = got[k], r = ref[k];
    if (!std::isfinite(g)) {
      bad = true;
      ++t->nonfinite;
      continue;
    }
    const double diff = std::fabs(g - r);
    if (diff > t->max_diff) t->max_diff = diff;
    if (diff > double(v.abs_tol) + double(v.rel_tol) * std::fabs(r)) bad = true;
  }
  t->bad_rows += bad;
  t->agree += argmax(got, v.classes) == argmax(ref, v.classes);
  t->crc = crc32(reinterpret_cast<const uint8_t*>(got), size_t(v.classes) * 4, t->crc);
  ++t->rows;
}

uint32_t needed_agree(const View& v) {
  uint32_t k = 0;
  while (k < v.rows && double(k) / double(v.rows) < double(v.min_top1)) ++k;
  return k;
}

bool passed(const View& v, const Tally& t) {
  if (t.rows != v.rows || t.nonfinite) return false;
  if (v.rows == 0) return true;
  return t.bad_rows == 0 && double(t.agree) / double(v.rows) >= double(v.min_top1);
}

namespace {

struct Out {
  char* p;
  size_t left;
  void put(const char* s) {
    while (*s && left > 1) *p++ = *s++, --left;
    *p = '\0';
  }
  void num(uint32_t x) {
    char tmp[12];
    int i = 11;
    tmp[i] = '\0';
    do tmp[--i] = char('0' + x % 10); while ((x /= 10) != 0);
    put(tmp + i);
  }
  void hex(uint32_t x) {
    char tmp[9];
    for (int i = 7; i >= 0; --i, x >>= 4) tmp[i] = "0123456789abcdef"[x & 15u];
    tmp[8] = '\0';
    put(tmp);
  }
  void sci(double x) {  // 3 significant digits, d.dde[+-]XX; same text wherever doubles are IEEE
    if (!(x == x)) return put("nan");
    if (x > 1e308) return put("inf");
    if (x == 0.0) return put("0");
    int e = 0;
    while (x >= 10.0) x /= 10.0, ++e;
    while (x < 1.0) x *= 10.0, --e;
    uint32_t m = uint32_t(x * 100.0 + 0.5);
    if (m >= 1000) m /= 10, ++e;
    const char d[5] = {char('0' + m / 100), '.', char('0' + m / 10 % 10), char('0' + m % 10), '\0'};
    put(d);
    put(e < 0 ? "e-" : "e+");
    const uint32_t ae = uint32_t(e < 0 ? -e : e);
    if (ae < 10) put("0");
    num(ae);
  }
};

}  // namespace

void format_line(const View& v, const Tally& t, char* buf, size_t n) {
  if (!n) return;
  Out o{buf, n};
  *buf = '\0';
  o.put("golden ");
  o.num(t.rows - t.bad_rows);
  o.put("/");
  o.num(v.rows);
  o.put(passed(v, t) ? " pass" : " FAIL");
  o.put(", top-1 ");
  o.num(t.agree);
  o.put("/");
  o.num(v.rows);
  o.put(" (needs ");
  o.num(needed_agree(v));
  o.put("), max |diff| ");
  o.sci(t.max_diff);
  if (t.nonfinite) {
    o.put(", ");
    o.num(t.nonfinite);
    o.put(" non-finite logits");
  }
  o.put(", logits crc32 ");
  o.hex(t.crc);
}

}  // namespace pe_golden
