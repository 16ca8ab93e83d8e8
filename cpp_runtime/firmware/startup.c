/* Cortex-M4 start-up for QEMU mps2-an386: vector table, reset (copy .data, zero .bss, enable the
 * FPU, C/C++ constructors, main), semihosting output and exit (ARM semihosting, BKPT 0xAB). */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

extern uint32_t __etext, __data_start, __data_end, __bss_start, __bss_end;
extern uint32_t __stack_bottom[], __stack_top[];
#define STACK_PAINT 0xA5A5A5A5u
extern void (*__preinit_array_start[])(void), (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void), (*__init_array_end[])(void);
int main(void);

static int semihost(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void sh_puts(const char* s) { semihost(0x04 /* SYS_WRITE0 */, s); }

void sh_exit(int code) {
  /* SYS_EXIT: QEMU exits 0 for ADP_Stopped_ApplicationExit, 1 for any other reason. */
  semihost(0x18, (const void*)(uintptr_t)(code == 0 ? 0x20026 : 0x20023));
  for (;;) {}
}

void Reset_Handler(void) {
  memcpy(&__data_start, &__etext, (size_t)((char*)&__data_end - (char*)&__data_start));
  memset(&__bss_start, 0, (size_t)((char*)&__bss_end - (char*)&__bss_start));
  /* Paint the stack below the current frame, so that main can report its high-water mark. */
  volatile uint32_t* const frame = (volatile uint32_t*)((uintptr_t)__stack_top - 256u);
  for (volatile uint32_t* p = __stack_bottom; p < frame; ++p) *p = STACK_PAINT;
  /* CPACR: full access to CP10/CP11 (the single-precision FPU), before any float instruction. */
  *(volatile uint32_t*)0xE000ED88 |= (0xFu << 20);
  __asm__ volatile("dsb\n isb" ::: "memory");
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  sh_exit(main());
}

unsigned sh_stack_used(void) {
  const uint32_t* p = __stack_bottom;
  while (p < __stack_top && *p == STACK_PAINT) ++p;
  return (unsigned)((const char*)__stack_top - (const char*)p);
}

static void Fault_Handler(void) {
  sh_puts("fault: hard fault or unexpected exception\n");
  sh_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, Reset_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0,
    Fault_Handler, Fault_Handler};
