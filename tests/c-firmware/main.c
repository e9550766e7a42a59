/*
 * A C firmware that uses SMN through its C API only (smn.h, linked with
 * libsmn_firmware_ffi.a built for thumbv7em-none-eabihf), for QEMU
 * mps2-an386. `cargo xtask c-firmware` builds it and compares what it
 * prints with the host's transcript bit for bit:
 *
 *   blob_bytes, arena_bytes, macs, one `op <index> t<tensor> n<len> <fnv1a>`
 *   line per op (smn_run_observed), the outputs (landmarks_q, landmarks_bits,
 *   logits_q, probs_bits, flags), run_matches_run_observed, done   -- the
 *   same lines as the Rust firmware (tests/firmware) --
 *   then status lines for bad calls, and for a QVGA RGB565 frame and a
 *   sub-pixel face box: frame_input <fnv1a of the crop>, the outputs of
 *   smn_run_frame (landmarks in frame pixels), frame_done;
 *
 * followed by `icount ...` (instructions of smn_run, the crop alone and
 * smn_run_frame) and `device stack_bytes` lines, which are device-only.
 */
#include <stdint.h>
#include <string.h>

#include "smn.h"
#include "support.h"

extern const uint8_t smn_model_blob[], smn_model_blob_end[]; /* assets.S */
extern const uint8_t smn_test_image[], smn_test_image_end[];
extern const uint8_t smn_test_frame[], smn_test_frame_end[];

/* The arena: smn_model_frame_arena_bytes() of the embedded model (-D). */
static uint8_t arena[ARENA_BYTES] __attribute__((aligned(8)));
static uint8_t crop[INPUT_BYTES] __attribute__((aligned(8)));
static smn_model model;

/* FNV-1a, 32-bit, as firmware-core's transcript. */
static uint32_t fnv1a32(const int8_t *data, size_t len)
{
    uint32_t h = 0x811C9DC5u;
    for (size_t i = 0; i < len; i++)
    {
        h = (h ^ (uint8_t)data[i]) * 0x01000193u;
    }
    return h;
}

static void check(smn_status status, const char *what)
{
    if (status != SMN_OK)
    {
        struct line l = {.len = 0};
        put_str(&l, what);
        put_str(&l, ": ");
        put_str(&l, smn_status_str(status));
        emit(&l);
        app_fail(what);
    }
}

/* `op <index> t<tensor> n<len> <fnv1a>` for every tensor an op writes. */
static void print_op(void *user, uint32_t op_index, uint32_t tensor, const int8_t *data, size_t len)
{
    (void)user;
    struct line l = {.len = 0};
    put_str(&l, "op ");
    put_u64(&l, op_index);
    put_str(&l, " t");
    put_u64(&l, tensor);
    put_str(&l, " n");
    put_u64(&l, len);
    put_str(&l, " ");
    put_hex32(&l, fnv1a32(data, len));
    emit(&l);
}

static void print_ints(const char *key, const int8_t *values, size_t n)
{
    struct line l = {.len = 0};
    put_str(&l, key);
    for (size_t i = 0; i < n; i++)
    {
        put_str(&l, " ");
        put_i32(&l, values[i]);
    }
    emit(&l);
}

static void print_bits(const char *key, const float *values, size_t n)
{
    struct line l = {.len = 0};
    put_str(&l, key);
    for (size_t i = 0; i < n; i++)
    {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        put_str(&l, " ");
        put_hex32(&l, bits);
    }
    emit(&l);
}

static void print_outputs(const smn_outputs *o)
{
    print_ints("landmarks_q", o->landmarks_q, SMN_LANDMARK_VALUES);
    print_bits("landmarks_bits", o->landmarks, SMN_LANDMARK_VALUES);
    print_ints("logits_q", o->attribute_logits_q, SMN_ATTRIBUTE_COUNT);
    print_bits("probs_bits", o->attribute_probs, SMN_ATTRIBUTE_COUNT);
    struct line l = {.len = 0};
    put_str(&l, "flags ");
    for (size_t i = 0; i < SMN_ATTRIBUTE_COUNT; i++)
    {
        put_str(&l, o->attribute_flags[i] ? "1" : "0");
    }
    emit(&l);
}

int app_main(void)
{
    paint_stack();
    start_systick();
    /* Calibration: 3,000,000 minus 1,000,000 iterations = 4,000,000 instructions. */
    const uint64_t short_ticks = measure_spin(1000000u);
    const uint64_t long_ticks = measure_spin(3000000u);

    const size_t blob_len = (size_t)(smn_model_blob_end - smn_model_blob);
    const size_t image_len = (size_t)(smn_test_image_end - smn_test_image);
    check(smn_model_init(&model, smn_model_blob, blob_len), "smn_model_init");
    if (smn_model_frame_arena_bytes(&model) > sizeof arena || smn_model_input_bytes(&model) != sizeof crop)
    {
        app_fail("the arena or crop buffer does not fit the model");
    }
    const size_t arena_len = smn_model_arena_bytes(&model);
    print_value("blob_bytes", blob_len);
    print_value("arena_bytes", arena_len);
    print_value("macs", smn_model_macs(&model));

    smn_outputs observed, timed;
    check(smn_run_observed(&model, smn_test_image, image_len, arena, arena_len, &observed, print_op, NULL),
          "smn_run_observed");
    print_outputs(&observed);
    const uint64_t run_start = ticks();
    const smn_status run_status = smn_run(&model, smn_test_image, image_len, arena, arena_len, &timed);
    const uint64_t run_ticks = ticks() - run_start;
    check(run_status, "smn_run");
    print_value("run_matches_run_observed", memcmp(&observed, &timed, sizeof timed) == 0);
    print_value("done", 1);

    /* Bad calls return their status, they do not crash. */
    smn_model unused;
    print_value("status_short_blob", (uint64_t)smn_model_init(&unused, smn_model_blob, 3));
    print_value("status_null_image", (uint64_t)smn_run(&model, NULL, image_len, arena, arena_len, &timed));
    print_value("status_small_arena",
                (uint64_t)smn_run(&model, smn_test_image, image_len, arena, arena_len - 1, &timed));
    print_value("status_overlap",
                (uint64_t)smn_run(&model, arena + 16, image_len, arena, arena_len, &timed));

    const smn_frame frame = {
        .pixels = smn_test_frame,
        .len = (size_t)(smn_test_frame_end - smn_test_frame),
        .format = SMN_PIXEL_RGB565_LE,
        .width = FRAME_WIDTH,
        .height = FRAME_HEIGHT,
        .stride = FRAME_WIDTH * 2u,
    };
    const smn_crop_box box = {.left = BOX_LEFT, .top = BOX_TOP, .size = BOX_SIZE};
    const smn_crop_box empty = {.left = BOX_LEFT, .top = BOX_TOP, .size = 0};
    print_value("status_empty_box", (uint64_t)smn_frame_to_input(&model, &frame, &empty, crop, sizeof crop));

    const uint64_t crop_start = ticks();
    const smn_status crop_status = smn_frame_to_input(&model, &frame, &box, crop, sizeof crop);
    const uint64_t crop_ticks = ticks() - crop_start;
    check(crop_status, "smn_frame_to_input");
    {
        struct line l = {.len = 0};
        put_str(&l, "frame_input ");
        put_hex32(&l, fnv1a32((const int8_t *)crop, sizeof crop));
        emit(&l);
    }
    smn_outputs framed;
    const uint64_t frame_start = ticks();
    const smn_status frame_status = smn_run_frame(&model, &frame, &box, arena, sizeof arena, &framed);
    const uint64_t frame_ticks = ticks() - frame_start;
    check(frame_status, "smn_run_frame");
    print_outputs(&framed);
    print_value("frame_done", 1);

    print_value("icount calibration_instructions", 4000000u);
    print_value("icount calibration_ticks", long_ticks - short_ticks);
    print_value("icount inference_ticks", run_ticks);
    print_value("icount frame_crop_ticks", crop_ticks);
    print_value("icount frame_run_ticks", frame_ticks);
    print_value("device stack_bytes", stack_high_water());
    return 0;
}
