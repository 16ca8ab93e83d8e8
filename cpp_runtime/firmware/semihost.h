/* Semihosting output and exit for the firmware (startup.c). */
#ifndef PE_FW_SEMIHOST_H
#define PE_FW_SEMIHOST_H
#ifdef __cplusplus
extern "C" {
#endif
void sh_puts(const char* s);            /* a NUL-terminated string to the host's stdout */
unsigned sh_stack_used(void);           /* bytes of stack touched so far (painted at reset) */
void sh_exit(int code) __attribute__((noreturn));  /* ends QEMU: exit status 0 or 1 */
#ifdef __cplusplus
}
#endif
#endif
