// CSV reading for pe-infer (see csv.h for the rules it shares with the Python reader).
#include "csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace pe_csv {

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  return s.substr(a, b - a);
}

bool blank(const std::vector<std::string>& f) { return f.size() == 1 && f[0].empty(); }

// The quoted part of a field, after its opening quote, into *cur ("" is one quote). Returns the
// character after the closing quote (-1 at the end of input), or -2 when the quote never closes.
template <class Get>
int read_quoted(Get& get, std::string* cur) {
  for (;;) {
    const int c = get();
    if (c < 0) return -2;
    if (c != '"') {
      cur->push_back(char(c));
      continue;
    }
    const int d = get();
    if (d != '"') return d;
    cur->push_back('"');
  }
}

// Parses one record from a character source; get() returns -1 at the end. Returns 0 for a
// record, 1 at the end of input, 2 for a quote left open. Text after a closing quote is kept,
// as Python's csv module does; fields are trimmed, as the Python side strips names and values.
template <class Get>
int parse_record(Get get, std::vector<std::string>* out) {
  out->clear();
  std::string cur;
  bool at_start = true;
  int c = get();
  if (c < 0) return 1;
  for (;;) {
    if (c < 0 || c == '\n' || c == ',') {
      out->push_back(trim(cur));
      cur.clear();
      at_start = true;
      if (c != ',') return 0;
    } else if (at_start && (c == ' ' || c == '\t')) {
      // pandas' skipinitialspace: blanks before a field (and its opening quote) are dropped
    } else if (at_start && c == '"') {
      at_start = false;
      c = read_quoted(get, &cur);
      if (c == -2) return 2;
      continue;
    } else {
      at_start = false;
      cur.push_back(char(c));
    }
    c = get();
  }
}

}  // namespace

bool Reader::open(const std::string& path, std::string* error) {
  path_ = path;
  in_.open(path, std::ios::binary);
  if (!in_) {
    *error = "cannot open " + path + ": " + std::strerror(errno ? errno : ENOENT);
    return false;
  }
  const char bom[3] = {'\xEF', '\xBB', '\xBF'};
  char head[3] = {0, 0, 0};
  in_.read(head, 3);
  if (in_.gcount() != 3 || std::memcmp(head, bom, 3) != 0) {
    in_.clear();
    in_.seekg(0);
  }
  return true;
}

int Reader::get() {
  const int c = in_.get();
  if (c == std::char_traits<char>::eof()) return -1;
  if (c == '\n') ++line_;
  return c;
}

bool Reader::next(std::vector<std::string>* fields, std::string* error) {
  error->clear();
  for (;;) {
    start_line_ = line_;
    const int r = parse_record([this] { return get(); }, fields);
    if (r == 1) return false;
    if (r == 2) {
      *error = path_ + ": line " + std::to_string(start_line_) + ": a quoted field is not closed";
      return false;
    }
    if (!blank(*fields)) return true;
  }
}

std::vector<std::string> split(const std::string& line) {
  std::istringstream s(line);
  std::vector<std::string> out;
  parse_record([&s] { const int c = s.get(); return c == std::char_traits<char>::eof() ? -1 : c; }, &out);
  return out;
}

std::string duplicated(const std::vector<std::string>& header) {
  std::string dup;
  for (size_t i = 0; i < header.size(); ++i) {
    bool first = true, again = false;
    for (size_t j = 0; j < header.size(); ++j) {
      if (header[j] != header[i] || j == i) continue;
      if (j < i) first = false;
      again = true;
    }
    if (again && first) dup += (dup.empty() ? "" : ", ") + header[i];
  }
  return dup;
}

bool map_columns(const std::vector<std::string>& header, const std::vector<std::string>& wanted,
                 std::vector<size_t>* cols, std::string* missing) {
  cols->clear();
  missing->clear();
  for (const auto& name : wanted) {
    size_t j = 0;
    while (j < header.size() && header[j] != name) ++j;
    if (j == header.size()) *missing += (missing->empty() ? "" : ", ") + name;
    cols->push_back(j);
  }
  return missing->empty();
}

static bool decimal_syntax(const std::string& s) {
  size_t i = 0, n = s.size(), digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (!digits) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++e;
    if (!e) return false;
  }
  return i == n;
}

bool parse_float(const std::string& field, float* out) {
  const std::string t = trim(field);
  if (!decimal_syntax(t)) return false;
  // strtod then a cast, as the Python side (float64 parse, then float32): an underflow to 0 or a
  // subnormal is a value; anything not finite as float32 is refused.
  const double d = std::strtod(t.c_str(), nullptr);
  const float v = static_cast<float>(d);
  if (!std::isfinite(d) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace pe_csv
