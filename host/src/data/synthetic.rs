//! Synthetic faces: a seeded generator of labelled face images, the
//! toolkit's built-in dataset, so training and evaluation can be tried end to
//! end without CelebA.
//!
//! Each sample is drawn from parameters that depend only on `(seed, index)`:
//! a background (two-colour gradient and soft blobs), shoulders, neck and
//! ears, hair, a skin-toned face ellipse under a lighting gradient, eyebrows,
//! eyes (white, iris, pupil, lid line), a shaded nose tip with nostrils, a
//! mouth, and optional beard, mustache, bangs, hat and glasses; then
//! Gaussian-like per-pixel noise. The head is drawn in a face-local frame and
//! mapped into the image by one [`Affine`] (rotation ±15°, scale ±20 %, shift
//! ±6 px). The landmarks are local points mapped by that same matrix — the
//! pupil centres, the nose tip (centre of its shading), the mouth corners
//! (end points of the mouth line) — so they are exact to sub-pixel accuracy.
//!
//! The default size is aligned CelebA's 178×218, with the face where aligned
//! CelebA puts it (eyes near row 111, about 39 px apart), so the same
//! crop/resize path serves both. [`MODELLED_ATTRIBUTES`] names the attributes
//! the generator controls; all others are `0` (unknown) in memory.
//! [`write_celeba_layout`] writes a dataset in CelebA's file layout, with
//! the sidecar file that names the modelled attributes.
use super::attributes::{attribute_index, ATTRIBUTE_COUNT, ATTRIBUTE_NAMES, LANDMARK_COLUMNS};
use super::celeba::{ATTRIBUTES_FILE, IMAGE_DIR, LANDMARKS_FILE, MODELLED_ATTRIBUTES_FILE, PARTITION_FILE};
use super::transform::Affine;
use super::{FaceSample, Rgb};
use rayon::prelude::*;
use smn_firmware_core::builder::Rng;
use std::f64::consts::TAU;
use std::io::{self, Write};
use std::path::Path;

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

/// Sample `index` of the dataset `config`: deterministic in
/// `(config.seed, index)` and independent of every other index.
pub fn generate(config: &SyntheticConfig, index: u64) -> FaceSample {
    let face = Face::draw(config, index);
    FaceSample {
        image: face.render(config.width, config.height),
        landmarks: face.landmarks(),
        attributes: face.attributes(),
    }
}

/// Samples `0..count` of the dataset `config`, generated in parallel.
pub fn generate_many(config: &SyntheticConfig, count: usize) -> Vec<FaceSample> {
    (0..count as u64).into_par_iter().map(|i| generate(config, i)).collect()
}

/// Writes samples `0..count` in CelebA's layout under `dir`:
/// `img_align_celeba/000001.jpg…` (sample `i` is file `i + 1`, JPEG quality
/// 95), `list_landmarks_align_celeba.txt` (landmarks rounded to integers, as
/// in the official file), `list_attr_celeba.txt` (modelled attributes `±1`,
/// the others `−1` since the official format has no "unknown"),
/// `list_eval_partition.txt` (first 80 % train, next 10 % val, last 10 %
/// test) and `synthetic_attributes.txt` (the [`MODELLED_ATTRIBUTES`], one
/// per line, so a loader marks the rest unknown). Row layout, count and
/// header lines, and LF line endings follow the official files.
pub fn write_celeba_layout(dir: &Path, config: &SyntheticConfig, count: usize) -> io::Result<()> {
    let images = dir.join(IMAGE_DIR);
    std::fs::create_dir_all(&images)?;
    let labels = (0..count)
        .into_par_iter()
        .map(|i| {
            let sample = generate(config, i as u64);
            write_jpeg(&images.join(file_name(i)), &sample.image)?;
            Ok((sample.landmarks, sample.attributes))
        })
        .collect::<io::Result<Vec<_>>>()?;

    let mut landmarks = format!("{count}\n{}\n", LANDMARK_COLUMNS.join(" "));
    let mut attributes = format!("{count}\n{} \n", ATTRIBUTE_NAMES.join(" "));
    let mut partition = String::new();
    for (i, (marks, attrs)) in labels.iter().enumerate() {
        let name = file_name(i);
        landmarks.push_str(&name);
        landmarks.push(' ');
        for v in marks {
            landmarks.push_str(&format!("{:>5}", v.round() as i64));
        }
        landmarks.push('\n');
        attributes.push_str(&name);
        for (k, &a) in attrs.iter().enumerate() {
            let v = if a > 0 { "1" } else { "-1" };
            // Official layout: the first value unpadded, the rest right-aligned in 3 columns.
            attributes.push_str(&if k == 0 { format!(" {v}") } else { format!("{v:>3}") });
        }
        attributes.push('\n');
        let split = if i < count * 8 / 10 {
            0
        } else if i < count * 9 / 10 {
            1
        } else {
            2
        };
        partition.push_str(&format!("{name} {split}\n"));
    }
    std::fs::write(dir.join(LANDMARKS_FILE), landmarks)?;
    std::fs::write(dir.join(ATTRIBUTES_FILE), attributes)?;
    std::fs::write(dir.join(PARTITION_FILE), partition)?;
    std::fs::write(
        dir.join(MODELLED_ATTRIBUTES_FILE),
        MODELLED_ATTRIBUTES.join("\n") + "\n",
    )?;
    Ok(())
}

/// `000001.jpg` for sample 0.
fn file_name(index: usize) -> String {
    format!("{:06}.jpg", index + 1)
}

