/* The model blob, the test image and the QVGA RGB565 test frame written by
 * `cargo xtask c-firmware`, linked into flash. MODEL_BIN, IMAGE_BIN and
 * FRAME_BIN are their paths as string literals (-D on the command line). */
    .section .rodata.smn_assets, "a"
    .balign 8
    .global smn_model_blob
smn_model_blob:
    .incbin MODEL_BIN
    .global smn_model_blob_end
smn_model_blob_end:
    .balign 8
    .global smn_test_image
smn_test_image:
    .incbin IMAGE_BIN
    .global smn_test_image_end
smn_test_image_end:
    .balign 8
    .global smn_test_frame
smn_test_frame:
    .incbin FRAME_BIN
    .global smn_test_frame_end
smn_test_frame_end:
