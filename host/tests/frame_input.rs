//! firmware-core's fixed-point camera-frame path (`frame::crop_resize`)
//! against the training pipeline's float crop/resize (`data::transform`) on
//! real CelebA images stored as RGB888, RGB565 and grey frames: the same
//! geometry, pixels within rounding, landmarks mapped back exactly.
mod common;

use smn_firmware_core::frame::{crop_resize, CropBox, Frame, PixelFormat};
use smn_host::data::celeba::{load_index, read_rgb, Selection};
use smn_host::data::transform::{warp, Affine};
use smn_host::data::Rgb;

/// The frame bytes of `img` in `format`, and the RGB image they stand for.
fn as_frame(img: &Rgb, format: PixelFormat) -> (Vec<u8>, Rgb) {
    let mut bytes = Vec::new();
    let mut seen = img.clone();
    for (px, out) in img.pixels.chunks_exact(3).zip(seen.pixels.chunks_exact_mut(3)) {
        let (r, g, b) = (u16::from(px[0]), u16::from(px[1]), u16::from(px[2]));
        match format {
            PixelFormat::Rgb888 => bytes.extend_from_slice(px),
            PixelFormat::Gray8 => {
                let grey = ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8;
                bytes.push(grey);
                out.copy_from_slice(&[grey; 3]);
            }
            PixelFormat::Rgb565Le | PixelFormat::Rgb565Be => {
                let v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3);
                bytes.extend_from_slice(&if format == PixelFormat::Rgb565Le {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
                let (r5, g6, b5) = (v >> 11, (v >> 5) & 63, v & 31);
                out.copy_from_slice(&[
                    ((r5 << 3) | (r5 >> 2)) as u8,
                    ((g6 << 2) | (g6 >> 4)) as u8,
                    ((b5 << 3) | (b5 >> 2)) as u8,
                ]);
            }
        }
    }
    (bytes, seen)
}

#[test]
fn device_frames_match_the_training_crop_on_real_faces() {
    let Some(dir) = common::celeba_sample() else { return };
    let index = load_index(&dir, false).unwrap();
    let entries = index.select(&Selection::default());
    let n = 64;
    let (mut worst, mut sum, mut count) = (0u8, 0u64, 0u64);
    let mut worst_landmark = 0f32;
    for (k, entry) in entries.iter().take(24).enumerate() {
        let img = read_rgb(&index.image_path(entry)).unwrap();
        // An odd box per image: shifted, sub-pixel, partly outside the frame.
        let (left, top, size) = (-6.3 + 3.7 * k as f64, 10.9 + 1.3 * k as f64, 150.7 + 2.3 * k as f64);
        let q16 = |v: f64| (v * 65536.0).round() as i32;
        let crop = CropBox {
            left: q16(left),
            top: q16(top),
            size: q16(size),
        };
        let map = Affine::crop_resize(left, top, size, n);
        for format in [
            PixelFormat::Rgb888,
            PixelFormat::Rgb565Le,
            PixelFormat::Rgb565Be,
            PixelFormat::Gray8,
        ] {
            let (bytes, seen) = as_frame(&img, format);
            let frame = Frame {
                pixels: &bytes,
                format,
                width: img.width,
                height: img.height,
                stride: img.width * format.bytes_per_pixel(),
            };
            let mut device = vec![0u8; n * n * 3];
            crop_resize(&frame, crop, n, &mut device).unwrap();
            let host = warp(&seen, &map, n, n);
            for (&d, &h) in device.iter().zip(&host.pixels) {
                let diff = d.abs_diff(h);
                worst = worst.max(diff);
                sum += u64::from(diff);
                count += 1;
            }
        }
        // Landmarks: training maps them into the model input; the device maps
        // model coordinates back to the frame.
        let in_model = map.apply_landmarks(&entry.landmarks);
        for (p, t) in in_model.chunks_exact(2).zip(entry.landmarks.chunks_exact(2)) {
            let back = crop.to_frame([p[0], p[1]], n);
            worst_landmark = worst_landmark.max((back[0] - t[0]).abs()).max((back[1] - t[1]).abs());
        }
    }
    let mean = sum as f64 / count as f64;
    eprintln!("frame path vs training crop: worst pixel difference {worst}, mean {mean:.4}; landmark round trip {worst_landmark:.5} px");
    assert!(worst <= 1, "worst pixel difference {worst}");
    assert!(mean < 0.1, "mean pixel difference {mean}");
    assert!(worst_landmark <= 0.01, "landmark round trip {worst_landmark} px");
}
