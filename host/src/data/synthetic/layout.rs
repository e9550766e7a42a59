//! Writing a synthetic dataset in CelebA's file layout: JPEG images under
//! `img_align_celeba/`, the landmark, attribute and partition list files,
//! and the sidecar file naming the modelled attributes.
use super::face::{SyntheticConfig, MODELLED_ATTRIBUTES};
use super::sample::generate;
use crate::data::attributes::{ATTRIBUTE_NAMES, LANDMARK_COLUMNS};
use crate::data::celeba::{ATTRIBUTES_FILE, IMAGE_DIR, LANDMARKS_FILE, MODELLED_ATTRIBUTES_FILE, PARTITION_FILE};
use crate::data::Rgb;
use rayon::prelude::*;
use std::io::{self, Write};
use std::path::Path;

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

/// Writes `image` to `path` as a baseline JPEG of quality 95.
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

#[cfg(test)]
mod tests {
    use super::super::face::MODELLED_ATTRIBUTES;
    use super::super::sample::generate;
    use super::super::testing::config;
    use super::write_celeba_layout;
    use crate::data::attributes::{attribute_index, ATTRIBUTE_NAMES, LANDMARK_COLUMNS};
    use crate::data::celeba::{ATTRIBUTES_FILE, IMAGE_DIR, LANDMARKS_FILE, MODELLED_ATTRIBUTES_FILE, PARTITION_FILE};

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
        let index = crate::data::celeba::load_index(&dir, false).unwrap();
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
