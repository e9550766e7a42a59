//! The face model: what a sample shows. [`SyntheticConfig`] (size and seed
//! of a dataset), the [`MODELLED_ATTRIBUTES`], and `Face`, every parameter
//! of one sample (attributes, head pose, feature geometry, colours,
//! background, noise) drawn from a seeded generator that depends only on
//! `(seed, index)`, with the derived geometry the labels come from: the
//! face-local → image map, the mouth line, the 5 landmarks and the 40
//! attribute labels.
use super::canvas::{lerp, times, Colour};
use crate::data::attributes::{attribute_index, ATTRIBUTE_COUNT, LANDMARK_OUTPUTS};
use crate::data::transform::Affine;
use smn_firmware_core::builder::Rng;
use std::f64::consts::TAU;

/// Size and seed of a synthetic dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Image width in pixels (default 178, like aligned CelebA).
    pub width: usize,
    /// Image height in pixels (default 218, like aligned CelebA).
    pub height: usize,
    /// Dataset seed: sample `index` of seed `s` is always the same image.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    /// 178×218 (aligned CelebA), seed 0.
    fn default() -> Self {
        SyntheticConfig {
            width: 178,
            height: 218,
            seed: 0,
        }
    }
}

/// The CelebA attributes the generator draws and labels (`±1`), in CelebA
/// column order; every other attribute is `0` (unknown).
///
/// Each is set independently (hair colour: black, blond or another colour):
/// `Bangs` (a fringe over the forehead), `Black_Hair`, `Blond_Hair`,
/// `Eyeglasses` (rims, bridge and temples), `Male` (short hair, wider jaw,
/// thicker brows; otherwise long hair down the sides), `Mouth_Slightly_Open`
/// (dark opening between the lips), `Mustache` (band between nose and
/// mouth), `No_Beard` (`−1` when a beard covers jaw and chin), `Pale_Skin`
/// (very light skin; otherwise a range of tones), `Smiling` (upturned mouth,
/// corners up and out), `Wearing_Hat` (crown and brim over the top of the
/// head).
pub const MODELLED_ATTRIBUTES: [&str; 11] = [
    "Bangs",
    "Black_Hair",
    "Blond_Hair",
    "Eyeglasses",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "No_Beard",
    "Pale_Skin",
    "Smiling",
    "Wearing_Hat",
];

/// Hair colour group (the two modelled colours and the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hair {
    Black,
    Blond,
    Other,
}

/// Background blob: centre and radius in image pixels, colour.
#[derive(Clone, Copy, Debug)]
pub(super) struct Blob {
    /// Centre, image column.
    pub(super) x: f64,
    /// Centre, image row.
    pub(super) y: f64,
    /// Radius in image pixels.
    pub(super) r: f64,
    /// Colour blended over the background.
    pub(super) colour: Colour,
}

/// Everything one sample is drawn from. Geometry is in face-local units
/// (origin at the face centre, x right, y down; one unit is one pixel of a
/// 178×218 image at scale 1). Every field is drawn unconditionally, so
/// switching an attribute (as the tests do) changes only its own drawing.
#[derive(Clone, Debug)]
pub(super) struct Face {
    pub(super) male: bool,
    pub(super) eyeglasses: bool,
    pub(super) smiling: bool,
    pub(super) mouth_open: bool,
    pub(super) hat: bool,
    pub(super) mustache: bool,
    pub(super) beard: bool,
    pub(super) hair: Hair,
    pub(super) bangs: bool,
    pub(super) pale: bool,

    /// Rotation (radians), image pixels per local unit, face centre in the image.
    angle: f64,
    pub(super) scale: f64,
    centre: (f64, f64),

    pub(super) face_rx: f64,
    pub(super) face_ry: f64,
    pub(super) chin_taper: f64,
    pub(super) eye_dx: f64,
    pub(super) eye_y: f64,
    pub(super) eye_rx: f64,
    pub(super) eye_ry: f64,
    pub(super) iris_r: f64,
    pub(super) brow_gap: f64,
    pub(super) nose_y: f64,
    pub(super) nose_w: f64,
    pub(super) mouth_y: f64,
    pub(super) mouth_w: f64,
    open_h: f64,
    smile_lift: f64,
    pub(super) hair_volume: f64,
    pub(super) hair_length: f64,
    pub(super) strand_freq: f64,
    pub(super) strand_phase: f64,
    pub(super) fringe_phase: f64,
    /// Lighting gradient: relative brightness change per unit of face radius along x and y.
    pub(super) light: (f64, f64),

    skin_pale: Colour,
    skin_other: Colour,
    hair_black: Colour,
    hair_blond: Colour,
    hair_other: Colour,
    pub(super) iris: Colour,
    pub(super) lip: Colour,
    pub(super) hat_colour: Colour,
    pub(super) glasses_colour: Colour,
    pub(super) clothes: Colour,
    pub(super) background: [Colour; 2],
    pub(super) background_angle: f64,
    pub(super) blobs: [Blob; 3],
    pub(super) blob_count: usize,
    pub(super) exposure: f32,
    pub(super) noise_sigma: f32,
    pub(super) noise_seed: u64,
}

/// SplitMix64's finaliser.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.unit()
}

/// `true` with probability `p`.
fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.unit() < p
}

/// Uniform per channel between `lo` and `hi`.
fn colour_in(rng: &mut Rng, lo: Colour, hi: Colour) -> Colour {
    let mut c = [0.0; 3];
    for ((c, l), h) in c.iter_mut().zip(lo).zip(hi) {
        *c = uniform(rng, f64::from(l), f64::from(h)) as f32;
    }
    c
}

/// HSV (hue in degrees) to RGB in 0..255.
fn hsv(h: f64, s: f64, v: f64) -> Colour {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [
        ((r + m) * 255.0) as f32,
        ((g + m) * 255.0) as f32,
        ((b + m) * 255.0) as f32,
    ]
}

impl Face {
    /// The parameters of sample `index`.
    pub(super) fn draw(config: &SyntheticConfig, index: u64) -> Face {
        let mut rng = Rng::new(mix(mix(config.seed) ^ index));
        let rng = &mut rng;
        let noise_seed = rng.next_u64();

        let male = chance(rng, 0.5);
        let eyeglasses = chance(rng, 0.35);
        let smiling = chance(rng, 0.45);
        let mouth_open = chance(rng, 0.4);
        let hat = chance(rng, 0.3);
        let mustache = chance(rng, 0.3);
        let beard = chance(rng, 0.3);
        let hair = match rng.unit() {
            u if u < 0.35 => Hair::Black,
            u if u < 0.65 => Hair::Blond,
            _ => Hair::Other,
        };
        let bangs = chance(rng, 0.35);
        let pale = chance(rng, 0.3);

        let base = (config.width as f64 / 178.0).min(config.height as f64 / 218.0);
        let scale = base * uniform(rng, 0.8, 1.2);
        let angle = uniform(rng, -15.0, 15.0).to_radians();
        let centre = (
            (config.width as f64 - 1.0) / 2.0 + base * uniform(rng, -6.0, 6.0),
            config.height as f64 * 0.552 + base * uniform(rng, -6.0, 6.0),
        );

        let face_rx = uniform(rng, 44.0, 48.5);
        let face_ry = uniform(rng, 58.0, 65.0);
        let chin_taper = uniform(rng, 0.05, 0.16);
        let eye_dx = uniform(rng, 17.5, 21.5);
        let eye_y = uniform(rng, -11.0, -7.0);
        let eye_rx = uniform(rng, 7.0, 9.0);
        let eye_ry = uniform(rng, 3.4, 4.5);
        let iris_r = uniform(rng, 2.8, 3.6);
        let brow_gap = uniform(rng, 9.0, 10.5);
        let nose_y = uniform(rng, 12.0, 16.0);
        let nose_w = uniform(rng, 4.5, 6.0);
        let mouth_y = uniform(rng, 29.0, 33.0);
        let mouth_w = uniform(rng, 14.5, 18.0);
        let open_h = uniform(rng, 4.5, 7.0);
        let smile_lift = uniform(rng, 2.5, 4.0);
        let hair_volume = uniform(rng, 3.0, 8.0);
        let hair_length = uniform(rng, 15.0, 45.0);
        let strand_freq = uniform(rng, 0.6, 1.4);
        let strand_phase = uniform(rng, 0.0, TAU);
        let fringe_phase = uniform(rng, 0.0, TAU);
        let light_angle = uniform(rng, 0.0, TAU);
        let light_strength = uniform(rng, 0.05, 0.22);
        let light = (light_strength * light_angle.cos(), light_strength * light_angle.sin());

        let skin_pale = lerp([250.0, 230.0, 218.0], [236.0, 206.0, 188.0], rng.unit() as f32);
        let stops: [Colour; 4] = [
            [226.0, 186.0, 152.0],
            [198.0, 146.0, 108.0],
            [150.0, 100.0, 70.0],
            [92.0, 60.0, 42.0],
        ];
        let t = rng.unit() * 3.0;
        let k = (t as usize).min(2);
        let skin_other = lerp(stops[k], stops[k + 1], (t - k as f64) as f32);
        let black = uniform(rng, 18.0, 40.0) as f32;
        let hair_black = [black, black * 0.88, black * 0.8];
        let hair_blond = colour_in(rng, [212.0, 180.0, 105.0], [242.0, 212.0, 150.0]);
        let others: [(Colour, Colour); 3] = [
            ([85.0, 55.0, 32.0], [125.0, 80.0, 50.0]),      // brown
            ([140.0, 60.0, 35.0], [170.0, 85.0, 50.0]),     // auburn
            ([135.0, 135.0, 138.0], [185.0, 185.0, 190.0]), // grey
        ];
        let which = rng.below(3) as usize;
        let (lo, hi) = others[which];
        let mut hair_other = colour_in(rng, lo, hi);
        if which == 2 {
            hair_other = [hair_other[0]; 3]; // grey stays grey
        }
        let irises: [Colour; 4] = [
            [70.0, 45.0, 25.0],
            [60.0, 90.0, 130.0],
            [60.0, 90.0, 60.0],
            [35.0, 25.0, 20.0],
        ];
        let iris = times(irises[rng.below(4) as usize], uniform(rng, 0.8, 1.1) as f32);
        let lip = colour_in(rng, [160.0, 60.0, 70.0], [190.0, 90.0, 95.0]);
        let hat_colour = hsv(
            uniform(rng, 0.0, 360.0),
            uniform(rng, 0.55, 0.9),
            uniform(rng, 0.45, 0.85),
        );
        let frames: [Colour; 4] = [
            [30.0, 30.0, 32.0],
            [70.0, 45.0, 30.0],
            [175.0, 145.0, 80.0],
            [12.0, 12.0, 14.0],
        ];
        let glasses_colour = frames[rng.below(4) as usize];
        let clothes = hsv(
            uniform(rng, 0.0, 360.0),
            uniform(rng, 0.15, 0.8),
            uniform(rng, 0.2, 0.9),
        );
        let background = [
            colour_in(rng, [20.0; 3], [235.0; 3]),
            colour_in(rng, [20.0; 3], [235.0; 3]),
        ];
        let background_angle = uniform(rng, 0.0, TAU);
        let (w, h) = (config.width as f64, config.height as f64);
        let blobs = [(); 3].map(|()| Blob {
            x: uniform(rng, 0.0, w),
            y: uniform(rng, 0.0, h),
            r: base * uniform(rng, 8.0, 40.0),
            colour: colour_in(rng, [20.0; 3], [235.0; 3]),
        });
        let blob_count = rng.below(4) as usize;
        let exposure = uniform(rng, 0.9, 1.08) as f32;
        let noise_sigma = uniform(rng, 2.0, 7.0) as f32;

        Face {
            male,
            eyeglasses,
            smiling,
            mouth_open,
            hat,
            mustache,
            beard,
            hair,
            bangs,
            pale,
            angle,
            scale,
            centre,
            face_rx,
            face_ry,
            chin_taper,
            eye_dx,
            eye_y,
            eye_rx,
            eye_ry,
            iris_r,
            brow_gap,
            nose_y,
            nose_w,
            mouth_y,
            mouth_w,
            open_h,
            smile_lift,
            hair_volume,
            hair_length,
            strand_freq,
            strand_phase,
            fringe_phase,
            light,
            skin_pale,
            skin_other,
            hair_black,
            hair_blond,
            hair_other,
            iris,
            lip,
            hat_colour,
            glasses_colour,
            clothes,
            background,
            background_angle,
            blobs,
            blob_count,
            exposure,
            noise_sigma,
            noise_seed,
        }
    }

    /// Face-local → image.
    pub(super) fn map(&self) -> Affine {
        Affine::translate(self.centre.0, self.centre.1)
            .after(&Affine::rotate_about(self.angle, 0.0, 0.0))
            .after(&Affine::scale(self.scale, self.scale))
    }

    /// Half-width of the face (male faces are wider).
    pub(super) fn rx(&self) -> f64 {
        self.face_rx + if self.male { 2.5 } else { 0.0 }
    }

    /// Skin colour (pale or the sampled tone).
    pub(super) fn skin(&self) -> Colour {
        if self.pale {
            self.skin_pale
        } else {
            self.skin_other
        }
    }

    /// Colour of the hair, brows and facial hair.
    pub(super) fn hair_colour(&self) -> Colour {
        match self.hair {
            Hair::Black => self.hair_black,
            Hair::Blond => self.hair_blond,
            Hair::Other => self.hair_other,
        }
    }

    /// The mouth line (wider with raised corners when smiling, opened by `open_h`).
    pub(super) fn mouth(&self) -> Mouth {
        let (half, corner_y, upper) = if self.smiling {
            (self.mouth_w + 2.0, self.mouth_y - self.smile_lift, self.mouth_y + 1.2)
        } else {
            (self.mouth_w, self.mouth_y, self.mouth_y + 0.6)
        };
        Mouth {
            half,
            corner_y,
            upper,
            lower: upper + if self.mouth_open { self.open_h } else { 0.0 },
        }
    }

    /// Left eye, right eye, nose tip, left and right mouth corner, face-local.
    fn landmarks_local(&self) -> [(f64, f64); 5] {
        let m = self.mouth();
        [
            (-self.eye_dx, self.eye_y),
            (self.eye_dx, self.eye_y),
            (0.0, self.nose_y),
            (-m.half, m.corner_y),
            (m.half, m.corner_y),
        ]
    }

    /// The 5 landmarks in image pixels, `(x0, y0, …, x4, y4)`.
    pub(super) fn landmarks(&self) -> [f32; LANDMARK_OUTPUTS] {
        let map = self.map();
        let mut out = [0f32; LANDMARK_OUTPUTS];
        for (o, &(x, y)) in out.chunks_exact_mut(2).zip(self.landmarks_local().iter()) {
            let (ix, iy) = map.apply(x, y);
            o.copy_from_slice(&[ix as f32, iy as f32]);
        }
        out
    }

    /// The 40 CelebA attributes: the modelled ones `±1`, the others `0`.
    pub(super) fn attributes(&self) -> [i8; ATTRIBUTE_COUNT] {
        let mut out = [0i8; ATTRIBUTE_COUNT];
        let values = [
            self.bangs,
            self.hair == Hair::Black,
            self.hair == Hair::Blond,
            self.eyeglasses,
            self.male,
            self.mouth_open,
            self.mustache,
            !self.beard,
            self.pale,
            self.smiling,
            self.hat,
        ];
        for (name, v) in MODELLED_ATTRIBUTES.iter().zip(values) {
            if let Some(slot) = attribute_index(name).and_then(|i| out.get_mut(i)) {
                *slot = if v { 1 } else { -1 };
            }
        }
        out
    }
}

/// The mouth line: a parabola through both corners `(±half, corner_y)` whose
/// middle is at `upper`; the lower lip line has its middle at `lower`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mouth {
    /// Half-width: the corners are at `x = ±half`.
    pub(super) half: f64,
    /// Height of both corners.
    pub(super) corner_y: f64,
    /// Middle of the upper lip line.
    pub(super) upper: f64,
    /// Middle of the lower lip line (`upper` when the mouth is closed).
    pub(super) lower: f64,
}

impl Mouth {
    /// 1 in the middle, 0 at the corners.
    pub(super) fn taper(&self, x: f64) -> f64 {
        let u = x / self.half;
        (1.0 - u * u).max(0.0)
    }

    /// The upper lip line at `x`.
    pub(super) fn upper_at(&self, x: f64) -> f64 {
        self.corner_y + (self.upper - self.corner_y) * self.taper(x)
    }

    /// The lower lip line at `x`.
    pub(super) fn lower_at(&self, x: f64) -> f64 {
        self.corner_y + (self.lower - self.corner_y) * self.taper(x)
    }
}
