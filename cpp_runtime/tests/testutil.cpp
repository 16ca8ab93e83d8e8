// Test helpers.
#include "testutil.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

int g_failures = 0;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

static uint32_t u32(const std::vector<uint8_t>& b, size_t& p) {
  if (p + 4 > b.size()) throw std::runtime_error("golden file truncated");
  uint32_t v;
  std::memcpy(&v, &b[p], 4);
  p += 4;
  return v;
}

std::map<std::string, Array> read_golden(const std::string& path) {
  const auto b = read_file(path);
  size_t p = 0;
  std::map<std::string, Array> out;
  const uint32_t n = u32(b, p);
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t len = u32(b, p);
    std::string name(reinterpret_cast<const char*>(&b[p]), len);
    p += len;
    Array a;
    a.dtype = u32(b, p);
    const uint32_t nd = u32(b, p);
    size_t count = 1;
    for (uint32_t d = 0; d < nd; ++d) count *= a.dims.emplace_back(u32(b, p));
    const size_t bytes = count * (a.dtype == 2 ? 1 : 4);
    if (p + bytes > b.size()) throw std::runtime_error("golden file truncated: " + path);
    if (a.dtype == 2) a.i8.assign(reinterpret_cast<const int8_t*>(&b[p]), reinterpret_cast<const int8_t*>(&b[p]) + count);
    else if (a.dtype == 3) { a.i32.resize(count); std::memcpy(a.i32.data(), &b[p], bytes); }
    else { a.f.resize(count); std::memcpy(a.f.data(), &b[p], bytes); }
    p += bytes;
    out[name] = std::move(a);
  }
  return out;
}

double max_abs_diff(const float* a, const float* b, size_t n, double tol, const char* what) {
  double worst = 0.0;
  bool reported = false;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= worst)) worst = d;
    if (!(d <= tol) && !reported) {
      std::fprintf(stderr, "%s: element %zu: got %.9g want %.9g (|d| %.3g > %.3g)\n", what, i, a[i], b[i], d, tol);
      reported = true;
    }
  }
  return worst;
}
