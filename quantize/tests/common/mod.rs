//! Shared helpers of the integration tests.
#![allow(dead_code)]
use smn_firmware_core::builder::{synthetic_test_image, Rng};

/// A mix of face-like synthetic images and smooth random images.
pub fn images(size: usize, count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                synthetic_test_image(size, size, seed * 1000 + i as u64)
            } else {
                let (a, b, c) = (rng.unit() * 255.0, rng.unit() * 255.0, rng.unit());
                let mut img = Vec::with_capacity(size * size * 3);
                for y in 0..size {
                    for x in 0..size {
                        for ch in 0..3 {
                            let v = a * (x as f64 / size as f64)
                                + b * (y as f64 / size as f64) * c
                                + 40.0 * (ch as f64) * rng.unit();
                            img.push(v.clamp(0.0, 255.0) as u8);
                        }
                    }
                }
                img
            }
        })
        .collect()
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smn-quantize-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
