//! The raster primitives the renderer draws with: RGB colours as `f32`
//! triples and their blending, signed-distance shapes (ellipse, segment,
//! parabolic arc) and cheap maths helpers, and [`Canvas`], a floating-point
//! image painted through an affine frame with anti-aliased coverage, then
//! exposed, noised and quantised to 8 bits.
use crate::data::transform::Affine;
use crate::data::Rgb;
use smn_firmware_core::builder::Rng;
use std::f64::consts::TAU;

/// An RGB colour, each channel in 0..255 (values outside are clamped only
/// when the canvas is quantised).
pub(super) type Colour = [f32; 3];

/// `a + (b − a)·t`, per channel.
pub(super) fn lerp(a: Colour, b: Colour, t: f32) -> Colour {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// `c·k`, per channel.
pub(super) fn times(c: Colour, k: f32) -> Colour {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Approximate signed distance to the ellipse `(x/rx)² + (y/ry)² = 1`
/// (negative inside; exact for circles, first-order near the outline).
pub(super) fn ellipse_sd(x: f64, y: f64, rx: f64, ry: f64) -> f64 {
    let (u, v) = (x / rx, y / ry);
    let k = (u * u + v * v).sqrt();
    let g = len(x / (rx * rx), y / (ry * ry));
    if g < 1e-12 {
        return -rx.min(ry);
    }
    k * (k - 1.0) / g
}

/// `sin(x)`, roughly (a parabola per half period; |error| < 0.06): cheap
/// texture waves.
pub(super) fn wave(x: f64) -> f64 {
    let t = x / TAU;
    let u = 2.0 * (t - floor(t)) - 1.0;
    -4.0 * u * (1.0 - u.abs())
}

/// `x.floor()` without a libm call (finite `x` well inside the `i64` range).
pub(super) fn floor(x: f64) -> f64 {
    let i = x as i64 as f64;
    if i > x {
        i - 1.0
    } else {
        i
    }
}

/// `√(x² + y²)` (no overflow care needed here, unlike `hypot`, and faster).
pub(super) fn len(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

/// Distance to the segment `a`–`b`.
pub(super) fn segment_distance(x: f64, y: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    len(x - a.0 - t * dx, y - a.1 - t * dy)
}

/// Approximate distance to the parabolic arc `y = rise·(1 − (x/half)²) + y0`,
/// `|x| ≤ half` — end points `(±half, y0)`, middle at `y0 + rise` (positive
/// rise: sagging, negative: arched).
pub(super) fn curve_distance(x: f64, y: f64, half: f64, rise: f64, y0: f64) -> f64 {
    let ends = len(x - half, y - y0).min(len(x + half, y - y0));
    if x.abs() > half {
        return ends;
    }
    let u = x / half;
    let f = y0 + rise * (1.0 - u * u);
    let slope = -2.0 * rise * x / (half * half);
    ends.min((y - f).abs() / (1.0 + slope * slope).sqrt())
}

/// Hermite interpolation from 0 at `edge0` to 1 at `edge1`, clamped outside.
pub(super) fn smoothstep(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A floating-point RGB image painted through the face-local frame.
pub(super) struct Canvas {
    /// Columns.
    pub(super) width: usize,
    /// Rows.
    pub(super) height: usize,
    /// `height × width` colours, row-major.
    pub(super) buf: Vec<Colour>,
    /// Face-local → image.
    map: Affine,
    /// Image → face-local.
    inverse: Affine,
    /// Image pixels per local unit.
    scale: f64,
}

impl Canvas {
    /// A black `width × height` canvas whose shapes are given in the frame
    /// `map` takes to the image, `scale` image pixels per local unit.
    pub(super) fn new(width: usize, height: usize, map: Affine, scale: f64) -> Canvas {
        Canvas {
            width,
            height,
            buf: vec![[0.0; 3]; width * height],
            map,
            inverse: map.inverse().unwrap_or(Affine::IDENTITY),
            scale,
        }
    }

    /// Blends `colour` over every pixel whose centre's local point has
    /// signed distance `sd` < ½ pixel (coverage falls linearly over one
    /// pixel: anti-aliased), times `opacity`. `bbox` (local `[x0, y0, x1,
    /// y1]`) bounds the shape.
    pub(super) fn paint(
        &mut self,
        bbox: [f64; 4],
        opacity: f32,
        sd: impl Fn(f64, f64) -> f64,
        colour: impl Fn(f64, f64) -> Colour,
    ) {
        if self.width == 0 || self.height == 0 {
            return;
        }
        let [x0, y0, x1, y1] = bbox;
        let (mut lo_x, mut lo_y, mut hi_x, mut hi_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in [(x0, y0), (x1, y0), (x0, y1), (x1, y1)] {
            let (ix, iy) = self.map.apply(x, y);
            (lo_x, lo_y, hi_x, hi_y) = (lo_x.min(ix), lo_y.min(iy), hi_x.max(ix), hi_y.max(iy));
        }
        let (max_x, max_y) = ((self.width - 1) as f64, (self.height - 1) as f64);
        if hi_x < -1.0 || hi_y < -1.0 || lo_x > max_x + 1.0 || lo_y > max_y + 1.0 {
            return;
        }
        let (px0, px1) = (
            (lo_x - 1.0).floor().max(0.0) as usize,
            (hi_x + 1.0).ceil().min(max_x) as usize,
        );
        let (py0, py1) = (
            (lo_y - 1.0).floor().max(0.0) as usize,
            (hi_y + 1.0).ceil().min(max_y) as usize,
        );
        let inv = self.inverse;
        // Per row, only the columns whose local point lies in `bbox` grown by a pixel.
        let pad = 1.0 / self.scale;
        let (bx0, by0, bx1, by1) = (x0.min(x1) - pad, y0.min(y1) - pad, x0.max(x1) + pad, y0.max(y1) + pad);
        for py in py0..=py1 {
            let row = py * self.width;
            let (mut lo, mut hi) = (px0 as f64, px1 as f64);
            let fy = py as f64;
            for (coef, base, min, max) in [
                (inv.a, inv.b * fy + inv.c, bx0, bx1),
                (inv.d, inv.e * fy + inv.f, by0, by1),
            ] {
                if coef.abs() < 1e-12 {
                    if base < min || base > max {
                        hi = -1.0;
                    }
                } else {
                    let (t0, t1) = ((min - base) / coef, (max - base) / coef);
                    (lo, hi) = (lo.max(t0.min(t1)), hi.min(t0.max(t1)));
                }
            }
            if hi < lo || hi < 0.0 {
                continue;
            }
            let (start, end) = (-floor(-lo.max(0.0)) as usize, hi as usize);
            for px in start..=end.min(px1) {
                let (x, y) = inv.apply(px as f64, fy);
                let cover = (0.5 - sd(x, y) * self.scale).clamp(0.0, 1.0) as f32 * opacity;
                if cover <= 0.0 {
                    continue;
                }
                let c = colour(x, y);
                if let Some(p) = self.buf.get_mut(row + px) {
                    *p = lerp(*p, c, cover);
                }
            }
        }
    }

    /// Exposure, noise (per channel a sum of three uniforms, σ = `sigma`), 8-bit.
    pub(super) fn finish(self, exposure: f32, sigma: f32, seed: u64) -> Rgb {
        let mut rng = Rng::new(seed);
        let mut out = Rgb::new(self.width, self.height);
        // Three 7-bit uniforms per channel, 63 bits per pixel.
        let unit = 2.0 * sigma / 128.0;
        for (o, c) in out.pixels.chunks_exact_mut(3).zip(&self.buf) {
            let mut r = rng.next_u64();
            for (o, &v) in o.iter_mut().zip(c) {
                let s = (r & 0x7F) + ((r >> 7) & 0x7F) + ((r >> 14) & 0x7F);
                r >>= 21;
                let noise = (s as f32 + 1.5 - 192.0) * unit;
                // Round half up (the value is clamped non-negative first).
                *o = ((v * exposure + noise).clamp(0.0, 255.0) + 0.5) as u8;
            }
        }
        out
    }
}
