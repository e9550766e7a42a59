//! The generator's entry points: [`generate`] turns sample `index` of a
//! dataset into a labelled [`FaceSample`] (draw the face's parameters,
//! render the image, read off landmarks and attributes), and
//! [`generate_many`] does so for a range of indices in parallel.
use super::face::{Face, SyntheticConfig};
use crate::data::FaceSample;
use rayon::prelude::*;

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

#[cfg(test)]
mod tests {
    use super::super::face::{Face, SyntheticConfig, MODELLED_ATTRIBUTES};
    use super::super::testing::{at_local, config, distance, luma, mean3};
    use super::{generate, generate_many};
    use crate::data::attributes::{attribute_index, ATTRIBUTE_NAMES};
    use crate::data::Rgb;

    /// Samples per statistical test.
    const N: usize = 200;

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
}
