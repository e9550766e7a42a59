/*
 * Bare-metal support for the C programs run under QEMU mps2-an386
 * (Cortex-M4): start-up (startup.c), semihosting output and exit, printf-free
 * line formatting, SysTick instruction counting and the stack high-water
 * mark (support.c). Each program supplies app_main() and a linker script
 * with its MEMORY regions that INCLUDEs sections.ld.
 */
#ifndef SMN_C_SUPPORT_H
#define SMN_C_SUPPORT_H

#include <stdint.h>

/* The program: runs after start-up; its return value is the exit status. */
int app_main(void);
/* Ends the QEMU run (semihosting SYS_EXIT), status 0 = success. */
__attribute__((noreturn)) void app_exit(int status);
/* Prints `error <what>` and exits with a failure status. */
__attribute__((noreturn)) void app_fail(const char *what);

/* One output line under construction (the put_* helpers stop short of the
 * end, leaving room for the newline emit adds). */
struct line
{
    char text[512];
    uint32_t len;
};

void put_str(struct line *l, const char *s);
void put_u64(struct line *l, uint64_t v);
void put_i32(struct line *l, int32_t v);
void put_hex32(struct line *l, uint32_t v);
/* Ends the line with '\n', writes it to the host's stdout, empties it. */
void emit(struct line *l);
/* `key value` */
void print_value(const char *key, uint64_t value);

/* SysTick on the processor clock, reload 0xFFFFFF, wraps counted. With QEMU
 * `-icount shift=0` a tick is a fixed number of executed instructions. */
void start_systick(void);
/* 64-bit tick count since start_systick. */
uint64_t ticks(void);
/* Ticks of a `subs`/`bne` loop of `iterations` (2 instructions each). */
uint64_t measure_spin(uint32_t iterations);
/* SysTick wraps, counted by SysTick_Handler (startup.c). */
extern volatile uint32_t systick_wraps;

/* Paints the free stack; stack_high_water() then gives the bytes used. */
void paint_stack(void);
uint32_t stack_high_water(void);

#endif
