/*
 * Support code shared by the bare-metal C programs under QEMU mps2-an386
 * (tests/cmsis-nn-bench, tests/c-firmware): semihosting output and exit,
 * line formatting without printf, SysTick instruction counting and the
 * stack high-water mark. See support.h.
 */
#include <stdint.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Semihosting (ARM semihosting via `bkpt 0xab`). Output goes to the host's
 * stdout through a handle on ":tt" (QEMU sends SYS_WRITE0 to stderr).      */

#define SYS_OPEN 0x01
#define SYS_WRITE 0x05
#define SYS_EXIT 0x18
#define OPEN_MODE_W 4 /* fopen mode "w" */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023

static int32_t semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void app_exit(int status)
{
    /* On AArch32 the SYS_EXIT argument is the reason code itself. */
    const uintptr_t reason = status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUN_TIME_ERROR;
    semihost(SYS_EXIT, (const void *)reason);
    for (;;)
    {
        __asm__ volatile("udf #0");
    }
}


void put_str(struct line *l, const char *s)
{
    while (*s != '\0' && l->len + 1 < sizeof l->text)
    {
        l->text[l->len++] = *s++;
    }
}

void put_u64(struct line *l, uint64_t v)
{
    char digits[20];
    uint32_t n = 0;
    do
    {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0u && l->len + 1 < sizeof l->text)
    {
        l->text[l->len++] = digits[--n];
    }
}

void put_i32(struct line *l, int32_t v)
{
    if (v < 0)
    {
        put_str(l, "-");
        put_u64(l, (uint64_t)(-(int64_t)v));
    }
    else
    {
        put_u64(l, (uint64_t)v);
    }
}

void put_hex32(struct line *l, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0 && l->len + 1 < sizeof l->text; shift -= 4)
    {
        l->text[l->len++] = hex[(v >> shift) & 0xFu];
    }
}

/* Semihosting handle of the host's stdout, or -1 before the first line. */
static int32_t stdout_handle = -1;

/* Terminates the line with '\n' and prints it (the put_* helpers leave
 * room for it: len <= sizeof text - 2). */
void emit(struct line *l)
{
    if (stdout_handle < 0)
    {
        static const char tt[] = ":tt";
        const uintptr_t open_args[3] = {(uintptr_t)tt, OPEN_MODE_W, sizeof tt - 1};
        stdout_handle = semihost(SYS_OPEN, open_args);
    }
    l->text[l->len++] = '\n';
    const uintptr_t write_args[3] = {(uintptr_t)stdout_handle, (uintptr_t)l->text, l->len};
    semihost(SYS_WRITE, write_args);
    l->len = 0;
}

/* `key value` */
void print_value(const char *key, uint64_t value)
{
    struct line l = {.len = 0};
    put_str(&l, key);
    put_str(&l, " ");
    put_u64(&l, value);
    emit(&l);
}

void app_fail(const char *what)
{
    struct line l = {.len = 0};
    put_str(&l, "error ");
    put_str(&l, what);
    emit(&l);
    app_exit(1);
}

/* ------------------------------------------------------------------------ */
/* Instruction counting with SysTick.                                       */

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SYST_RELOAD 0x00FFFFFFu
#define ICSR_PENDSTSET (1u << 26)

void start_systick(void)
{
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* processor clock, interrupt on wrap, enable */
    /* The counter reads 0 until the first clock edge loads the reload value
     * (not a wrap); start measuring after it. */
    for (uint32_t spins = 0; SYST_CVR == 0u && spins < 1000000u; spins++)
    {
    }
}

/* 64-bit tick count since start_systick (counts up). */
__attribute__((noinline)) uint64_t ticks(void)
{
    __asm__ volatile("" ::: "memory");
    for (;;)
    {
        const uint32_t before = systick_wraps;
        const uint32_t current = SYST_CVR;
        const uint32_t pending = SCB_ICSR & ICSR_PENDSTSET;
        if (systick_wraps != before)
        {
            continue;
        }
        /* A wrap that happened but whose exception has not run yet. */
        const uint64_t wraps = (uint64_t)before + ((pending != 0u && current > SYST_RELOAD / 2u) ? 1u : 0u);
        __asm__ volatile("" ::: "memory");
        return wraps * ((uint64_t)SYST_RELOAD + 1u) + (SYST_RELOAD - current);
    }
}

/* Executes exactly 2 * iterations instructions (iterations >= 1). */
__attribute__((noinline)) static void spin(uint32_t iterations)
{
    __asm__ volatile("1:\n\t"
                     "subs %0, %0, #1\n\t"
                     "bne 1b"
                     : "+r"(iterations)
                     :
                     : "cc");
}

uint64_t measure_spin(uint32_t iterations)
{
    const uint64_t start = ticks();
    spin(iterations);
    return ticks() - start;
}

/* ------------------------------------------------------------------------ */
/* Stack high-water mark: paint the free stack, find the deepest change.    */

extern uint32_t _ebss;
extern uint32_t _stack_top;

#define STACK_PAINT 0x5A5AA5A5u

void paint_stack(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    /* Leave 256 bytes below the current stack pointer untouched. */
    for (volatile uint32_t *p = &_ebss; (uintptr_t)(p + 1) <= sp - 256u; p++)
    {
        *p = STACK_PAINT;
    }
}

uint32_t stack_high_water(void)
{
    const volatile uint32_t *p = &_ebss;
    while (p < &_stack_top && *p == STACK_PAINT)
    {
        p++;
    }
    return (uint32_t)((uintptr_t)&_stack_top - (uintptr_t)p);
}

