// pe-infer MODEL.pem INPUT.csv: prints the predicted class and the class probabilities per row.
// Columns are matched by name to the model's feature names (extra columns are ignored).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "csv.h"
#include "pe_runtime.hpp"

namespace {

constexpr size_t kChunk = 256;

void print_rows(const pe::Model& m, const std::vector<float>& logits, size_t rows,
                const std::vector<std::string>& classes) {
  const size_t c = m.n_classes();
  std::vector<double> p(c);
  for (size_t r = 0; r < rows; ++r) {
    const float* l = &logits[r * c];
    size_t best = 0;
    double mx = l[0], sum = 0.0;
    for (size_t k = 1; k < c; ++k) if (l[k] > mx) mx = l[k], best = k;
    for (size_t k = 0; k < c; ++k) sum += (p[k] = std::exp(double(l[k]) - mx));
    std::printf("%s", classes[best].c_str());
    for (size_t k = 0; k < c; ++k) std::printf(",%.6f", p[k] / sum);
    std::printf("\n");
  }
}

int run(const char* model_path, const char* csv_path) {
  pe::Model m;
  pe::Status s = m.load_file(model_path);
  if (!s.ok) return std::fprintf(stderr, "pe-infer: %s\n", s.message.c_str()), 1;
  std::ifstream in(csv_path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::fprintf(stderr, "pe-infer: %s: cannot read a header row\n", csv_path), 1;
  const auto features = m.feature_names(), classes = m.class_names();
  std::vector<size_t> cols;
  std::string missing;
  if (!pe_csv::map_columns(pe_csv::split(line), features, &cols, &missing))
    return std::fprintf(stderr, "pe-infer: %s: column '%s' (a model feature) is missing\n", csv_path, missing.c_str()), 1;
  std::printf("class");
  for (const auto& c : classes) std::printf(",p_%s", c.c_str());
  std::printf("\n");
  const size_t f = m.n_features();
  std::vector<float> x(kChunk * f), logits(kChunk * m.n_classes());
  if (!(s = m.reserve(kChunk)).ok) return std::fprintf(stderr, "pe-infer: %s\n", s.message.c_str()), 1;
  size_t rows = 0, line_no = 1;
  bool more = true;
  while (more) {
    more = static_cast<bool>(std::getline(in, line));
    if (more && line.find_first_not_of(" \t\r") != std::string::npos) {
      ++line_no;
      const auto fields = pe_csv::split(line);
      for (size_t j = 0; j < f; ++j) {
        if (cols[j] >= fields.size() || !pe_csv::parse_float(fields[cols[j]], &x[rows * f + j]))
          return std::fprintf(stderr, "pe-infer: %s: line %zu, column '%s': not a finite number\n",
                              csv_path, line_no, features[j].c_str()), 1;
      }
      ++rows;
    } else if (more) {
      ++line_no;
    }
    if (rows && (rows == kChunk || !more)) {
      if (!(s = m.run(x.data(), rows, logits.data())).ok) return std::fprintf(stderr, "pe-infer: %s\n", s.message.c_str()), 1;
      print_rows(m, logits, rows, classes);
      rows = 0;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::printf("usage: pe-infer MODEL.pem INPUT.csv\n"
                "Prints 'class,p_<class>...' then one line per row: the predicted class and the\n"
                "softmax probabilities. CSV columns are matched by name to the model's features.\n");
    return 0;
  }
  if (argc != 3) return std::fprintf(stderr, "usage: pe-infer MODEL.pem INPUT.csv\n"), 2;
  return run(argv[1], argv[2]);
}
