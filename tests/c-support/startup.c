/*
 * Minimal Cortex-M4 start-up for QEMU's mps2-an386: vector table, reset
 * handler (FPU on, .data copied from flash, .bss zeroed), SysTick wrap
 * counter and fault handlers that report over semihosting.
 */
#include <stdint.h>

#include "support.h"

/* Linker-script symbols (link.ld); only their addresses are used. */
extern uint32_t _sidata; /* load address of .data in flash */
extern uint32_t _sdata;  /* start of .data in RAM */
extern uint32_t _edata;  /* end of .data in RAM */
extern uint32_t _sbss;   /* start of .bss */
extern uint32_t _ebss;   /* end of .bss */
extern uint32_t _stack_top;

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

volatile uint32_t systick_wraps;

void SysTick_Handler(void);
void Reset_Handler(void);
static void fault_handler(void);

void SysTick_Handler(void)
{
    systick_wraps++;
}

static void fault_handler(void)
{
    app_fail("fault or unexpected exception");
}

void Reset_Handler(void)
{
    /* Full access to CP10/CP11: GCC may keep integers in FPU registers. */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
    {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
    {
        *dst++ = 0;
    }
    app_exit(app_main());
}

/* One entry of the vector table: the initial stack pointer or a handler. */
typedef union
{
    uint32_t *stack;
    void (*handler)(void);
} vector_entry;

__attribute__((section(".vectors"), used)) static const vector_entry vector_table[16] = {
    {.stack = &_stack_top},
    {.handler = Reset_Handler},
    {.handler = fault_handler}, /* NMI */
    {.handler = fault_handler}, /* HardFault */
    {.handler = fault_handler}, /* MemManage */
    {.handler = fault_handler}, /* BusFault */
    {.handler = fault_handler}, /* UsageFault */
    {.stack = 0},
    {.stack = 0},
    {.stack = 0},
    {.stack = 0},
    {.handler = fault_handler}, /* SVCall */
    {.handler = fault_handler}, /* DebugMonitor */
    {.stack = 0},
    {.handler = fault_handler}, /* PendSV */
    {.handler = SysTick_Handler},
};
