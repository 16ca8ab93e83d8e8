/* Firmware-style use of pe_runtime from C: the model is a const array compiled in (model_pem.h),
 * the model descriptor and the arena are static; no file system and no heap. */
#include <stdio.h>

#include "model_pem.h"
#include "pe_runtime.h"

static pe_model g_model;
static _Alignas(64) unsigned char g_arena[4096];

int main(void) {
  pe_status s = pe_model_init(&g_model, pe_model_data, pe_model_data_len);
  if (s != PE_OK) {
    printf("model rejected: %s\n", pe_status_str(s));
    return 1;
  }
  size_t need = 0;
  s = pe_arena_size(&g_model, 1, &need);
  if (s != PE_OK || need > sizeof g_arena) {
    printf("arena: need %u bytes, have %u\n", (unsigned)need, (unsigned)sizeof g_arena);
    return 1;
  }
  float x[64] = {0};
  float logits[64];
  if (g_model.n_features > 64 || g_model.n_classes > 64) return 1;
  for (uint32_t i = 0; i < g_model.n_features; ++i) x[i] = (float)i;
  s = pe_run(&g_model, g_arena, sizeof g_arena, x, 1, logits);
  if (s != PE_OK) {
    printf("run failed: %s\n", pe_status_str(s));
    return 1;
  }
  uint32_t best = 0;
  for (uint32_t k = 1; k < g_model.n_classes; ++k)
    if (logits[k] > logits[best]) best = k;
  printf("arena %u bytes, predicted class: %s\n", (unsigned)need, pe_model_class_name(&g_model, best));
  return 0;
}
