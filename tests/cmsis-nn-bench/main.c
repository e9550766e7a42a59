/*
 * CMSIS-NN side-by-side benchmark (see bench.h for the case file format).
 *
 * For every layer case written by `cargo xtask cmsis-nn` this program runs
 * the CMSIS-NN kernel once, counts the instructions it takes with SysTick
 * (QEMU `-icount shift=0`: SysTick on the core clock advances with executed
 * instructions; reload 0xFFFFFF plus a wrap counter, calibrated with a
 * `subs`/`bne` loop of known length, exactly as tests/firmware does), and
 * prints over semihosting
 *
 *   case <index> <op_index> <kind> <ticks> <crc32 of the output, hex> <scratch bytes>
 *
 * followed by the calibration, the stack high-water mark and `done 1`.
 * Nothing else is timed: the case data stays in flash, outputs go to static
 * RAM buffers.
 */
#include <stdint.h>
#include <string.h>

#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"
#include "bench.h"
#include "support.h"

/* ------------------------------------------------------------------------ */
/* CRC-32 (IEEE 802.3), as firmware-core's crc32.                           */

static uint32_t crc32(const int8_t *data, uint32_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < len; i++)
    {
        crc ^= (uint8_t)data[i];
        for (int k = 0; k < 8; k++)
        {
            crc = (crc & 1u) != 0u ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
    }
    return ~crc;
}

/* ------------------------------------------------------------------------ */
/* The cases.                                                               */

extern const uint8_t smn_cases[];     /* cases.S */
extern const uint8_t smn_cases_end[]; /* cases.S */

#define OUTPUT_CAPACITY (128u * 1024u)
#define CONCAT_CAPACITY (128u * 1024u)
#define SCRATCH_CAPACITY (16u * 1024u)

static int8_t output_buf[OUTPUT_CAPACITY] __attribute__((aligned(8)));
static int8_t concat_buf[CONCAT_CAPACITY] __attribute__((aligned(8)));
static int16_t scratch_buf[SCRATCH_CAPACITY / 2u] __attribute__((aligned(8)));

/* `bytes` bytes at `offset` of the case file, or a failure. */
static const void *case_data(uint32_t offset, uint32_t bytes)
{
    const uint32_t size = (uint32_t)(smn_cases_end - smn_cases);
    if (offset > size || bytes > size - offset || (offset & 7u) != 0u)
    {
        app_fail("case data out of bounds or misaligned");
    }
    return smn_cases + offset;
}

static uint32_t elements(int32_t h, int32_t w, int32_t c)
{
    if (h <= 0 || w <= 0 || c <= 0)
    {
        app_fail("non-positive tensor dimension");
    }
    return (uint32_t)h * (uint32_t)w * (uint32_t)c;
}

static cmsis_nn_context scratch(int32_t bytes)
{
    if (bytes < 0 || (uint32_t)bytes > SCRATCH_CAPACITY)
    {
        app_fail("scratch buffer too small");
    }
    cmsis_nn_context ctx = {.buf = scratch_buf, .size = bytes};
    return ctx;
}

/* Per-output-channel quantisation of a case (CMSIS-NN takes non-const pointers; it only reads them). */
static cmsis_nn_per_channel_quant_params channel_quant(const struct bench_case *c)
{
    const uint32_t n = (uint32_t)c->out_c * 4u;
    cmsis_nn_per_channel_quant_params q = {
        .multiplier = (int32_t *)(uintptr_t)case_data(c->multipliers, n),
        .shift = (int32_t *)(uintptr_t)case_data(c->shifts, n),
    };
    return q;
}

/*
 * TFLite-style int8 -> int8 requantisation of `pixels` x `channels` values
 * into every `stride`-th group of the concat tensor `dst`:
 * q' = clamp(MultiplyByQuantizedMultiplier(q - zp_in, M, shift) + zp_out).
 * An identity (same scale and zero point) is a plain copy.
 */
static void requantise_into(int8_t *dst,
                            uint32_t stride,
                            const int8_t *src,
                            uint32_t channels,
                            uint32_t pixels,
                            int32_t zp_in,
                            int32_t multiplier,
                            int32_t shift,
                            int32_t zp_out)
{
    if (multiplier == (1 << 30) && shift == 1 && zp_in == zp_out)
    {
        for (uint32_t p = 0; p < pixels; p++)
        {
            memcpy(dst + p * stride, src + p * channels, channels);
        }
        return;
    }
    for (uint32_t p = 0; p < pixels; p++)
    {
        int8_t *out = dst + p * stride;
        const int8_t *in = src + p * channels;
        for (uint32_t i = 0; i < channels; i++)
        {
            int32_t v = arm_nn_requantize((int32_t)in[i] - zp_in, multiplier, shift) + zp_out;
            v = v < -128 ? -128 : v;
            v = v > 127 ? 127 : v;
            out[i] = (int8_t)v;
        }
    }
}

/* Result of one case. */
struct case_result
{
    uint64_t ticks;
    uint32_t output_len;
    int32_t scratch_bytes;
};

static struct case_result run_conv(const struct bench_case *c)
{
    const uint32_t in_len = elements(c->in_h, c->in_w, c->in_c);
    const uint32_t out_len = elements(c->out_h, c->out_w, c->out_c);
    const uint32_t w_len = (uint32_t)c->out_c * elements(c->kernel_h, c->kernel_w, c->in_c);
    const int8_t *input = case_data(c->input, in_len);
    const int8_t *weights = case_data(c->weights, w_len);
    const int32_t *bias = case_data(c->bias, (uint32_t)c->out_c * 4u);
    const cmsis_nn_per_channel_quant_params quant = channel_quant(c);
    const cmsis_nn_conv_params params = {
        .input_offset = c->input_offset,
        .output_offset = c->output_offset,
        .stride = {.w = c->stride_w, .h = c->stride_h},
        .padding = {.w = c->pad_w, .h = c->pad_h},
        .dilation = {.w = 1, .h = 1},
        .activation = {.min = c->act_min, .max = c->act_max},
    };
    const cmsis_nn_dims in_dims = {.n = 1, .h = c->in_h, .w = c->in_w, .c = c->in_c};
    const cmsis_nn_dims filter_dims = {.n = c->out_c, .h = c->kernel_h, .w = c->kernel_w, .c = c->in_c};
    const cmsis_nn_dims bias_dims = {.n = 1, .h = 1, .w = 1, .c = c->out_c};
    const cmsis_nn_dims out_dims = {.n = 1, .h = c->out_h, .w = c->out_w, .c = c->out_c};
    const int32_t need = arm_convolve_wrapper_s8_get_buffer_size(&params, &in_dims, &filter_dims, &out_dims);
    const cmsis_nn_context ctx = scratch(need);

    const uint64_t start = ticks();
    const arm_cmsis_nn_status status = arm_convolve_wrapper_s8(
        &ctx, &params, &quant, &in_dims, input, &filter_dims, weights, &bias_dims, bias, &out_dims, output_buf);
    const uint64_t stop = ticks();
    if (status != ARM_CMSIS_NN_SUCCESS)
    {
        app_fail("arm_convolve_wrapper_s8");
    }
    struct case_result r = {.ticks = stop - start, .output_len = out_len, .scratch_bytes = need};
    return r;
}

