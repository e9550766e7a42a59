//! Geometry shared by images and landmarks: one affine map transforms both,
//! so they can never disagree.
//!
//! Coordinates are continuous pixel coordinates with the centre of pixel
//! `(i, j)` at `(i, j)`. An [`Affine`] maps source coordinates to output
//! coordinates; [`warp`] fills each output pixel by bilinear sampling of the
//! source at the inverse-mapped centre (outside the source: edge pixels are
//! repeated), and [`Affine::apply_landmarks`] maps the landmarks with the same
//! matrix.
//!
//! **Model input (paper preset 128×128, micro 64×64)** from an aligned CelebA
//! image (178×218): the centred 178×178 square (rows 20..198, which holds the
//! eyes, nose and mouth of every aligned face) scaled to the input size, see
//! [`Affine::centre_square`] and [`to_model_input`]. Pixel edges map to pixel edges: source x ∈
//! [−0.5, 177.5] ↦ output x ∈ [−0.5, N − 0.5].
use super::{FaceSample, Rgb};
use crate::data::LANDMARK_OUTPUTS;
use serde::{Deserialize, Serialize};

/// `out = [a b c; d e f] · [x y 1]ᵀ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Row 0: `x' = a·x + b·y + c`.
    pub a: f64,
    /// See `a`.
    pub b: f64,
    /// See `a`.
    pub c: f64,
    /// Row 1: `y' = d·x + e·y + f`.
    pub d: f64,
    /// See `d`.
    pub e: f64,
    /// See `d`.
    pub f: f64,
}

impl Affine {
    /// The identity.
    pub const IDENTITY: Affine = Affine {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 0.0,
        e: 1.0,
        f: 0.0,
    };

    /// Maps a point.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f)
    }

    /// `self` after `first`: `self.then_after(first)(p) = self(first(p))`.
    pub fn after(&self, first: &Affine) -> Affine {
        Affine {
            a: self.a * first.a + self.b * first.d,
            b: self.a * first.b + self.b * first.e,
            c: self.a * first.c + self.b * first.f + self.c,
            d: self.d * first.a + self.e * first.d,
            e: self.d * first.b + self.e * first.e,
            f: self.d * first.c + self.e * first.f + self.f,
        }
    }

    /// The inverse map, or `None` if singular.
    pub fn inverse(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        Some(Affine {
            a,
            b,
            c: -(a * self.c + b * self.f),
            d,
            e,
            f: -(d * self.c + e * self.f),
        })
    }

    /// Scale about the origin.
    pub fn scale(sx: f64, sy: f64) -> Affine {
        Affine {
            a: sx,
            e: sy,
            ..Affine::IDENTITY
        }
    }

    /// Translation.
    pub fn translate(tx: f64, ty: f64) -> Affine {
        Affine {
            c: tx,
            f: ty,
            ..Affine::IDENTITY
        }
    }

    /// Rotation by `radians` (counter-clockwise on screen, y down) about `(cx, cy)`.
    pub fn rotate_about(radians: f64, cx: f64, cy: f64) -> Affine {
        let (s, c) = radians.sin_cos();
        let r = Affine {
            a: c,
            b: s,
            c: 0.0,
            d: -s,
            e: c,
            f: 0.0,
        };
        Affine::translate(cx, cy).after(&r).after(&Affine::translate(-cx, -cy))
    }

    /// Horizontal mirror of an image `width` pixels wide.
    pub fn flip_horizontal(width: usize) -> Affine {
        Affine {
            a: -1.0,
            c: width as f64 - 1.0,
            ..Affine::IDENTITY
        }
    }

    /// The square `size × size` at (`left`, `top`) of the source, scaled to
    /// `out × out`, pixel edges onto pixel edges.
    pub fn crop_resize(left: f64, top: f64, size: f64, out: usize) -> Affine {
        let s = out as f64 / size;
        // x' + 0.5 = (x + 0.5 − left) · s
        Affine::translate(-0.5, -0.5)
            .after(&Affine::scale(s, s))
            .after(&Affine::translate(0.5 - left, 0.5 - top))
    }

    /// The centred square of a `width × height` image → `out × out`
    /// (CelebA aligned 178×218: rows 20..198).
    pub fn centre_square(width: usize, height: usize, out: usize) -> Affine {
        let side = width.min(height) as f64;
        Affine::crop_resize((width as f64 - side) / 2.0, (height as f64 - side) / 2.0, side, out)
    }

    /// Maps `(x0, y0, …)` landmarks.
    pub fn apply_landmarks(&self, landmarks: &[f32; LANDMARK_OUTPUTS]) -> [f32; LANDMARK_OUTPUTS] {
        let mut out = [0f32; LANDMARK_OUTPUTS];
        for (o, p) in out.chunks_exact_mut(2).zip(landmarks.chunks_exact(2)) {
            if let ([ox, oy], [x, y]) = (o, p) {
                let (nx, ny) = self.apply(f64::from(*x), f64::from(*y));
                (*ox, *oy) = (nx as f32, ny as f32);
            }
        }
        out
    }
}

/// Bilinear sample of `src` at `(x, y)` (edge pixels repeated outside).
fn sample(src: &Rgb, x: f64, y: f64) -> [u8; 3] {
    let max_x = src.width.saturating_sub(1) as f64;
    let max_y = src.height.saturating_sub(1) as f64;
    let (x, y) = (x.clamp(0.0, max_x), y.clamp(0.0, max_y));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as usize, y0 as usize);
    let (x1, y1) = ((x0 + 1).min(src.width - 1), (y0 + 1).min(src.height - 1));
    let px = |xx: usize, yy: usize| src.get(xx, yy).unwrap_or([0; 3]);
    let (p00, p10, p01, p11) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = f64::from(p00[c]) * (1.0 - fx) + f64::from(p10[c]) * fx;
        let bottom = f64::from(p01[c]) * (1.0 - fx) + f64::from(p11[c]) * fx;
        *o = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// Warps `src` into a `width × height` image through `map` (source → output).
pub fn warp(src: &Rgb, map: &Affine, width: usize, height: usize) -> Rgb {
    let mut out = Rgb::new(width, height);
    let Some(inv) = map.inverse() else { return out };
    if src.width == 0 || src.height == 0 {
        return out;
    }
    if inv.b == 0.0
        && inv.d == 0.0
        && inv.a.abs() == 1.0
        && inv.e == 1.0
        && inv.c.fract() == 0.0
        && inv.f.fract() == 0.0
    {
        // A flip and/or a whole-pixel shift: every output pixel is one
        // source pixel (edges repeated, as `sample` does), so copy it.
        let (max_x, max_y) = ((src.width - 1) as f64, (src.height - 1) as f64);
        for y in 0..height {
            let sy = (y as f64 + inv.f).clamp(0.0, max_y) as usize;
            for x in 0..width {
                let sx = (inv.a * x as f64 + inv.c).clamp(0.0, max_x) as usize;
                out.put(x, y, src.get(sx, sy).unwrap_or([0; 3]));
            }
        }
        return out;
    }
    for y in 0..height {
        for x in 0..width {
            let (sx, sy) = inv.apply(x as f64, y as f64);
            out.put(x, y, sample(src, sx, sy));
        }
    }
    out
}

/// Landmark index pairs swapped by a horizontal flip (left ↔ right eye, mouth corner).
const MIRRORED_LANDMARKS: [(usize, usize); 2] = [(0, 1), (3, 4)];

/// Applies `map` to a sample's image and landmarks (`mirrored`: the map
/// contains a horizontal flip, so left/right landmarks swap names).
pub fn transform_sample(sample: &FaceSample, map: &Affine, width: usize, height: usize, mirrored: bool) -> FaceSample {
    let mut landmarks = map.apply_landmarks(&sample.landmarks);
    if mirrored {
        for (l, r) in MIRRORED_LANDMARKS {
            for axis in 0..2 {
                landmarks.swap(2 * l + axis, 2 * r + axis);
            }
        }
    }
    FaceSample {
        image: warp(&sample.image, map, width, height),
        landmarks,
        attributes: sample.attributes,
    }
}

/// The model input of a sample: its centred square scaled to `out × out`.
pub fn to_model_input(sample: &FaceSample, out: usize) -> FaceSample {
    let map = Affine::centre_square(sample.image.width, sample.image.height, out);
    transform_sample(sample, &map, out, out, false)
}

/// Random augmentation parameters (all optional; zero = off).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Probability of a horizontal flip.
    pub flip_probability: f64,
    /// Maximum shift as a fraction of the output size.
    pub max_shift: f64,
    /// Maximum relative scale change (0.1 = ±10 %).
    pub max_scale: f64,
    /// Maximum rotation in degrees.
    pub max_rotation_degrees: f64,
    /// Maximum relative brightness/contrast change.
    pub color_jitter: f64,
    /// Probability of erasing one random rectangle (random erasing: 2–20 %
    /// of the image, aspect 0.3–3.3, filled with mid grey).
    #[serde(default)]
    pub erase_probability: f64,
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment {
        flip_probability: 0.0,
        max_shift: 0.0,
        max_scale: 0.0,
        max_rotation_degrees: 0.0,
        color_jitter: 0.0,
        erase_probability: 0.0,
    };

    /// A mild default for training: flip 50 %, ±4 % shift, ±5 % scale, ±8°, ±15 % colour.
    pub const DEFAULT: Augment = Augment {
        flip_probability: 0.5,
        max_shift: 0.04,
        max_scale: 0.05,
        max_rotation_degrees: 8.0,
        color_jitter: 0.15,
        erase_probability: 0.0,
    };

    /// These settings with the shift, scale and rotation ranges multiplied
    /// by `factor` (0: flip and colour only).
    pub fn with_geometry(self, factor: f64) -> Self {
        Augment {
            max_shift: self.max_shift * factor,
            max_scale: self.max_scale * factor,
            max_rotation_degrees: self.max_rotation_degrees * factor,
            ..self
        }
    }

    /// Draws one geometric map on an `out × out` output (after `base`) and
    /// whether it mirrors; `uniform` yields numbers in `[0, 1)`.
    pub fn draw(&self, base: &Affine, out: usize, mut uniform: impl FnMut() -> f64) -> (Affine, bool) {
        let mirrored = uniform() < self.flip_probability;
        let mut sym = || 2.0 * uniform() - 1.0;
        let centre = (out as f64 - 1.0) / 2.0;
        let mut map = *base;
        if mirrored {
            map = Affine::flip_horizontal(out).after(&map);
        }
        let s = 1.0 + self.max_scale * sym();
        let angle = (self.max_rotation_degrees * sym()).to_radians();
        let (tx, ty) = (self.max_shift * out as f64 * sym(), self.max_shift * out as f64 * sym());
        let about_centre = Affine::translate(centre + tx, centre + ty)
            .after(&Affine::rotate_about(angle, 0.0, 0.0))
            .after(&Affine::scale(s, s))
            .after(&Affine::translate(-centre, -centre));
        (about_centre.after(&map), mirrored)
    }
}

/// An axis-aligned rectangle of pixels: left, top, width, height.
pub type PixelRect = (usize, usize, usize, usize);

impl Augment {
    /// Draws the rectangle to erase from a `width × height` image, or
    /// `None` (with probability `1 − erase_probability`); `uniform` yields
    /// numbers in `[0, 1)`. The rectangle lies inside the image.
    pub fn draw_erase(&self, width: usize, height: usize, mut uniform: impl FnMut() -> f64) -> Option<PixelRect> {
        if width == 0 || height == 0 || uniform() >= self.erase_probability {
            return None;
        }
        let area = (0.02 + 0.18 * uniform()) * (width * height) as f64;
        let aspect = 0.3 + 3.0 * uniform();
        let h = ((area * aspect).sqrt().round() as usize).clamp(1, height);
        let w = ((area / aspect).sqrt().round() as usize).clamp(1, width);
        let x = ((width - w + 1) as f64 * uniform()) as usize;
        let y = ((height - h + 1) as f64 * uniform()) as usize;
        Some((x.min(width - w), y.min(height - h), w, h))
    }
}

/// Fills `rect` of `image` with mid grey (clipped at the edges).
pub fn erase(image: &mut Rgb, (x, y, w, h): PixelRect) {
    for row in y..(y + h).min(image.height) {
        for col in x..(x + w).min(image.width) {
            image.put(col, row, [128; 3]);
        }
    }
}

/// Brightness/contrast jitter in place: `v' = (v − 128)·contrast + 128 + brightness`.
pub fn jitter_colors(image: &mut Rgb, brightness: f64, contrast: f64) {
    for v in &mut image.pixels {
        *v = ((f64::from(*v) - 128.0) * contrast + 128.0 + brightness)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ATTRIBUTE_COUNT;

    /// A dark image with a bright 5×5 square centred on each landmark.
    fn dotted(width: usize, height: usize, landmarks: &[f32; LANDMARK_OUTPUTS]) -> Rgb {
        let mut img = Rgb::new(width, height);
        for p in landmarks.chunks_exact(2) {
            for dy in 0..5 {
                for dx in 0..5 {
                    img.put(p[0] as usize + dx - 2, p[1] as usize + dy - 2, [255, 255, 255]);
                }
            }
        }
        img
    }

    /// Brightness-weighted centroid of the pixels within `radius` of `(x, y)`.
    fn centroid(img: &Rgb, x: f32, y: f32, radius: f32) -> (f32, f32) {
        let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
        for yy in 0..img.height {
            for xx in 0..img.width {
                if (xx as f32 - x).abs() <= radius && (yy as f32 - y).abs() <= radius {
                    let w = img.get(xx, yy).unwrap()[0] as f32;
                    sx += w * xx as f32;
                    sy += w * yy as f32;
                    sw += w;
                }
            }
        }
        (sx / sw, sy / sw)
    }

    #[test]
    fn inverse_and_composition() {
        let m = Affine::rotate_about(0.3, 10.0, 20.0)
            .after(&Affine::scale(2.0, 0.5))
            .after(&Affine::translate(3.0, -4.0));
        let inv = m.inverse().unwrap();
        for (x, y) in [(0.0, 0.0), (5.5, -3.0), (100.0, 7.0)] {
            let (u, v) = m.apply(x, y);
            let (bx, by) = inv.apply(u, v);
            assert!((bx - x).abs() < 1e-9 && (by - y).abs() < 1e-9);
        }
    }

    #[test]
    fn celeba_crop_maps_pixel_edges_to_pixel_edges() {
        let m = Affine::centre_square(178, 218, 128);
        let (x0, y0) = m.apply(-0.5, 19.5);
        let (x1, y1) = m.apply(177.5, 197.5);
        assert!((x0 + 0.5).abs() < 1e-9 && (y0 + 0.5).abs() < 1e-9);
        assert!((x1 - 127.5).abs() < 1e-9 && (y1 - 127.5).abs() < 1e-9);
    }

    /// Property: for random crops, scales, rotations, shifts and flips, the
    /// bright dot drawn at each landmark ends up where the transformed
    /// landmark says (within a pixel), so the landmark transform matches the
    /// image transform.
    #[test]
    fn landmark_transform_matches_image_transform() {
        let mut seed = 12345u64;
        let mut uniform = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let aug = Augment {
            flip_probability: 0.5,
            max_shift: 0.05,
            max_scale: 0.1,
            max_rotation_degrees: 15.0,
            color_jitter: 0.0,
            erase_probability: 0.0,
        };
        for case in 0..40 {
            let landmarks = [60.0, 100.0, 110.0, 102.0, 85.0, 130.0, 68.0, 155.0, 108.0, 157.0];
            let sample = FaceSample {
                image: dotted(178, 218, &landmarks),
                landmarks,
                attributes: [0; ATTRIBUTE_COUNT],
            };
            let out = 96;
            let (map, mirrored) = aug.draw(&Affine::centre_square(178, 218, out), out, &mut uniform);
            let t = transform_sample(&sample, &map, out, out, mirrored);
            for p in t.landmarks.chunks_exact(2) {
                let (cx, cy) = centroid(&t.image, p[0], p[1], 4.0);
                assert!(
                    (cx - p[0]).abs() < 0.75 && (cy - p[1]).abs() < 0.75,
                    "case {case}: {p:?} vs ({cx}, {cy})"
                );
            }
            if mirrored {
                // After a flip the "left eye" is still the one on the image's left.
                assert!(t.landmarks[0] < t.landmarks[2], "case {case}");
            }
        }
    }

    /// A flip or whole-pixel shift (the copy path of [`warp`]) gives the
    /// same image as bilinear sampling at every output pixel.
    #[test]
    fn whole_pixel_maps_copy_what_sampling_gives() {
        let mut src = Rgb::new(13, 9);
        for (i, v) in src.pixels.iter_mut().enumerate() {
            *v = (i * 37 % 251) as u8;
        }
        for map in [
            Affine::flip_horizontal(13),
            Affine::translate(3.0, -2.0),
            Affine::translate(-20.0, 4.0).after(&Affine::flip_horizontal(13)),
        ] {
            let inv = map.inverse().unwrap();
            let out = warp(&src, &map, 11, 10);
            for y in 0..10 {
                for x in 0..11 {
                    let (sx, sy) = inv.apply(x as f64, y as f64);
                    assert_eq!(out.get(x, y), Some(sample(&src, sx, sy)), "{map:?} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn geometry_factor_scales_only_the_geometry() {
        let d = Augment::DEFAULT;
        let none = d.with_geometry(0.0);
        assert_eq!(
            (none.max_shift, none.max_scale, none.max_rotation_degrees),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(
            (none.flip_probability, none.color_jitter),
            (d.flip_probability, d.color_jitter)
        );
        assert_eq!(d.with_geometry(0.5).max_rotation_degrees, d.max_rotation_degrees * 0.5);
        assert_eq!(d.with_geometry(1.0), d);
    }

    /// Property: an erased rectangle lies inside the image and covers
    /// 2–20 % of it (up to rounding and clipping at the edges); erasing
    /// greys exactly its pixels.
    #[test]
    fn erasing_stays_inside_and_greys_only_the_rectangle() {
        let mut seed = 7u64;
        let mut uniform = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let never = Augment::NONE;
        assert_eq!(never.draw_erase(64, 64, &mut uniform), None);
        let always = Augment {
            erase_probability: 1.0,
            ..Augment::NONE
        };
        for (w, h) in [(64, 64), (17, 5), (1, 1)] {
            for _ in 0..200 {
                let (x, y, rw, rh) = always.draw_erase(w, h, &mut uniform).expect("p = 1 always erases");
                assert!(
                    rw >= 1 && rh >= 1 && x + rw <= w && y + rh <= h,
                    "{x} {y} {rw} {rh} in {w}×{h}"
                );
                if (w, h) == (64, 64) {
                    let share = (rw * rh) as f64 / (w * h) as f64;
                    assert!((0.01..=0.3).contains(&share), "{share}");
                }
            }
        }
        let mut img = Rgb::new(6, 4);
        erase(&mut img, (1, 2, 3, 5));
        for y in 0..4 {
            for x in 0..6 {
                let inside = (1..4).contains(&x) && (2..4).contains(&y);
                assert_eq!(
                    img.get(x, y),
                    Some(if inside { [128; 3] } else { [0; 3] }),
                    "({x}, {y})"
                );
            }
        }
    }

    #[test]
    fn jitter_keeps_range() {
        let mut img = Rgb {
            width: 2,
            height: 1,
            pixels: vec![0, 128, 255, 10, 20, 30],
        };
        jitter_colors(&mut img, 10.0, 1.5);
        assert_eq!(img.pixels, vec![0, 138, 255, 0, 0, 0]);
    }
}
