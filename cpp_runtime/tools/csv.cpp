// Minimal CSV reading for pe-infer.
#include "csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace pe_csv {

static std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  std::string t = s.substr(a, b - a);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(trim(cur));
  return out;
}

bool map_columns(const std::vector<std::string>& header, const std::vector<std::string>& wanted,
                 std::vector<size_t>* cols, std::string* missing) {
  cols->clear();
  for (const auto& name : wanted) {
    size_t j = 0;
    while (j < header.size() && header[j] != name) ++j;
    if (j == header.size()) {
      *missing = name;
      return false;
    }
    cols->push_back(j);
  }
  return true;
}

bool parse_float(const std::string& field, float* out) {
  if (field.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(field.c_str(), &end);
  if (end != field.c_str() + field.size() || errno == ERANGE || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace pe_csv
