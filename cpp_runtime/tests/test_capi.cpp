// C API contract: null arguments, bad arguments, arena sizing, names, status strings.
#include <cstring>
#include <string>

#include "pe_runtime.hpp"
#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: test_capi MODEL.pem\n"), 2;
  pe_model m;
  CHECK(pe_model_load_file(nullptr, argv[1]) == PE_ERR_NULL_ARG);
  CHECK(pe_model_load_file(&m, "/nonexistent/model.pem") == PE_ERR_IO);
  CHECK(pe_model_init(&m, nullptr, 10) == PE_ERR_NULL_ARG);
  pe_model* h = nullptr;
  CHECK(pe_model_open("/nonexistent/model.pem", &h) == PE_ERR_IO && h == nullptr);
  CHECK(pe_model_open(argv[1], &h) == PE_OK && h != nullptr);
  if (!h) return 1;
  CHECK(pe_model_n_features(h) == 6 && pe_model_n_classes(h) == 3 && pe_model_precision(h) == PE_FP32);
  CHECK(std::string(pe_model_feature_name(h, 0)) == "f0" && std::string(pe_model_feature_name(h, 5)) == "f5");
  CHECK(std::string(pe_model_class_name(h, 0)) == "low" && std::string(pe_model_class_name(h, 2)) == "high");
  CHECK(pe_model_feature_name(h, 6) == nullptr && pe_model_class_name(h, 3) == nullptr);
  size_t one = 0, many = 0;
  CHECK(pe_arena_size(h, 0, &one) == PE_ERR_BAD_ARG);
  CHECK(pe_arena_size(h, 1, &one) == PE_OK && pe_arena_size(h, 100, &many) == PE_OK && many > one);
  std::vector<unsigned char> arena(one);
  std::vector<float> x(6 * 3, 1.0f), y(3 * 3);
  CHECK(pe_run(h, arena.data(), arena.size(), x.data(), 0, y.data()) == PE_ERR_BAD_ARG);
  CHECK(pe_run(h, arena.data(), arena.size(), nullptr, 1, y.data()) == PE_ERR_NULL_ARG);
  CHECK(pe_run(h, arena.data(), 8, x.data(), 1, y.data()) == PE_ERR_ARENA_TOO_SMALL);
  CHECK(pe_run(h, arena.data(), arena.size(), x.data(), 3, y.data()) == PE_OK);  // 3 rows, 1-row arena
  CHECK(std::memcmp(&y[0], &y[3], 12) == 0 && std::memcmp(&y[0], &y[6], 12) == 0);
  for (int s = 0; s <= 16; ++s) CHECK(std::strlen(pe_status_str(static_cast<pe_status>(s))) > 0);
  CHECK(pe_abi_version() == PE_ABI_VERSION);
  pe_model_close(h);
  pe_model zero{};
  CHECK(pe_arena_size(&zero, 1, &one) == PE_ERR_BAD_ARG);
  CHECK(pe_run(&zero, arena.data(), arena.size(), x.data(), 1, y.data()) == PE_ERR_BAD_ARG);
  pe::Model cpp;
  CHECK(!cpp.load_file("/nonexistent.pem").ok);
  CHECK(cpp.load_file(argv[1]).ok && cpp.feature_names().size() == 6);
  return g_failures ? 1 : 0;
}
