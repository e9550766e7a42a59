/*
 * CMSIS-NN side-by-side benchmark for QEMU mps2-an386 (Cortex-M4).
 *
 * The layer cases come from `cases.bin`, written by `cargo xtask cmsis-nn`
 * (xtask/src/cmsis_nn.rs, which must stay in sync with this file) and linked
 * into flash by cases.S. All values are little-endian.
 *
 *   header  (BENCH_HEADER_WORDS x uint32):
 *     magic "SMNC", format version, case count, words per case record,
 *     byte offset of the first record, largest output (bytes), largest
 *     concat tensor (bytes), reserved
 *   records (case count x struct bench_case, BENCH_CASE_WORDS int32 each)
 *   arrays  (int8 / int32, each 8-byte aligned, addressed by byte offsets
 *            from the start of the file)
 */
#ifndef SMN_CMSIS_NN_BENCH_H
#define SMN_CMSIS_NN_BENCH_H

#include <stdint.h>

#define BENCH_MAGIC 0x434E4D53u /* "SMNC" */
#define BENCH_VERSION 1u
#define BENCH_HEADER_WORDS 8u
#define BENCH_CASE_WORDS 32u

/* What a case runs. */
enum bench_kind
{
    /* arm_convolve_wrapper_s8 (3x3 and other spatial kernels). */
    KIND_CONV = 1,
    /* Requantise a and b into one concat tensor, then arm_convolve_1x1_s8_fast. */
    KIND_CONCAT_CONV1X1 = 2,
    /* arm_max_pool_s8. */
    KIND_MAX_POOL = 3,
    /* arm_fully_connected_per_channel_s8. */
    KIND_FULLY_CONNECTED = 4,
};

/* One layer case. Offsets are bytes from the start of cases.bin. */
struct bench_case
{
    int32_t kind;     /* enum bench_kind */
    int32_t op_index; /* firmware-core op the case belongs to */
    int32_t in_h, in_w, in_c; /* input (input a for a concat) */
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w, stride_h, stride_w;
    int32_t pad_h, pad_w; /* top / left padding */
    int32_t input_offset;  /* -zero point of the (concat) input */
    int32_t output_offset; /* zero point of the output */
    int32_t act_min, act_max;
    uint32_t input;       /* int8 NHWC (input a for a concat) */
    uint32_t weights;     /* int8 OHWI, or out x in for a fully connected layer */
    uint32_t bias;        /* int32 per output channel */
    uint32_t multipliers; /* int32 per output channel */
    uint32_t shifts;      /* int32 per output channel */
    /* Concat only: input b and the requantisation of a and b to the concat
     * tensor's quantisation (whose zero point is -input_offset). */
    int32_t in_b_c;
    uint32_t input_b;
    int32_t a_zero_point, a_multiplier, a_shift;
    int32_t b_zero_point, b_multiplier, b_shift;
    int32_t reserved;
};

/* C99 compile-time check of the record size (a negative array size fails). */
typedef char bench_case_layout_check[sizeof(struct bench_case) == 4 * BENCH_CASE_WORDS ? 1 : -1];


#endif
