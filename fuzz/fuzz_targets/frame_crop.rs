//! `frame::crop_resize` on arbitrary frames, formats, strides, boxes and
//! output sizes (the camera-frame path a device runs before the model);
//! an accepted crop of the model's input size is then run through a
//! random-weight tiny SMN (frame + box + blob, as on the device).
//!
//! The first 24 bytes are the parameters (format, width, height, stride
//! padding, box left/top/size in Q16.16, output side); the rest are the
//! pixels. Any panic, overflow (fuzz builds have debug assertions) or
//! out-of-bounds access is a crash; an accepted call must fill exactly the
//! output and a rejected one must leave it untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smn_firmware_core::frame::{crop_resize, CropBox, Frame, PixelFormat};
use smn_firmware_core::Model;
use smn_fuzz::{i32_at, tiny_blob as blob, u16_at};

fuzz_target!(|data: &[u8]| {
    let Some(pixels) = data.get(24..) else { return };
    let format = match data.first().copied().unwrap_or(0) % 4 {
        0 => PixelFormat::Rgb565Le,
        1 => PixelFormat::Rgb565Be,
        2 => PixelFormat::Rgb888,
        _ => PixelFormat::Gray8,
    };
    // Small frames and outputs keep executions fast; sizes 0 and past the
    // limits still occur.
    let width = usize::from(u16_at(data, 1) % 300);
    let height = usize::from(u16_at(data, 3) % 300);
    let stride = (width * format.bytes_per_pixel() + usize::from(data.get(5).copied().unwrap_or(0))).saturating_sub(8);
    // Mostly boxes near a small frame (16-bit values in 1/256 pixel, so
    // accepted calls are common); one input in eight takes raw `i32`s.
    let crop = if data.get(21).copied().unwrap_or(0) % 8 == 0 {
        CropBox {
            left: i32_at(data, 6),
            top: i32_at(data, 10),
            size: i32_at(data, 14),
        }
    } else {
        let q = |i| i32::from(u16_at(data, i) as i16) * 256;
        CropBox {
            left: q(6),
            top: q(10),
            size: q(14),
        }
    };
    let side = usize::from(u16_at(data, 18) % 80);
    let frame = Frame {
        pixels,
        format,
        width,
        height,
        stride,
    };
    let mut out = vec![0xA5u8; side * side * 3 + usize::from(data.get(20).copied().unwrap_or(0) % 2)];
    match crop_resize(&frame, crop, side, &mut out) {
        Ok(()) => {
            assert_eq!(out.len(), side * side * 3);
            if let Ok(model) = Model::from_bytes(blob()) {
                if model.input_len() == out.len() {
                    let mut arena = vec![0u8; model.arena_bytes()];
                    if let Err(e) = model.run(&out, &mut arena) {
                        panic!("a valid crop of the input size failed to run: {e:?}");
                    }
                }
            }
        }
        Err(_) => assert!(out.iter().all(|&v| v == 0xA5), "a refused call wrote its output"),
    }
});