static struct case_result run_concat_conv1x1(const struct bench_case *c)
{
    const uint32_t pixels = elements(c->in_h, c->in_w, 1);
    const uint32_t c_a = (uint32_t)c->in_c;
    const uint32_t c_b = elements(1, 1, c->in_b_c);
    const uint32_t c_cat = c_a + c_b;
    const uint32_t out_len = elements(c->out_h, c->out_w, c->out_c);
    const int8_t *a = case_data(c->input, pixels * c_a);
    const int8_t *b = case_data(c->input_b, pixels * c_b);
    const int8_t *weights = case_data(c->weights, (uint32_t)c->out_c * c_cat);
    const int32_t *bias = case_data(c->bias, (uint32_t)c->out_c * 4u);
    const cmsis_nn_per_channel_quant_params quant = channel_quant(c);
    const cmsis_nn_conv_params params = {
        .input_offset = c->input_offset,
        .output_offset = c->output_offset,
        .stride = {.w = 1, .h = 1},
        .padding = {.w = 0, .h = 0},
        .dilation = {.w = 1, .h = 1},
        .activation = {.min = c->act_min, .max = c->act_max},
    };
    const cmsis_nn_dims in_dims = {.n = 1, .h = c->in_h, .w = c->in_w, .c = (int32_t)c_cat};
    const cmsis_nn_dims filter_dims = {.n = c->out_c, .h = 1, .w = 1, .c = (int32_t)c_cat};
    const cmsis_nn_dims bias_dims = {.n = 1, .h = 1, .w = 1, .c = c->out_c};
    const cmsis_nn_dims out_dims = {.n = 1, .h = c->out_h, .w = c->out_w, .c = c->out_c};
    if (pixels * c_cat > CONCAT_CAPACITY)
    {
        app_fail("concat buffer too small");
    }
    const int32_t need = arm_convolve_1x1_s8_fast_get_buffer_size(&in_dims);
    const cmsis_nn_context ctx = scratch(need);
    const int32_t zp_cat = -c->input_offset;

    const uint64_t start = ticks();
    requantise_into(concat_buf, c_cat, a, c_a, pixels, c->a_zero_point, c->a_multiplier, c->a_shift, zp_cat);
    requantise_into(concat_buf + c_a, c_cat, b, c_b, pixels, c->b_zero_point, c->b_multiplier, c->b_shift, zp_cat);
    const arm_cmsis_nn_status status = arm_convolve_1x1_s8_fast(
        &ctx, &params, &quant, &in_dims, concat_buf, &filter_dims, weights, &bias_dims, bias, &out_dims, output_buf);
    const uint64_t stop = ticks();
    if (status != ARM_CMSIS_NN_SUCCESS)
    {
        app_fail("arm_convolve_1x1_s8_fast");
    }
    struct case_result r = {.ticks = stop - start, .output_len = out_len, .scratch_bytes = need};
    return r;
}

static struct case_result run_max_pool(const struct bench_case *c)
{
    const uint32_t out_len = elements(c->out_h, c->out_w, c->out_c);
    const int8_t *input = case_data(c->input, elements(c->in_h, c->in_w, c->in_c));
    const cmsis_nn_pool_params params = {
        .stride = {.w = c->stride_w, .h = c->stride_h},
        .padding = {.w = c->pad_w, .h = c->pad_h},
        .activation = {.min = c->act_min, .max = c->act_max},
    };
    const cmsis_nn_dims in_dims = {.n = 1, .h = c->in_h, .w = c->in_w, .c = c->in_c};
    const cmsis_nn_dims filter_dims = {.n = 1, .h = c->kernel_h, .w = c->kernel_w, .c = 1};
    const cmsis_nn_dims out_dims = {.n = 1, .h = c->out_h, .w = c->out_w, .c = c->out_c};
    const cmsis_nn_context ctx = scratch(0);

    const uint64_t start = ticks();
    const arm_cmsis_nn_status status =
        arm_max_pool_s8(&ctx, &params, &in_dims, input, &filter_dims, &out_dims, output_buf);
    const uint64_t stop = ticks();
    if (status != ARM_CMSIS_NN_SUCCESS)
    {
        app_fail("arm_max_pool_s8");
    }
    struct case_result r = {.ticks = stop - start, .output_len = out_len, .scratch_bytes = 0};
    return r;
}

