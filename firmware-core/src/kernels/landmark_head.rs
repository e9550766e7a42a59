//! Landmark head: `2 ·` [`LANDMARK_COUNT`] (10) int8 values →
//! [`LANDMARK_COUNT`] (5) `(x, y)` points in input-image pixels
//! (`docs/int8-spec.md` §7): `real = scale · (q − zp)`, then
//! `px = real · x_scale + x_offset` (single-precision multiply, then add;
//! IEEE-exact and identical on x86 and Cortex-M4F).
use crate::format::{LandmarkHead, Quant};
use crate::outputs::LANDMARK_COUNT;

/// Dequantises `q` (`x0, y0, … x4, y4`) into pixel coordinates.
pub fn landmarks(q: &[i8], quant: Quant, head: &LandmarkHead, out: &mut [[f32; 2]; LANDMARK_COUNT]) {
    for (point, xy) in out.iter_mut().zip(q.chunks_exact(2)) {
        if let [x, y] = *xy {
            let real_x = (i32::from(x) - i32::from(quant.zero_point)) as f32 * quant.scale;
            let real_y = (i32::from(y) - i32::from(quant.zero_point)) as f32 * quant.scale;
            *point = [
                real_x * head.x_scale + head.x_offset,
                real_y * head.y_scale + head.y_offset,
            ];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_pixels() {
        let quant = Quant {
            scale: 1.0 / 128.0,
            zero_point: -128,
        };
        let head = LandmarkHead {
            input: 0,
            x_scale: 64.0,
            x_offset: 0.0,
            y_scale: 32.0,
            y_offset: 1.0,
        };
        let q: [i8; 2 * LANDMARK_COUNT] = [-128, 127, 0, 0, -64, 64, 10, 20, 30, 40];
        let mut out = [[0f32; 2]; LANDMARK_COUNT];
        landmarks(&q, quant, &head, &mut out);
        for (i, p) in out.iter().enumerate() {
            let rx = (q[2 * i] as f64 + 128.0) / 128.0;
            let ry = (q[2 * i + 1] as f64 + 128.0) / 128.0;
            assert_eq!(p[0] as f64, rx * 64.0);
            assert_eq!(p[1] as f64, ry * 32.0 + 1.0);
        }
    }
}