fn write_jpeg(path: &Path, image: &Rgb) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
    encoder
        .encode(
            &image.pixels,
            image.width as u32,
            image.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(io::Error::other)?;
    out.flush()
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

type Colour = [f32; 3];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hair {
    Black,
    Blond,
    Other,
}

/// Background blob: centre and radius in image pixels, colour.
#[derive(Clone, Copy, Debug)]
struct Blob {
    x: f64,
    y: f64,
    r: f64,
    colour: Colour,
}

/// Everything one sample is drawn from. Geometry is in face-local units
/// (origin at the face centre, x right, y down; one unit is one pixel of a
/// 178×218 image at scale 1). Every field is drawn unconditionally, so
/// switching an attribute (as the tests do) changes only its own drawing.
#[derive(Clone, Debug)]
struct Face {
    male: bool,
    eyeglasses: bool,
    smiling: bool,
    mouth_open: bool,
    hat: bool,
    mustache: bool,
    beard: bool,
    hair: Hair,
    bangs: bool,
    pale: bool,

    /// Rotation (radians), image pixels per local unit, face centre in the image.
    angle: f64,
    scale: f64,
    centre: (f64, f64),

    face_rx: f64,
    face_ry: f64,
    chin_taper: f64,
    eye_dx: f64,
    eye_y: f64,
    eye_rx: f64,
    eye_ry: f64,
    iris_r: f64,
    brow_gap: f64,
    nose_y: f64,
    nose_w: f64,
    mouth_y: f64,
    mouth_w: f64,
    open_h: f64,
    smile_lift: f64,
    hair_volume: f64,
    hair_length: f64,
    strand_freq: f64,
    strand_phase: f64,
    fringe_phase: f64,
    /// Lighting gradient: relative brightness change per unit of face radius along x and y.
    light: (f64, f64),

    skin_pale: Colour,
    skin_other: Colour,
    hair_black: Colour,
    hair_blond: Colour,
    hair_other: Colour,
    iris: Colour,
    lip: Colour,
    hat_colour: Colour,
    glasses_colour: Colour,
    clothes: Colour,
    background: [Colour; 2],
    background_angle: f64,
    blobs: [Blob; 3],
    blob_count: usize,
    exposure: f32,
    noise_sigma: f32,
    noise_seed: u64,
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.unit()
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.unit() < p
}

fn colour_in(rng: &mut Rng, lo: Colour, hi: Colour) -> Colour {
    let mut c = [0.0; 3];
    for ((c, l), h) in c.iter_mut().zip(lo).zip(hi) {
        *c = uniform(rng, f64::from(l), f64::from(h)) as f32;
    }
    c
}

fn lerp(a: Colour, b: Colour, t: f32) -> Colour {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn times(c: Colour, k: f32) -> Colour {
    [c[0] * k, c[1] * k, c[2] * k]
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
    fn draw(config: &SyntheticConfig, index: u64) -> Face {
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
    fn map(&self) -> Affine {
        Affine::translate(self.centre.0, self.centre.1)
            .after(&Affine::rotate_about(self.angle, 0.0, 0.0))
            .after(&Affine::scale(self.scale, self.scale))
    }

    /// Half-width of the face (male faces are wider).
    fn rx(&self) -> f64 {
        self.face_rx + if self.male { 2.5 } else { 0.0 }
    }

    fn skin(&self) -> Colour {
        if self.pale {
            self.skin_pale
        } else {
            self.skin_other
        }
    }

    fn hair_colour(&self) -> Colour {
        match self.hair {
            Hair::Black => self.hair_black,
            Hair::Blond => self.hair_blond,
            Hair::Other => self.hair_other,
        }
    }

    fn mouth(&self) -> Mouth {
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

    fn landmarks(&self) -> [f32; 10] {
        let map = self.map();
        let mut out = [0f32; 10];
        for (o, &(x, y)) in out.chunks_exact_mut(2).zip(self.landmarks_local().iter()) {
            let (ix, iy) = map.apply(x, y);
            o.copy_from_slice(&[ix as f32, iy as f32]);
        }
        out
    }

    fn attributes(&self) -> [i8; ATTRIBUTE_COUNT] {
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

    /// Lighting factor at a local point.
    fn light(&self, x: f64, y: f64) -> f32 {
        (1.0 + (x * self.light.0 + y * self.light.1) / self.face_rx).clamp(0.6, 1.4) as f32
    }

    /// Hair strand texture factor.
    fn strands(&self, x: f64, y: f64) -> f32 {
        (1.0 + 0.1 * wave(self.strand_freq * (x + 0.15 * y) + self.strand_phase)) as f32
    }

    /// Stubble texture factor: a hash of the local cell.
    fn stubble(&self, x: f64, y: f64) -> f32 {
        let cell = (floor(x * 1.4) as i64 as u64).wrapping_mul(0x9E37_79B9) ^ (floor(y * 1.4) as i64 as u64);
        let h = mix(cell ^ self.noise_seed);
        0.8 + 0.35 * (h >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Signed distance to the face outline (egg-shaped: narrower towards the chin).
    fn face_sd(&self, x: f64, y: f64) -> f64 {
        let taper = self.chin_taper * if self.male { 0.6 } else { 1.0 };
        let squeeze = if y > 0.0 {
            1.0 - taper * (y / self.face_ry).min(1.0)
        } else {
            1.0
        };
        ellipse_sd(x / squeeze, y, self.rx(), self.face_ry)
    }

    /// The hair volume: an ellipse around the top of the head.
    fn hair_ellipse(&self) -> (f64, f64, f64) {
        let cy = -0.1 * self.face_ry;
        (
            cy,
            self.rx() + 5.0 + self.hair_volume,
            self.face_ry + 6.0 + self.hair_volume,
        )
    }

    /// Bottom edge of the hair over the forehead at `x`.
    fn hairline(&self, x: f64) -> f64 {
        let u = (x / self.rx()).clamp(-1.0, 1.0);
        if self.bangs {
            self.eye_y - 15.0 + 1.6 * wave(0.7 * x + self.fringe_phase) + 3.0 * u * u
        } else {
            self.eye_y - 30.0 + 14.0 * u * u
        }
    }

    /// Height of the hat's brim.
    fn hat_y(&self) -> f64 {
        self.eye_y - 30.0
    }

    /// Renders the image.
    fn render(&self, width: usize, height: usize) -> Rgb {
        let mut canvas = Canvas::new(width, height, self.map(), self.scale);
        self.paint_background(&mut canvas);
        let rx = self.rx();
        let ry = self.face_ry;
        let skin = self.skin();
        let hair = self.hair_colour();

        // Shoulders and neck.
        let (sy, srx, sry) = (ry + 72.0, 2.1 * rx, 50.0);
        let neck_w = 0.5 * rx + if self.male { 3.0 } else { 0.0 };
        canvas.paint(
            [-neck_w, 0.0, neck_w, sy],
            1.0,
            |x, y| (x.abs() - neck_w).max(y - sy),
            |x, y| times(skin, 0.78 * self.light(x, y)),
        );
        canvas.paint(
            [-srx, sy - sry, srx, sy + sry],
            1.0,
            |x, y| ellipse_sd(x, y - sy, srx, sry),
            |x, y| times(self.clothes, self.light(x, y)),
        );

        // Ears.
        for side in [-1.0, 1.0] {
            let (ex, ey) = (side * (rx - 1.5), self.eye_y + 7.0);
            canvas.paint(
                [ex - 7.0, ey - 12.5, ex + 7.0, ey + 12.5],
                1.0,
                |x, y| ellipse_sd(x - ex, y - ey, 6.0, 11.5),
                |x, y| times(skin, 0.9 * self.light(x, y)),
            );
        }

        // Hair behind the head: short above the ears, or long down the sides.
        let (hcy, hrx, hry) = self.hair_ellipse();
        let long_bottom = 0.5 * ry + self.hair_length;
        let back_bottom = if self.male { self.eye_y - 4.0 } else { long_bottom };
        canvas.paint(
            [-hrx, hcy - hry, hrx, (hcy + hry).max(back_bottom)],
            1.0,
            |x, y| {
                let cap = ellipse_sd(x, y - hcy, hrx, hry);
                if self.male {
                    cap.max(y - back_bottom)
                } else {
                    // Long hair: down both sides, not in front of the neck.
                    let sides = (0.55 * rx - x.abs()).min(y);
                    cap.min((x.abs() - hrx).max(y - long_bottom).max(hcy - y).max(sides))
                }
            },
            |x, y| times(hair, 0.85 * self.light(x, y) * self.strands(x, y)),
        );

        // Face.
        canvas.paint(
            [-rx - 1.0, -ry - 1.0, rx + 1.0, ry + 1.0],
            1.0,
            |x, y| self.face_sd(x, y),
            |x, y| {
                let (u, v) = (x / rx, y / ry);
                let q = (u * u + v * v) as f32;
                times(skin, self.light(x, y) * (1.0 - 0.12 * q * q))
            },
        );

        let mouth = self.mouth();
        if self.beard {
            let top_mid = self.mouth_y + 5.0;
            let top_side = self.eye_y + 5.0;
            let (edge0, edge1) = (self.mouth_w, rx - 4.0);
            let zone_top = mouth.corner_y.min(mouth.upper) - 3.7;
            let zone_bottom = mouth.lower + 4.5;
            let zone_half = mouth.half + 3.0;
            canvas.paint(
                [-rx - 2.0, top_side - 1.0, rx + 2.0, ry + 2.0],
                0.92,
                |x, y| {
                    let top = top_mid - (top_mid - top_side) * smoothstep(edge0, edge1, x.abs());
                    let zone = (x.abs() - zone_half).max(zone_top - y).max(y - zone_bottom);
                    (self.face_sd(x, y) - 1.0).max(top - y).max(-zone)
                },
                |x, y| times(hair, 0.8 * self.light(x, y) * self.stubble(x, y)),
            );
        }

        // Eyebrows.
        let brow_half = if self.male { 1.5 } else { 1.0 };
        for side in [-1.0, 1.0] {
            let (bx, by) = (side * self.eye_dx, self.eye_y - self.brow_gap);
            let half_len = self.eye_rx + 2.0;
            canvas.paint(
                [bx - half_len - 2.0, by - 3.0, bx + half_len + 2.0, by + 4.0],
                1.0,
                |x, y| curve_distance(x - bx, y - by, half_len, -2.0, 2.0) - brow_half,
                |_, _| times(hair, 0.7),
            );
        }

        // Eyes: white, iris, pupil, upper lid line.
        for side in [-1.0, 1.0] {
            let (ex, ey) = (side * self.eye_dx, self.eye_y);
            let (erx, ery) = (self.eye_rx, self.eye_ry);
            let bbox = [ex - erx - 1.0, ey - ery - 1.0, ex + erx + 1.0, ey + ery + 1.0];
            canvas.paint(
                bbox,
                1.0,
                |x, y| ellipse_sd(x - ex, y - ey, erx, ery),
                |x, y| times([236.0, 232.0, 226.0], self.light(x, y)),
            );
            let iris_r = self.iris_r;
            canvas.paint(
                bbox,
                1.0,
                |x, y| (len(x - ex, y - ey) - iris_r).max(ellipse_sd(x - ex, y - ey, erx, ery)),
                |_, _| self.iris,
            );
            canvas.paint(
                bbox,
                1.0,
                |x, y| len(x - ex, y - ey) - 0.5 * iris_r,
                |_, _| [10.0, 8.0, 8.0],
            );
            canvas.paint(
                bbox,
                1.0,
                |x, y| (ellipse_sd(x - ex, y - ey, erx, ery).abs() - 0.6).max(y - ey),
                |_, _| [30.0, 20.0, 20.0],
            );
        }

        // Nose: bridge shadow on the side away from the light, shaded tip, nostrils.
        let shadow_x = -2.5 * self.light.0.signum();
        let (ny, nw) = (self.nose_y, self.nose_w);
        canvas.paint(
            [shadow_x - 2.0, self.eye_y, shadow_x + 2.0, ny],
            0.5,
            |x, y| segment_distance(x, y, (shadow_x, self.eye_y + 3.0), (shadow_x, ny - 3.0)) - 1.4,
            |x, y| times(skin, 0.8 * self.light(x, y)),
        );
        canvas.paint(
            [-nw - 1.0, ny - 4.0, nw + 1.0, ny + 4.0],
            1.0,
            |x, y| ellipse_sd(x, y - ny, nw, 3.2),
            |x, y| times(skin, 0.62 * self.light(x, y)),
        );
        for side in [-1.0, 1.0] {
            let nx = side * 0.55 * nw;
            canvas.paint(
                [nx - 2.0, ny, nx + 2.0, ny + 4.0],
                1.0,
                |x, y| ellipse_sd(x - nx, y - ny - 1.8, 1.6, 1.0),
                |_, _| times(skin, 0.35),
            );
        }

        if self.mustache {
            let half = mouth.half + 2.5;
            let top = ny + 4.5;
            canvas.paint(
                [-half - 1.0, top - 1.0, half + 1.0, mouth.upper],
                1.0,
                |x, y| {
                    let u = x / half;
                    let xc = x.clamp(-mouth.half, mouth.half);
                    let bottom = mouth.upper_at(xc) - 2.2 * mouth.taper(xc) - 0.8;
                    (x.abs() - half).max(top + 3.0 * u * u - y).max(y - bottom)
                },
                |x, y| times(hair, 0.75 * self.light(x, y) * self.stubble(x, y)),
            );
        }

        // Mouth: lips, opening (with teeth when smiling), line ending at the corners.
        let lip = times(lerp(skin, self.lip, 0.45), 0.9);
        let mbox = [
            -mouth.half - 2.0,
            mouth.corner_y.min(mouth.upper) - 4.0,
            mouth.half + 2.0,
            mouth.lower + 5.0,
        ];
        canvas.paint(
            mbox,
            1.0,
            |x, y| {
                let t = mouth.taper(x);
                let top = mouth.upper_at(x) - 2.2 * t;
                let bottom = mouth.lower_at(x) + 3.0 * t;
                (x.abs() - mouth.half).max(top - y).max(y - bottom)
            },
            |x, y| times(lip, self.light(x, y)),
        );
        if self.mouth_open {
            let opening = |x: f64, y: f64| {
                (x.abs() - mouth.half)
                    .max(mouth.upper_at(x) - y)
                    .max(y - mouth.lower_at(x))
            };
            canvas.paint(mbox, 1.0, opening, |_, _| [45.0, 15.0, 20.0]);
            if self.smiling {
                canvas.paint(
                    mbox,
                    1.0,
                    |x, y| opening(x, y).max(y - mouth.upper_at(x) - 1.8 * mouth.taper(x)),
                    |_, _| [232.0, 226.0, 215.0],
                );
            }
        }
        canvas.paint(
            mbox,
            1.0,
            |x, y| {
                // The line, with a small dark crease centred on each corner.
                let line = curve_distance(x, y - mouth.corner_y, mouth.half, mouth.upper - mouth.corner_y, 0.0) - 0.9;
                let crease = len(x.abs() - mouth.half, y - mouth.corner_y) - 1.6;
                line.min(crease)
            },
            |_, _| [32.0, 10.0, 13.0],
        );

        // Hair over the forehead (a fringe with bangs).
        canvas.paint(
            [-hrx, hcy - hry, hrx, self.eye_y - 8.0],
            1.0,
            |x, y| ellipse_sd(x, y - hcy, hrx, hry).max(y - self.hairline(x)),
            |x, y| times(hair, self.light(x, y) * self.strands(x, y)),
        );

        if self.hat {
            let hy = self.hat_y();
            let (crx, cry) = (rx + 4.0, 40.0);
            let brim = rx + 14.0;
            canvas.paint(
                [-crx, hy - cry, crx, hy],
                1.0,
                |x, y| ellipse_sd(x, y - hy, crx, cry).max(y - hy),
                |x, y| {
                    let band = if (hy - 9.0..hy - 4.0).contains(&y) { 0.6 } else { 1.0 };
                    times(self.hat_colour, band * self.light(x, y))
                },
            );
            canvas.paint(
                [-brim, hy - 6.0, brim, hy + 6.0],
                1.0,
                |x, y| ellipse_sd(x, y - hy, brim, 5.0),
                |x, y| times(self.hat_colour, 0.85 * self.light(x, y)),
            );
        }

        if self.eyeglasses {
            let (gx, gy) = (self.eye_rx + 4.5, self.eye_ry + 4.5);
            let rim = 0.9;
            let ey = self.eye_y;
            for side in [-1.0, 1.0] {
                let ex = side * self.eye_dx;
                let bbox = [ex - gx - 2.0, ey - gy - 2.0, ex + gx + 2.0, ey + gy + 2.0];
                canvas.paint(
                    bbox,
                    0.08,
                    |x, y| ellipse_sd(x - ex, y - ey, gx, gy),
                    |_, _| [200.0, 225.0, 255.0],
                );
                canvas.paint(
                    bbox,
                    1.0,
                    |x, y| ellipse_sd(x - ex, y - ey, gx, gy).abs() - rim,
                    |_, _| self.glasses_colour,
                );
                let (ax, bx) = (ex + side * gx, side * (rx - 0.5));
                canvas.paint(
                    [ax.min(bx) - 2.0, ey - 4.0, ax.max(bx) + 2.0, ey + 2.0],
                    1.0,
                    |x, y| segment_distance(x, y, (ax, ey - 1.0), (bx, ey - 2.0)) - rim,
                    |_, _| self.glasses_colour,
                );
            }
            let inner = self.eye_dx - gx;
            canvas.paint(
                [-inner - 2.0, ey - 5.0, inner + 2.0, ey + 1.0],
                1.0,
                |x, y| curve_distance(x, y - (ey - 1.0), inner + 0.5, -1.5, 0.0) - rim,
                |_, _| self.glasses_colour,
            );
        }

        canvas.finish(self.exposure, self.noise_sigma, self.noise_seed)
    }

    /// A linear gradient between two colours, then soft translucent blobs
    /// (image coordinates: the background does not move with the head).
    fn paint_background(&self, canvas: &mut Canvas) {
        let (w, h) = (canvas.width, canvas.height);
        if w == 0 {
            return;
        }
        let (dy, dx) = self.background_angle.sin_cos();
        let step_x = dx / w as f64;
        for (y, row) in canvas.buf.chunks_exact_mut(w).enumerate() {
            let mut t = 0.5 - 0.5 * dx + (y as f64 / h as f64 - 0.5) * dy;
            for p in row {
                *p = lerp(self.background[0], self.background[1], t.clamp(0.0, 1.0) as f32);
                t += step_x;
            }
        }
        let blur = 6.0 * self.scale;
        for b in self.blobs.get(..self.blob_count).unwrap_or(&[]) {
            let reach = b.r + blur;
            let (x0, x1) = (
                (b.x - reach).max(0.0) as usize,
                (b.x + reach).min(w as f64 - 1.0).max(0.0) as usize,
            );
            let (y0, y1) = (
                (b.y - reach).max(0.0) as usize,
                (b.y + reach).min(h as f64 - 1.0).max(0.0) as usize,
            );
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let d = len(x as f64 - b.x, y as f64 - b.y) - b.r;
                    let cover = (0.5 - d / blur).clamp(0.0, 1.0) as f32 * 0.45;
                    if cover > 0.0 {
                        if let Some(p) = canvas.buf.get_mut(y * w + x) {
                            *p = lerp(*p, b.colour, cover);
                        }
                    }
                }
            }
        }
    }
}

/// The mouth line: a parabola through both corners `(±half, corner_y)` whose
/// middle is at `upper`; the lower lip line has its middle at `lower`.
#[derive(Clone, Copy, Debug)]
struct Mouth {
    half: f64,
    corner_y: f64,
    upper: f64,
    lower: f64,
}

impl Mouth {
    /// 1 in the middle, 0 at the corners.
    fn taper(&self, x: f64) -> f64 {
        let u = x / self.half;
        (1.0 - u * u).max(0.0)
    }

    fn upper_at(&self, x: f64) -> f64 {
        self.corner_y + (self.upper - self.corner_y) * self.taper(x)
    }

    fn lower_at(&self, x: f64) -> f64 {
        self.corner_y + (self.lower - self.corner_y) * self.taper(x)
    }
}

// ---------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------

/// Approximate signed distance to the ellipse `(x/rx)² + (y/ry)² = 1`
/// (negative inside; exact for circles, first-order near the outline).
fn ellipse_sd(x: f64, y: f64, rx: f64, ry: f64) -> f64 {
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
fn wave(x: f64) -> f64 {
    let t = x / TAU;
    let u = 2.0 * (t - floor(t)) - 1.0;
    -4.0 * u * (1.0 - u.abs())
}

/// `x.floor()` without a libm call (finite `x` well inside the `i64` range).
fn floor(x: f64) -> f64 {
    let i = x as i64 as f64;
    if i > x {
        i - 1.0
    } else {
        i
    }
}

/// `√(x² + y²)` (no overflow care needed here, unlike `hypot`, and faster).
fn len(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

/// Distance to the segment `a`–`b`.
fn segment_distance(x: f64, y: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
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
fn curve_distance(x: f64, y: f64, half: f64, rise: f64, y0: f64) -> f64 {
    let ends = len(x - half, y - y0).min(len(x + half, y - y0));
    if x.abs() > half {
        return ends;
    }
    let u = x / half;
    let f = y0 + rise * (1.0 - u * u);
    let slope = -2.0 * rise * x / (half * half);
    ends.min((y - f).abs() / (1.0 + slope * slope).sqrt())
}

fn smoothstep(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A floating-point RGB image painted through the face-local frame.
struct Canvas {
    width: usize,
    height: usize,
    buf: Vec<Colour>,
    map: Affine,
    inverse: Affine,
    /// Image pixels per local unit.
    scale: f64,
}

impl Canvas {
    fn new(width: usize, height: usize, map: Affine, scale: f64) -> Canvas {
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
    fn paint(
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
    fn finish(self, exposure: f32, sigma: f32, seed: u64) -> Rgb {
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

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 200;

    fn config() -> SyntheticConfig {
        SyntheticConfig::default()
    }

    fn luma(c: [f32; 3]) -> f32 {
        0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    }

    /// Mean colour of the 3×3 pixels around the image point `(x, y)`.
    fn mean3(img: &Rgb, x: f64, y: f64) -> [f32; 3] {
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
    fn at_local(face: &Face, img: &Rgb, x: f64, y: f64) -> [f32; 3] {
        let (ix, iy) = face.map().apply(x, y);
        mean3(img, ix, iy)
    }

    fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
    }

    #[test]
    fn deterministic_per_seed_and_index() {
        let c = config();
        let a = generate(&c, 7);
        assert_eq!(a, generate(&c, 7));
        // Independent of other indices and of batch generation.
        let many = generate_many(&c, 9);
        assert_eq!(many[7], a);
        assert_ne!(generate(&c, 8).image, a.image);
        let other_seed = SyntheticConfig { seed: 1, ..c };
        assert_ne!(generate(&other_seed, 7).image, a.image);
        assert_eq!((a.image.width, a.image.height), (178, 218));
        assert_eq!(a.image.pixels.len(), 178 * 218 * 3);
    }

    #[test]
    fn landmarks_inside_and_ordered() {
        let c = config();
        for s in generate_many(&c, N) {
            let l = s.landmarks;
            for p in l.chunks_exact(2) {
                assert!((0.0..=177.0).contains(&p[0]) && (0.0..=217.0).contains(&p[1]), "{l:?}");
            }
            let (le, re, nose, lm, rm) = ((l[0], l[1]), (l[2], l[3]), (l[4], l[5]), (l[6], l[7]), (l[8], l[9]));
            assert!(le.0 < re.0 && lm.0 < rm.0, "{l:?}");
            assert!(le.1.max(re.1) < nose.1 && nose.1 < lm.1.min(rm.1), "{l:?}");
            let iod = (re.0 - le.0).hypot(re.1 - le.1);
            assert!((25.0..55.0).contains(&iod), "inter-ocular distance {iod}");
        }
        // Aligned-CelebA placement on average (eyes ≈ (69, 111), (108, 111); mouth ≈ 152).
        let all = generate_many(&c, N);
        let mean = |k: usize| all.iter().map(|s| s.landmarks[k]).sum::<f32>() / N as f32;
        assert!(
            (mean(0) - 69.0).abs() < 5.0 && (mean(2) - 108.0).abs() < 5.0,
            "{} {}",
            mean(0),
            mean(2)
        );
        assert!(
            (mean(1) - 111.0).abs() < 6.0 && (mean(7) - 152.0).abs() < 6.0,
            "{} {}",
            mean(1),
            mean(7)
        );
    }

    #[test]
    fn landmarks_sit_on_the_drawn_features() {
        let c = config();
        for i in 0..N as u64 {
            let face = Face::draw(&c, i);
            let s = generate(&c, i);
            let l = s.landmarks;
            // Pupils: the landmark pixel itself is dark.
            for eye in 0..2 {
                let p = s
                    .image
                    .get(l[2 * eye].round() as usize, l[2 * eye + 1].round() as usize)
                    .unwrap();
                let y = luma([f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]);
                assert!(y < 70.0, "sample {i} eye {eye}: luma {y}");
            }
            // Nose tip: darker than the cheek beside it.
            let nose = mean3(&s.image, f64::from(l[4]), f64::from(l[5]));
            let side = face.nose_w + 5.0;
            for dx in [-side, side] {
                let cheek = at_local(&face, &s.image, dx, face.nose_y);
                assert!(
                    luma(cheek) - luma(nose) > 10.0,
                    "sample {i}: nose {nose:?} cheek {cheek:?}"
                );
            }
            // Mouth corners: differ from the skin just outside them (no beard there).
            if !face.beard {
                let m = face.mouth();
                for (k, sx) in [(3, -1.0), (4, 1.0)] {
                    let corner = mean3(&s.image, f64::from(l[2 * k]), f64::from(l[2 * k + 1]));
                    let skin = at_local(&face, &s.image, sx * (m.half + 6.0), m.corner_y);
                    assert!(
                        distance(corner, skin) > 30.0,
                        "sample {i}: corner {corner:?} skin {skin:?}"
                    );
                }
            }
        }
    }

    /// Renders `face` with `set` applied on and off; returns the face-local
    /// positions of the pixels that differ and both images.
    fn toggle(face: &Face, set: impl Fn(&mut Face, bool)) -> (Vec<(f64, f64)>, Rgb, Rgb) {
        let (mut on, mut off) = (face.clone(), face.clone());
        set(&mut on, true);
        set(&mut off, false);
        let (a, b) = (on.render(178, 218), off.render(178, 218));
        let inv = face.map().inverse().unwrap();
        let mut diff = Vec::new();
        for (i, (p, q)) in a.pixels.chunks_exact(3).zip(b.pixels.chunks_exact(3)).enumerate() {
            if p != q {
                diff.push(inv.apply((i % 178) as f64, (i / 178) as f64));
            }
        }
        (diff, a, b)
    }

    #[test]
    fn each_attribute_changes_its_own_region() {
        let c = config();
        for i in 0..40 {
            let f = Face::draw(&c, i);
            let m = 2.0 / f.scale; // anti-aliasing margin, local units
            let check = |name: &str, set: fn(&mut Face, bool), inside: &dyn Fn(f64, f64) -> bool| {
                let (diff, _, _) = toggle(&f, set);
                assert!(diff.len() > 20, "sample {i} {name}: only {} pixels change", diff.len());
                for &(x, y) in &diff {
                    assert!(inside(x, y), "sample {i} {name}: ({x:.1}, {y:.1}) changed");
                }
            };
            let (ey, ny, my, mw) = (f.eye_y, f.nose_y, f.mouth_y, f.mouth_w);
            check("Eyeglasses", |f, v| f.eyeglasses = v, &|_, y| {
                (y - ey).abs() < 9.5 + f.eye_ry + m
            });
            check("Smiling", |f, v| f.smiling = v, &|x, y| {
                x.abs() < mw + 6.0 + m && y > ny + 3.0 - m && y < my + 17.0 + m
            });
            check("Mouth_Slightly_Open", |f, v| f.mouth_open = v, &|x, y| {
                x.abs() < mw + 6.0 + m && y > my - 5.0 - m && y < my + 17.0 + m
            });
            check("Mustache", |f, v| f.mustache = v, &|x, y| {
                x.abs() < mw + 5.0 + m && y > ny + 4.5 - m && y < my + 2.0 + m
            });
            check("No_Beard", |f, v| f.beard = !v, &|_, y| y > ey + 5.0 - m);
            check("Bangs", |f, v| f.bangs = v, &|_, y| y < ey - 10.0 + m);
            check("Wearing_Hat", |f, v| f.hat = v, &|_, y| y < ey - 25.0 + m);
            // Hair colour: hair, brows and facial hair, never the eyes' centre or the skin of the cheeks.
            let (diff, black, blond) = toggle(&f, |f, v| f.hair = if v { Hair::Black } else { Hair::Blond });
            let cheek = (f.eye_dx, f.nose_y);
            assert!(diff.iter().all(|&(x, y)| (x - cheek.0).hypot(y - cheek.1) > 2.0 + m));
            let mean = |img: &Rgb| {
                let inv_map = f.map();
                diff.iter()
                    .map(|&(x, y)| {
                        let (ix, iy) = inv_map.apply(x, y);
                        luma(mean3(img, ix, iy))
                    })
                    .sum::<f32>()
                    / diff.len() as f32
            };
            assert!(mean(&black) + 60.0 < mean(&blond), "sample {i}: black hair not darker");
            // Male: short hair, so no hair down the sides below the ears.
            let (diff, _, _) = toggle(&f, |f, v| f.male = v);
            assert!(diff.iter().any(|&(x, y)| y > ey + 25.0 && x.abs() > f.face_rx + 3.0));
            // Pale skin: the cheeks get lighter.
            let (_, pale, other) = toggle(&f, |f, v| f.pale = v);
            let cheek_luma = |img: &Rgb| luma(at_local(&f, img, cheek.0, cheek.1));
            assert!(
                cheek_luma(&pale) > cheek_luma(&other),
                "sample {i}: pale cheek not lighter"
            );
        }
    }

    #[test]
    fn attribute_rates_and_group_statistics() {
        let c = config();
        let samples = generate_many(&c, N);
        let faces: Vec<Face> = (0..N as u64).map(|i| Face::draw(&c, i)).collect();
        for (k, name) in ATTRIBUTE_NAMES.iter().enumerate() {
            let on = samples.iter().filter(|s| s.attributes[k] == 1).count();
            let off = samples.iter().filter(|s| s.attributes[k] == -1).count();
            if MODELLED_ATTRIBUTES.contains(name) {
                assert_eq!(on + off, N, "{name}");
                let rate = on as f64 / N as f64;
                assert!((0.2..=0.8).contains(&rate), "{name}: +1 in {rate:.2}");
            } else {
                assert_eq!(on + off, 0, "{name} should be unknown");
            }
        }
        let idx = |n: &str| attribute_index(n).unwrap();
        let (black, blond) = (idx("Black_Hair"), idx("Blond_Hair"));
        assert!(samples.iter().all(|s| s.attributes[black] + s.attributes[blond] < 2));

        // Group means over a region, per attribute value.
        let group_mean = |attr: usize, value: i8, stat: &dyn Fn(&Face, &Rgb) -> Option<f32>| {
            let v: Vec<f32> = samples
                .iter()
                .zip(&faces)
                .filter(|(s, _)| s.attributes[attr] == value)
                .filter_map(|(s, f)| stat(f, &s.image))
                .collect();
            assert!(v.len() >= 10);
            v.iter().sum::<f32>() / v.len() as f32
        };
        // Top of the head (no hat): black hair is dark, blond hair light.
        let hat = idx("Wearing_Hat");
        let head_top = |f: &Face, img: &Rgb| (!f.hat).then(|| luma(at_local(f, img, 0.0, f.eye_y - 40.0)));
        let (b, y) = (group_mean(black, 1, &head_top), group_mean(blond, 1, &head_top));
        assert!(b + 100.0 < y, "hair top luma: black {b}, blond {y}");
        // Hats are saturated colours: chroma at the top of the head.
        let chroma = |f: &Face, img: &Rgb| {
            let c = at_local(f, img, 0.0, f.eye_y - 40.0);
            Some(c.iter().fold(0f32, |a, &v| a.max(v)) - c.iter().fold(255f32, |a, &v| a.min(v)))
        };
        let (with, without) = (group_mean(hat, 1, &chroma), group_mean(hat, -1, &chroma));
        assert!(with > without + 25.0, "head-top chroma: hat {with}, none {without}");
        // Pale skin: lighter cheeks.
        let cheek = |f: &Face, img: &Rgb| Some(luma(at_local(f, img, f.eye_dx, f.nose_y)));
        let pale = idx("Pale_Skin");
        let (p, o) = (group_mean(pale, 1, &cheek), group_mean(pale, -1, &cheek));
        assert!(p > o + 40.0, "cheek luma: pale {p}, other {o}");
        // Eyeglasses: rim pixels beside the eye differ from the skin on average.
        let glasses = idx("Eyeglasses");
        let rim = |f: &Face, img: &Rgb| {
            let side = at_local(f, img, f.eye_dx + f.eye_rx + 4.5, f.eye_y);
            let skin = at_local(f, img, f.eye_dx, f.nose_y);
            Some(distance(side, skin))
        };
        let (g, n) = (group_mean(glasses, 1, &rim), group_mean(glasses, -1, &rim));
        assert!(g > n + 40.0, "rim vs skin: glasses {g}, none {n}");
        // Mouth open: the middle of the mouth is darker.
        let open = idx("Mouth_Slightly_Open");
        let mouth_mid = |f: &Face, img: &Rgb| {
            let m = f.mouth();
            (!f.smiling).then(|| luma(at_local(f, img, 0.0, (m.upper + m.lower) / 2.0 + 1.0)))
        };
        let (o1, o0) = (group_mean(open, 1, &mouth_mid), group_mean(open, -1, &mouth_mid));
        assert!(o1 + 30.0 < o0, "mouth middle luma: open {o1}, closed {o0}");
    }

    #[test]
    fn other_sizes_scale_the_face() {
        let small = SyntheticConfig {
            width: 89,
            height: 109,
            seed: 3,
        };
        let s = generate(&small, 0);
        assert_eq!((s.image.width, s.image.height), (89, 109));
        let big = generate(
            &SyntheticConfig {
                width: 178,
                height: 218,
                seed: 3,
            },
            0,
        );
        for (a, b) in s.landmarks.iter().zip(big.landmarks) {
            assert!((a * 2.0 - b).abs() < 2.0, "{:?} vs {:?}", s.landmarks, big.landmarks);
        }
    }

    #[test]
    fn writes_the_celeba_layout() {
        let dir = std::env::temp_dir().join(format!("smn-synthetic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = config();
        let n = 20;
        write_celeba_layout(&dir, &c, n).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();

        let marks = read(LANDMARKS_FILE);
        assert!(!marks.contains('\r'));
        let lines: Vec<&str> = marks.lines().collect();
        assert_eq!(lines.len(), n + 2);
        assert_eq!(lines[0], "20");
        assert_eq!(lines[1], LANDMARK_COLUMNS.join(" "));
        let attrs = read(ATTRIBUTES_FILE);
        let alines: Vec<&str> = attrs.lines().collect();
        assert_eq!(alines.len(), n + 2);
        assert_eq!(alines[0], "20");
        assert_eq!(alines[1], format!("{} ", ATTRIBUTE_NAMES.join(" ")));
        let parts = read(PARTITION_FILE);
        let plines: Vec<&str> = parts.lines().collect();
        assert_eq!(plines.len(), n);
        let modelled = read(MODELLED_ATTRIBUTES_FILE);
        assert_eq!(modelled.lines().collect::<Vec<_>>(), MODELLED_ATTRIBUTES);

        for (i, pline) in plines.iter().enumerate() {
            let sample = generate(&c, i as u64);
            let name = format!("{:06}.jpg", i + 1);
            // Landmarks: official layout (name, then 5-wide columns), rounded values.
            let row = lines[i + 2];
            assert_eq!(row.len(), 61, "{row:?}");
            let f: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(f[0], name);
            let values: Vec<i64> = f[1..].iter().map(|v| v.parse().unwrap()).collect();
            let expect: Vec<i64> = sample.landmarks.iter().map(|v| v.round() as i64).collect();
            assert_eq!(values, expect);
            // Attributes: 40 values ±1, the modelled ones as generated.
            let row = alines[i + 2];
            assert_eq!(row.len(), 10 + 40 * 3 - usize::from(sample.attributes[0] > 0));
            let f: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(f[0], name);
            assert_eq!(f.len(), 41);
            for (k, v) in f[1..].iter().enumerate() {
                let v: i8 = v.parse().unwrap();
                let want = if sample.attributes[k] > 0 { 1 } else { -1 };
                assert_eq!(v, want, "{name} column {k}");
            }
            // Partition: 80/10/10 by index.
            let split = if i < 16 {
                "0"
            } else if i < 18 {
                "1"
            } else {
                "2"
            };
            assert_eq!(*pline, format!("{name} {split}"));
            // The JPEG decodes at full size and resembles the sample.
            let img = image::open(dir.join(IMAGE_DIR).join(&name)).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (178, 218));
            let err: f64 = img
                .as_raw()
                .iter()
                .zip(&sample.image.pixels)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
                .sum::<f64>()
                / sample.image.pixels.len() as f64;
            assert!(err < 8.0, "{name}: mean abs JPEG error {err}");
        }
        // The CelebA loader reads it back: modelled attributes as generated, the rest unknown.
        let index = super::super::celeba::load_index(&dir, false).unwrap();
        assert_eq!(index.entries.len(), n);
        let mut known = index.known_attributes.clone();
        known.sort_unstable();
        let mut expect: Vec<usize> = MODELLED_ATTRIBUTES
            .iter()
            .map(|a| attribute_index(a).unwrap())
            .collect();
        expect.sort_unstable();
        assert_eq!(known, expect);
        for (i, entry) in index.entries.iter().enumerate() {
            let sample = generate(&c, i as u64);
            assert_eq!(entry.attributes, sample.attributes);
            assert_eq!(entry.landmarks, sample.landmarks.map(f32::round));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
