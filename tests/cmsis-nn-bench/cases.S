/* The layer cases written by `cargo xtask cmsis-nn`, linked into flash.
 * CASES_BIN is the path of cases.bin as a string literal (-D on the
 * command line). */
    .section .rodata.smn_cases, "a"
    .balign 8
    .global smn_cases
smn_cases:
    .incbin CASES_BIN
    .global smn_cases_end
smn_cases_end:
