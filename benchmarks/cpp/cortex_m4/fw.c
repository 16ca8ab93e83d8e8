/* Cortex-M4 (QEMU mps2-an386) instruction counter for the core runtime: runs the rows of
 * inputs.h through pe_run one at a time and prints instructions per row (SysTick on the CPU
 * clock under -icount shift=0, calibrated against a loop of known length) and an FNV-1a hash of
 * the logits' bits (compared with x86 by run.sh). Semihosting for output and exit. */
#include <stdint.h>
#include <string.h>

#include "inputs.h"
#include "model_pem.h"
#include "pe_runtime.h"

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
#define CPACR (*(volatile uint32_t*)0xE000ED88u)

static int semihost(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
static void puts_sh(const char* s) { semihost(0x04, s); }
static void put_u32(const char* label, uint32_t v) {
  char buf[64], *p = buf + sizeof buf;
  *--p = 0;
  *--p = '\n';
  do { *--p = (char)('0' + v % 10); v /= 10; } while (v);
  puts_sh(label);
  puts_sh(p);
}
static void put_hex(const char* label, uint32_t v) {
  char buf[12];
  for (int i = 0; i < 8; ++i) buf[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
  buf[8] = '\n';
  buf[9] = 0;
  puts_sh(label);
  puts_sh(buf);
}
static uint32_t ticks(void) { return SYST_CVR; }
static uint32_t elapsed(uint32_t from, uint32_t to) { return (from - to) & 0xFFFFFFu; } /* 24-bit, counts down */

__attribute__((noinline)) static void spin(uint32_t n) {  /* 2 instructions per iteration */
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
}

static uint8_t arena[4096] __attribute__((aligned(64)));
static float logits[PE_ROWS * 8];

int main(void) {
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 5u; /* enable, processor clock, no interrupt */
  while (ticks() == 0) {} /* until the first reload */
  uint32_t t0 = ticks();
  spin(100000);
  const uint32_t cal = elapsed(t0, ticks()); /* ticks for 200000 instructions */
  pe_model m;
  pe_status s = pe_model_init(&m, pe_model_data, pe_model_data_len);
  if (s != PE_OK) { puts_sh(pe_status_str(s)); return 1; }
  size_t need = 0;
  if (pe_arena_size(&m, 1, &need) != PE_OK || need > sizeof arena) { puts_sh("arena too small\n"); return 1; }
  pe_run(&m, arena, need, pe_inputs, 1, logits); /* warm-up */
  t0 = ticks();
  for (uint32_t r = 0; r < PE_ROWS; ++r)
    pe_run(&m, arena, need, pe_inputs + r * m.n_features, 1, logits + r * m.n_classes);
  const uint32_t dt = elapsed(t0, ticks());
  uint32_t h = 2166136261u;
  const uint8_t* b = (const uint8_t*)logits;
  for (uint32_t i = 0; i < PE_ROWS * m.n_classes * 4u; ++i) h = (h ^ b[i]) * 16777619u;
  put_u32("rows ", PE_ROWS);
  put_u32("instructions_per_row ", (uint32_t)((uint64_t)dt * 200000u / cal / PE_ROWS));
  put_u32("calibration_ticks_per_200k ", cal);
  put_hex("logits_fnv1a ", h);
  return 0;
}

extern uint32_t __bss_start__, __bss_end__, __stack_top__;
void Reset_Handler(void) {
  CPACR |= 0xFu << 20; /* CP10, CP11: the FPU */
  __asm__ volatile("dsb\n isb");
  memset(&__bss_start__, 0, (size_t)((char*)&__bss_end__ - (char*)&__bss_start__));
  const int rc = main();
  semihost(0x18, (const void*)(rc == 0 ? 0x20026u : 0x20023u)); /* AArch32: r1 = the reason itself */
  for (;;) {}
}
static void Default_Handler(void) { puts_sh("fault\n"); semihost(0x18, (const void*)0x20023u); for (;;) {} }
__attribute__((section(".vectors"), used)) static const void* const vectors[16] = {
    &__stack_top__, (void*)Reset_Handler, (void*)Default_Handler, (void*)Default_Handler,
    (void*)Default_Handler, (void*)Default_Handler, (void*)Default_Handler};