static struct case_result run_fully_connected(const struct bench_case *c)
{
    const uint32_t in_len = elements(c->in_h, c->in_w, c->in_c);
    const uint32_t out_len = elements(1, 1, c->out_c);
    const int8_t *input = case_data(c->input, in_len);
    const int8_t *weights = case_data(c->weights, in_len * out_len);
    const int32_t *bias = case_data(c->bias, out_len * 4u);
    const cmsis_nn_per_channel_quant_params quant = channel_quant(c);
    const cmsis_nn_fc_params params = {
        .input_offset = c->input_offset,
        .filter_offset = 0,
        .output_offset = c->output_offset,
        .activation = {.min = c->act_min, .max = c->act_max},
    };
    const cmsis_nn_dims in_dims = {.n = 1, .h = c->in_h, .w = c->in_w, .c = c->in_c};
    const cmsis_nn_dims filter_dims = {.n = (int32_t)in_len, .h = 1, .w = 1, .c = c->out_c};
    const cmsis_nn_dims bias_dims = {.n = 1, .h = 1, .w = 1, .c = c->out_c};
    const cmsis_nn_dims out_dims = {.n = 1, .h = 1, .w = 1, .c = c->out_c};
    const int32_t need = arm_fully_connected_s8_get_buffer_size(&filter_dims);
    const cmsis_nn_context ctx = scratch(need);

    const uint64_t start = ticks();
    const arm_cmsis_nn_status status = arm_fully_connected_per_channel_s8(
        &ctx, &params, &quant, &in_dims, input, &filter_dims, weights, &bias_dims, bias, &out_dims, output_buf);
    const uint64_t stop = ticks();
    if (status != ARM_CMSIS_NN_SUCCESS)
    {
        app_fail("arm_fully_connected_per_channel_s8");
    }
    struct case_result r = {.ticks = stop - start, .output_len = out_len, .scratch_bytes = need};
    return r;
}

static struct case_result run_case(const struct bench_case *c)
{
    switch (c->kind)
    {
    case KIND_CONV:
        return run_conv(c);
    case KIND_CONCAT_CONV1X1:
        return run_concat_conv1x1(c);
    case KIND_MAX_POOL:
        return run_max_pool(c);
    case KIND_FULLY_CONNECTED:
        return run_fully_connected(c);
    default:
        app_fail("unknown case kind");
    }
}

int app_main(void)
{
    paint_stack();
    start_systick();

    /* Calibration: 3,000,000 minus 1,000,000 iterations = 4,000,000 instructions. */
    const uint64_t short_ticks = measure_spin(1000000u);
    const uint64_t long_ticks = measure_spin(3000000u);

    const uint32_t *header = case_data(0, 4u * BENCH_HEADER_WORDS);
    if (header[0] != BENCH_MAGIC || header[1] != BENCH_VERSION || header[3] != BENCH_CASE_WORDS)
    {
        app_fail("cases.bin: bad magic, version or record size");
    }
    const uint32_t count = header[2];
    if (header[5] > OUTPUT_CAPACITY || header[6] > CONCAT_CAPACITY)
    {
        app_fail("cases.bin: outputs larger than the static buffers");
    }
    const struct bench_case *cases = case_data(header[4], count * 4u * BENCH_CASE_WORDS);
    print_value("cases", count);

    for (uint32_t i = 0; i < count; i++)
    {
        const struct bench_case *c = &cases[i];
        const struct case_result r = run_case(c);
        if (r.output_len > OUTPUT_CAPACITY)
        {
            app_fail("output buffer too small");
        }
        struct line l = {.len = 0};
        put_str(&l, "case ");
        put_u64(&l, i);
        put_str(&l, " ");
        put_i32(&l, c->op_index);
        put_str(&l, " ");
        put_i32(&l, c->kind);
        put_str(&l, " ");
        put_u64(&l, r.ticks);
        put_str(&l, " ");
        put_hex32(&l, crc32(output_buf, r.output_len));
        put_str(&l, " ");
        put_i32(&l, r.scratch_bytes);
        emit(&l);
    }

    print_value("icount calibration_instructions", 4000000u);
    print_value("icount calibration_ticks", long_ticks - short_ticks);
    print_value("device stack_bytes", stack_high_water());
    print_value("done", 1);
    return 0;
}
