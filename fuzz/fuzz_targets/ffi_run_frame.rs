//! The C ABI of `smn-firmware-ffi` as firmware calls it on a camera frame:
//! `smn_model_init` on the tiny SMN blob (one fuzzed byte flipped in one
//! input of two), then `smn_frame_to_input` and `smn_run_frame` with
//! fuzzed frame structs (raw pixel format values, sizes, strides, a buffer
//! shorter than the frame claims), Q16.16 boxes, arena lengths and NULL
//! pointers.
//!
//! Layout: the first 32 bytes are the parameters, the rest the pixels. A
//! crash is any panic, overflow or out-of-bounds access, and also a status
//! that contradicts the arguments: NULLs must give `SMN_ERR_NULL_POINTER`,
//! an unknown format `SMN_ERR_PIXEL_FORMAT`, a failed init
//! `SMN_ERR_NOT_INITIALISED` afterwards, a short arena
//! `SMN_ERR_ARENA_TOO_SMALL`; the crop must succeed exactly when
//! `frame::crop_resize` does, and a successful run must give probabilities
//! in [0, 1].
#![no_main]

use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

use libfuzzer_sys::fuzz_target;
use smn_firmware_ffi::smn_status::*;
use smn_firmware_ffi::*;
use smn_fuzz::{byte, i32_at, tiny_blob as blob, u16_at};

fuzz_target!(|data: &[u8]| {
    let Some(pixels) = data.get(32..) else { return };
    // The model: the blob as built, or with one byte flipped.
    let mut blob = blob().to_vec();
    let flip = byte(data, 27);
    if flip != 0 && !blob.is_empty() {
        let at = usize::from(u16_at(data, 25)) % blob.len();
        blob[at] ^= flip;
    }
    let mut storage = Box::new(MaybeUninit::<smn_model>::zeroed());
    let m = storage.as_mut_ptr();
    let init = unsafe { smn_model_init(m, blob.as_ptr(), blob.len()) };
    if flip == 0 {
        assert_eq!(init, SMN_OK, "the tiny blob must load");
    }

    // The frame: a raw format value (4 and 5 are unknown), small sizes.
    let format = u32::from(byte(data, 0) % 6);
    let bpp = [2u32, 2, 3, 1, 1, 1][(format as usize).min(5)];
    let width = u32::from(u16_at(data, 1) % 300);
    let height = u32::from(u16_at(data, 3) % 300);
    let stride = (width * bpp + u32::from(byte(data, 5))).saturating_sub(8);
    let len = pixels.len().saturating_sub(usize::from(byte(data, 24) % 3));
    let nulls = byte(data, 22);
    let frame = smn_frame {
        pixels: if nulls & 32 != 0 { null() } else { pixels.as_ptr() },
        len,
        format,
        width,
        height,
        stride,
    };
    let crop = if byte(data, 21) % 8 == 0 {
        smn_crop_box {
            left: i32_at(data, 6),
            top: i32_at(data, 10),
            size: i32_at(data, 14),
        }
    } else {
        let q = |i| i32::from(u16_at(data, i) as i16) * 256;
        smn_crop_box {
            left: q(6),
            top: q(10),
            size: q(14),
        }
    };

    let model_ptr = if nulls & 1 != 0 { null() } else { m.cast_const() };
    let frame_ptr: *const smn_frame = if nulls & 2 != 0 { null() } else { &frame };
    let crop_ptr: *const smn_crop_box = if nulls & 4 != 0 { null() } else { &crop };
    let needed = unsafe { smn_model_frame_arena_bytes(m) };
    let arena_len = needed.saturating_sub(usize::from(byte(data, 23) % 4));
    let mut arena = vec![0u8; needed.max(1)];
    let arena_ptr = if nulls & 8 != 0 { null_mut() } else { arena.as_mut_ptr() };
    let mut out = MaybeUninit::<smn_outputs>::zeroed();
    let out_ptr = if nulls & 16 != 0 { null_mut() } else { out.as_mut_ptr() };

    let input_len = unsafe { smn_model_input_bytes(m) };
    let mut rgb = vec![0u8; input_len];
    let crop_only = unsafe { smn_frame_to_input(model_ptr, frame_ptr, crop_ptr, rgb.as_mut_ptr(), rgb.len()) };
    let status = unsafe { smn_run_frame(model_ptr, frame_ptr, crop_ptr, arena_ptr, arena_len, out_ptr) };

    if init != SMN_OK {
        assert!(
            matches!(status, SMN_ERR_NULL_POINTER | SMN_ERR_NOT_INITIALISED),
            "{status:?}"
        );
        return;
    }
    if nulls & 63 != 0 {
        // Pointers are checked before anything else.
        assert_eq!(status, SMN_ERR_NULL_POINTER);
        return;
    }
    if format > 3 {
        assert_eq!(status, SMN_ERR_PIXEL_FORMAT);
        assert_eq!(crop_only, SMN_ERR_PIXEL_FORMAT);
        return;
    }
    if crop_only != SMN_OK {
        // The frame or box is refused: the run refuses it too, unless the
        // arena length is refused first.
        assert!(
            status == crop_only || status == SMN_ERR_ARENA_TOO_SMALL,
            "{status:?} vs {crop_only:?}"
        );
        return;
    }
    if arena_len < needed {
        assert_eq!(status, SMN_ERR_ARENA_TOO_SMALL);
        return;
    }
    assert_eq!(status, SMN_OK, "a frame and box the crop accepts must run");
    let out = unsafe { out.assume_init() };
    assert!(out.attribute_probs.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(out.attribute_flags.iter().all(|&f| f <= 1));
});
