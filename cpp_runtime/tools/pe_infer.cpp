// pe-infer: runs a .pem model on a CSV (class + probabilities, or raw logits, per row), or checks
// an artifact's golden rows (golden.bin, FORMAT.md) with their tolerance.
// Columns are matched by name to the model's feature names (extra columns are ignored); the CSV
// rules and verdicts are the Python reader's (tools/csv.h).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "csv.h"
#include "golden.h"
#include "pe_runtime.hpp"

namespace {

constexpr size_t kChunk = 256;
const char* const kUsage =
    "usage: pe-infer [--logits] MODEL.pem INPUT.csv\n"
    "       pe-infer --golden GOLDEN.bin MODEL.pem\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "pe-infer: %s\n", msg.c_str());
  return 1;
}

void print_rows(const pe::Model& m, const std::vector<float>& logits, size_t rows,
                const std::vector<std::string>& classes, bool raw) {
  const size_t c = m.n_classes();
  std::vector<double> p(c);
  for (size_t r = 0; r < rows; ++r) {
    const float* l = &logits[r * c];
    if (raw) {  // %.9g: enough digits to give back every float32 bit for bit
      for (size_t k = 0; k < c; ++k) std::printf(k ? ",%.9g" : "%.9g", double(l[k]));
      std::printf("\n");
      continue;
    }
    size_t best = 0;
    double mx = l[0], sum = 0.0;
    for (size_t k = 1; k < c; ++k) if (l[k] > mx) mx = l[k], best = k;
    for (size_t k = 0; k < c; ++k) sum += (p[k] = std::exp(double(l[k]) - mx));
    std::printf("%s", classes[best].c_str());
    for (size_t k = 0; k < c; ++k) std::printf(",%.6f", p[k] / sum);
    std::printf("\n");
  }
}

// The header: first non-blank record, no duplicated names, every model feature present.
int read_header(pe_csv::Reader& in, const std::string& path, const std::vector<std::string>& features,
                std::vector<size_t>* cols, size_t* width) {
  std::vector<std::string> header;
  std::string err, missing;
  if (!in.next(&header, &err))
    return fail(err.empty() ? path + ": the file is empty (no header, no rows)" : err);
  const std::string dup = pe_csv::duplicated(header);
  if (!dup.empty()) return fail(path + ": duplicated column name(s) in the header: " + dup);
  if (!pe_csv::map_columns(header, features, cols, &missing))
    return fail(path + ": missing column(s): " + missing + " (model features)");
  *width = header.size();
  return 0;
}

int run_csv(const char* model_path, const std::string& path, bool raw) {
  pe::Model m;
  pe::Status s = m.load_file(model_path);
  if (!s.ok) return fail(s.message);
  pe_csv::Reader in;
  std::string err;
  if (!in.open(path, &err)) return fail(err);
  const auto features = m.feature_names(), classes = m.class_names();
  std::vector<size_t> cols;
  size_t width = 0;
  if (read_header(in, path, features, &cols, &width)) return 1;
  const size_t f = m.n_features();
  std::vector<float> x(kChunk * f), logits(kChunk * m.n_classes());
  if (!(s = m.reserve(kChunk)).ok) return fail(s.message);
  std::vector<std::string> fields;
  size_t rows = 0, data_row = 0;
  bool more = true, header_printed = false;
  while (more) {
    more = in.next(&fields, &err);
    if (!err.empty()) return fail(err);
    if (more) {
      const std::string where = path + ": line " + std::to_string(in.line()) + " (data row " +
                                std::to_string(++data_row) + ")";
      if (fields.size() != width)
        return fail(where + ": data row " + std::to_string(data_row) + " has " +
                    std::to_string(fields.size()) + " fields, expected " + std::to_string(width));
      for (size_t j = 0; j < f; ++j)
        if (!pe_csv::parse_float(fields[cols[j]], &x[rows * f + j]))
          return fail(where + ", column '" + features[j] + "': '" + fields[cols[j]] +
                      "' is not a finite decimal number");
      ++rows;
    } else if (data_row == 0) {
      return fail(path + ": the table has no data rows (only a header)");
    }
    if (rows && (rows == kChunk || !more)) {
      if (!(s = m.run(x.data(), rows, logits.data())).ok) return fail(s.message);
      if (!header_printed) {
        std::string head = raw ? "" : "class";
        for (size_t k = 0; k < classes.size(); ++k)
          head += (raw ? (k ? ",logit_" : "logit_") : ",p_") + classes[k];
        std::printf("%s\n", head.c_str());
        header_printed = true;
      }
      print_rows(m, logits, rows, classes, raw);
      rows = 0;
    }
  }
  return 0;
}

int run_golden(const std::string& golden_path, const char* model_path) {
  std::ifstream in(golden_path, std::ios::binary);
  if (!in) return fail("cannot open " + golden_path + ": " + std::strerror(errno ? errno : ENOENT));
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  pe_golden::View g;
  if (const char* why = pe_golden::decode(bytes.data(), bytes.size(), &g)) return fail(golden_path + ": " + why);
  pe::Model m;
  pe::Status s = m.load_file(model_path);
  if (!s.ok) return fail(s.message);
  if (g.features != m.n_features() || g.classes != m.n_classes())
    return fail(golden_path + ": golden rows have " + std::to_string(g.features) + " features and " +
                std::to_string(g.classes) + " classes, the model " + std::to_string(m.n_features()) +
                " and " + std::to_string(m.n_classes()));
  if (!(s = m.reserve(kChunk)).ok) return fail(s.message);
  std::vector<float> x(kChunk * g.features), y(kChunk * g.classes), ref(g.classes);
  pe_golden::Tally t;
  for (uint32_t r0 = 0; r0 < g.rows; r0 += kChunk) {
    const uint32_t n = g.rows - r0 < kChunk ? g.rows - r0 : uint32_t(kChunk);
    for (uint32_t i = 0; i < n; ++i) pe_golden::row_input(g, r0 + i, &x[size_t(i) * g.features]);
    if (!(s = m.run(x.data(), n, y.data())).ok) return fail(s.message);
    for (uint32_t i = 0; i < n; ++i) {
      pe_golden::row_ref(g, r0 + i, ref.data());
      pe_golden::add_row(g, ref.data(), &y[size_t(i) * g.classes], &t);
    }
  }
  char line[256];
  pe_golden::format_line(g, t, line, sizeof line);
  std::printf("%s\n", line);
  return pe_golden::passed(g, t) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 1 && (a[0] == "-h" || a[0] == "--help")) {
    std::printf("%s"
                "Prints 'class,p_<class>...' then one line per row: the predicted class and the\n"
                "softmax probabilities (--logits: the raw logits, %%.9g). CSV columns are matched\n"
                "by name to the model's features.\n"
                "--golden: runs the golden rows (golden.bin beside an exported artifact) and prints\n"
                "one line, 'golden K/N pass|FAIL, ...'; exit 0 when they pass, 1 otherwise.\n", kUsage);
    return 0;
  }
  if (a.size() == 3 && a[0] == "--golden") return run_golden(a[1], argv[3]);
  if (a.size() == 3 && a[0] == "--logits") return run_csv(argv[2], a[2], true);
  if (a.size() == 2 && a[0].rfind("--", 0) != 0) return run_csv(argv[1], a[1], false);
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}
