// Firmware that checks an embedded model's golden rows on a Cortex-M4 (QEMU mps2-an386):
// the model and golden.bin are compiled in (model_pem.h, golden_rows.h from tools/pe-embed), each
// row runs at batch 1 from a static one-row arena, and the check is FORMAT.md's tolerance
// (tools/golden.*, the same code as pe-infer --golden). Prints flash and RAM use and the
// instructions per row (SysTick under QEMU's -icount shift=0, calibrated against a loop of known
// length); the last line is "golden K/N pass|FAIL, ..., logits crc32 X". Exit status 0 on pass.
#include <stdint.h>

#include "golden.h"
#include "golden_rows.h"
#include "model_pem.h"
#include "pe_runtime.h"
#include "semihost.h"

extern "C" char __flash_used[], __ram_used[], __stack_size[];

namespace {

pe_model g_model;
alignas(64) unsigned char g_arena[PE_FW_ARENA_BYTES];
float g_x[PE_FW_FEATURES], g_y[PE_FW_CLASSES], g_ref[PE_FW_CLASSES];

volatile uint32_t& reg(uint32_t addr) { return *reinterpret_cast<volatile uint32_t*>(addr); }
void systick_start() {
  reg(0xE000E014) = 0xFFFFFFu;  // SYST_RVR: full 24-bit range
  reg(0xE000E018) = 0;          // SYST_CVR
  reg(0xE000E010) = 5;          // SYST_CSR: enable, processor clock, no interrupt
}
uint32_t ticks() { return reg(0xE000E018); }  // counts down
uint32_t elapsed(uint32_t from) { return (from - ticks()) & 0xFFFFFFu; }

void put(const char* s) { sh_puts(s); }
void put_u(uint64_t v) {
  char b[24];
  int i = 23;
  b[i] = '\0';
  do b[--i] = char('0' + v % 10); while ((v /= 10) != 0);
  sh_puts(b + i);
}
[[noreturn]] void fail(const char* what, const char* why) {
  put("firmware: ");
  put(what);
  put(": ");
  put(why);
  put("\n");
  sh_exit(1);
}

// Instructions per SysTick tick x 1000 (a 2-instruction loop of known length).
uint32_t calibrate() {
  constexpr uint32_t kIter = 200000;
  uint32_t n = kIter;
  const uint32_t t0 = ticks();
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
  const uint32_t t = elapsed(t0);
  return t ? uint32_t(uint64_t(2 * kIter) * 1000u / t) : 0;
}

// SysTick ticks for all golden rows: row copy + pe_run when run, the row copy alone otherwise.
uint32_t time_rows(const pe_golden::View& g, bool run) {
  const uint32_t t0 = ticks();
  for (uint32_t r = 0; r < g.rows; ++r) {
    pe_golden::row_input(g, r, g_x);
    if (run) pe_run(&g_model, g_arena, sizeof g_arena, g_x, 1, g_y);
    __asm__ volatile("" : : "r"(g_y) : "memory");
  }
  return elapsed(t0);
}

}  // namespace

int main() {
  pe_status s = pe_model_init(&g_model, pe_model_data, pe_model_data_len);
  if (s != PE_OK) fail("model", pe_status_str(s));
  size_t need = 0;
  if (pe_arena_size(&g_model, 1, &need) != PE_OK || need > sizeof g_arena) fail("arena", "too small for one row");
  pe_golden::View g;
  if (const char* why = pe_golden::decode(pe_golden_data, pe_golden_data_len, &g)) fail("golden rows", why);
  if (g.features != g_model.n_features || g.classes != g_model.n_classes) fail("golden rows", "shape differs from the model");
  put("firmware: cortex-m4 mps2-an386, model ");
  put_u(pe_model_data_len);
  put(" B (");
  put(g_model.precision == PE_INT8 ? "int8" : "fp32");
#ifdef PE_ACCUM_FLOAT
  put(", built with PE_ACCUM_FLOAT=1");
#else
  put(", default accumulators");
#endif
  put("), golden rows ");
  put_u(g.rows);
  put(" (");
  put_u(pe_golden_data_len);
  put(" B), arena ");
  put_u(need);
  put(" B\n");
  put("firmware: flash ");
  put_u(reinterpret_cast<uintptr_t>(__flash_used));
  put(" B, RAM ");
  put_u(reinterpret_cast<uintptr_t>(__ram_used));
  put(" B (stack ");
  put_u(reinterpret_cast<uintptr_t>(__stack_size));
  put(" B)\n");

  systick_start();
  const uint32_t per_tick = calibrate();  // x1000
  const uint32_t with_run = time_rows(g, true), copy_only = time_rows(g, false);
  const uint64_t insns = (uint64_t(with_run > copy_only ? with_run - copy_only : 0) * per_tick) / 1000u;
  put("firmware: instructions per row ");
  put_u(g.rows ? (insns + g.rows / 2) / g.rows : 0);
  put(" (pe_run at batch 1, SysTick under -icount shift=0, ");
  put_u(per_tick / 1000);
  put(".");
  put_u(per_tick % 1000 / 100);
  put(" instructions per tick)\n");

  pe_golden::Tally t;
  for (uint32_t r = 0; r < g.rows; ++r) {
    pe_golden::row_input(g, r, g_x);
    s = pe_run(&g_model, g_arena, sizeof g_arena, g_x, 1, g_y);
    if (s != PE_OK) fail("run", pe_status_str(s));
    pe_golden::row_ref(g, r, g_ref);
    pe_golden::add_row(g, g_ref, g_y, &t);
  }
  put("firmware: stack used ");
  put_u(sh_stack_used());
  put(" B\n");
  char line[160];
  pe_golden::format_line(g, t, line, sizeof line);
  put(line);
  put("\n");
  return pe_golden::passed(g, t) ? 0 : 1;
}
