// Minimal CSV reading for pe-infer: a header row, comma-separated numeric fields, simple quotes.
#ifndef PE_TOOLS_CSV_H
#define PE_TOOLS_CSV_H

#include <istream>
#include <string>
#include <vector>

namespace pe_csv {

std::vector<std::string> split(const std::string& line);
// Map each wanted name to its column in header; returns false and sets *missing otherwise.
bool map_columns(const std::vector<std::string>& header, const std::vector<std::string>& wanted,
                 std::vector<size_t>* cols, std::string* missing);
// Parse one field as a finite float; false when it is empty, not a number or not finite.
bool parse_float(const std::string& field, float* out);

}  // namespace pe_csv
#endif
