//! Test helpers shared by the generator's tests: the default config and
//! colour probes of rendered images at image and face-local points.
use super::canvas::times;
use super::face::{Face, SyntheticConfig};
use crate::data::Rgb;

/// The default dataset: 178×218, seed 0.
pub(super) fn config() -> SyntheticConfig {
    SyntheticConfig::default()
}

/// Rec. 601 luma of an RGB colour.
pub(super) fn luma(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// Mean colour of the 3×3 pixels around the image point `(x, y)`.
pub(super) fn mean3(img: &Rgb, x: f64, y: f64) -> [f32; 3] {
    let (cx, cy) = (x.round() as i64, y.round() as i64);
    let mut sum = [0f32; 3];
    let mut n = 0.0;
    for dy in -1..=1 {
        for dx in -1..=1 {
            let (px, py) = (cx + dx, cy + dy);
            if px < 0 || py < 0 {
                continue;
            }
            if let Some(p) = img.get(px as usize, py as usize) {
                for (s, v) in sum.iter_mut().zip(p) {
                    *s += f32::from(v);
                }
                n += 1.0;
            }
        }
    }
    times(sum, 1.0 / n)
}

/// Mean colour around a face-local point.
pub(super) fn at_local(face: &Face, img: &Rgb, x: f64, y: f64) -> [f32; 3] {
    let (ix, iy) = face.map().apply(x, y);
    mean3(img, ix, iy)
}

/// L1 distance between two colours.
pub(super) fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}
