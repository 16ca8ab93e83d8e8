// Test helpers: golden .bin reader, file reading, tolerant comparison, CHECK macro.
#ifndef PE_TESTUTIL_H
#define PE_TESTUTIL_H

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

struct Array {
  uint32_t dtype = 1;  // 1 float32, 2 int8, 3 int32
  std::vector<uint32_t> dims;
  std::vector<float> f;
  std::vector<int8_t> i8;
  std::vector<int32_t> i32;
  size_t rows() const { return dims.empty() ? 1 : dims[0]; }
  size_t cols() const { return dims.size() < 2 ? (dims.empty() ? 1 : dims[0]) : dims[1]; }
};

std::map<std::string, Array> read_golden(const std::string& path);
std::vector<uint8_t> read_file(const std::string& path);
// Max abs difference; prints the first mismatch beyond tol.
double max_abs_diff(const float* a, const float* b, size_t n, double tol, const char* what);

extern int g_failures;
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                                 \
    }                                                                               \
  } while (0)

#endif
