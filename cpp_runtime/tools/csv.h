// CSV reading for pe-infer with the verdicts of the Python reader (phoneprice_edge/data/ingest.py
// + schema validation): RFC 4180 quoting ("" escapes, delimiters and newlines inside quotes), a
// UTF-8 BOM skipped, blank lines skipped, duplicated header names refused, every data row with
// exactly as many fields as the header, decimal numbers only (no hex, inf or nan).
#ifndef PE_TOOLS_CSV_H
#define PE_TOOLS_CSV_H

#include <fstream>
#include <string>
#include <vector>

namespace pe_csv {

class Reader {
 public:
  // False and *error = "cannot open PATH: <reason>" when the file cannot be read.
  bool open(const std::string& path, std::string* error);
  // The next non-blank record's fields (trimmed). False at the end (error empty) or for a
  // malformed record (*error says why and where).
  bool next(std::vector<std::string>* fields, std::string* error);
  size_t line() const { return start_line_; }  // the line the last record started on

 private:
  int get();
  std::ifstream in_;
  std::string path_;
  size_t line_ = 1, start_line_ = 0;
};

std::vector<std::string> split(const std::string& line);  // one record without newlines
// The names given more than once, comma-separated ("" when none).
std::string duplicated(const std::vector<std::string>& header);
// Map each wanted name to its column in header; false with every absent name in *missing.
bool map_columns(const std::vector<std::string>& header, const std::vector<std::string>& wanted,
                 std::vector<size_t>* cols, std::string* missing);
// A decimal number ([+-]digits[.digits][e[+-]digits], surrounding blanks allowed) that is finite
// as float32; false otherwise (empty, 0x10, inf, nan, 1e300).
bool parse_float(const std::string& field, float* out);

}  // namespace pe_csv
#endif
