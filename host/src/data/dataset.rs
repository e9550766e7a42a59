//! Training and evaluation data at the model input size.
use crate::data::cache::{write_cache, Cache};
use crate::data::celeba::{load_index, modelled_attributes, DataError, Selection, Skipped};
use crate::data::synthetic::{generate_many, SyntheticConfig, MODELLED_ATTRIBUTES};
use crate::data::transform::{to_model_input, Affine};
use crate::data::LANDMARK_OUTPUTS;
use crate::data::{attributes::attribute_index, FaceSample, ATTRIBUTE_COUNT};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Seed offset of the synthetic validation set (disjoint from training).
pub const SYNTHETIC_VALIDATION_SEED: u64 = 1_000_003;
/// Seed offset of the synthetic evaluation set.
pub const SYNTHETIC_TEST_SEED: u64 = 2_000_003;
/// Seed of the synthetic calibration faces (distinct from training and test).
pub const SYNTHETIC_CALIBRATION_SEED: u64 = 3_000_017;

/// Where samples come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// The built-in generator: `count` faces from `seed`.
    Synthetic {
        /// Number of faces.
        count: usize,
        /// Generator seed (train and evaluation sets use different seeds).
        seed: u64,
    },
    /// A CelebA folder.
    Celeba {
        /// The folder with `img_align_celeba/` and the lists.
        dir: PathBuf,
        /// Partitions, id range, fraction.
        selection: Selection,
        /// Skip bad rows and images instead of failing.
        skip_bad: bool,
    },
}

/// `synthetic, 3000 faces (seed 1)` or `CelebA DIR (ids 1–2800)`.
impl std::fmt::Display for DataSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSpec::Synthetic { count, seed } => write!(f, "synthetic, {count} faces (seed {seed})"),
            DataSpec::Celeba {
                dir,
                selection,
                skip_bad,
            } => write!(
                f,
                "CelebA {} ({selection}{})",
                dir.display(),
                if *skip_bad { ", skipping bad entries" } else { "" }
            ),
        }
    }
}

/// Samples in memory or in a memory-mapped cache.
pub enum Samples {
    /// Decoded and resized in memory.
    Memory(Vec<FaceSample>),
    /// A preprocessed cache file.
    Mapped(Cache),
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::Memory(v) => v.len(),
            Samples::Mapped(c) => c.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` (a copy).
    pub fn get(&self, i: usize) -> Option<FaceSample> {
        match self {
            Samples::Memory(v) => v.get(i).cloned(),
            Samples::Mapped(c) => c.get(i),
        }
    }

    /// Sample `i`'s landmarks and attributes (no pixel copy).
    pub fn labels(&self, i: usize) -> Option<([f32; LANDMARK_OUTPUTS], [i8; ATTRIBUTE_COUNT])> {
        match self {
            Samples::Memory(v) => v.get(i).map(|s| (s.landmarks, s.attributes)),
            Samples::Mapped(c) => c.labels(i),
        }
    }
}

/// Label statistics of a dataset, from one pass over its labels: what the
/// trivial baselines predict and what the heads' output maps standardise by.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelStatistics {
    /// Samples counted.
    pub count: usize,
    /// Mean of each landmark coordinate (model pixels).
    pub landmark_mean: [f64; LANDMARK_OUTPUTS],
    /// Population standard deviation of each coordinate (model pixels).
    pub landmark_std: [f64; LANDMARK_OUTPUTS],
    /// Per attribute: images labelled present.
    pub positives: [u64; ATTRIBUTE_COUNT],
    /// Per attribute: images labelled absent.
    pub negatives: [u64; ATTRIBUTE_COUNT],
}

/// A dataset ready for the model.
pub struct Dataset {
    /// `size × size` samples.
    pub samples: Samples,
    /// Model input side.
    pub size: usize,
    /// Model pixels → original-image pixels (for metrics).
    pub to_original: Affine,
    /// Attribute indices with labels.
    pub known_attributes: Vec<usize>,
    /// What `skip_bad` left out.
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    /// [`LabelStatistics`] of every sample.
    pub fn label_statistics(&self) -> LabelStatistics {
        let mut sum = [0f64; LANDMARK_OUTPUTS];
        let mut sum_sq = [0f64; LANDMARK_OUTPUTS];
        let mut positives = [0u64; ATTRIBUTE_COUNT];
        let mut negatives = [0u64; ATTRIBUTE_COUNT];
        let mut count = 0usize;
        for (landmarks, attributes) in (0..self.samples.len()).filter_map(|i| self.samples.labels(i)) {
            count += 1;
            for (k, &x) in landmarks.iter().enumerate() {
                sum[k] += f64::from(x);
                sum_sq[k] += f64::from(x) * f64::from(x);
            }
            for (k, &a) in attributes.iter().enumerate() {
                positives[k] += u64::from(a > 0);
                negatives[k] += u64::from(a < 0);
            }
        }
        let n = count.max(1) as f64;
        let landmark_mean = sum.map(|s| s / n);
        let mut landmark_std = [0f64; LANDMARK_OUTPUTS];
        for (k, std) in landmark_std.iter_mut().enumerate() {
            *std = (sum_sq[k] / n - landmark_mean[k] * landmark_mean[k]).max(0.0).sqrt();
        }
        LabelStatistics {
            count,
            landmark_mean,
            landmark_std,
            positives,
            negatives,
        }
    }

    /// The same samples with grey images: BT.601 luma
    /// `(77 R + 150 G + 29 B + 128) >> 8` in all three channels, what a grey
    /// camera frame becomes on the device (`PixelFormat::Gray8` is expanded
    /// to `(g, g, g)`). The samples end up in memory.
    pub fn grayscale(self) -> Dataset {
        let samples = (0..self.samples.len())
            .filter_map(|i| self.samples.get(i))
            .map(|mut s| {
                for px in s.image.pixels.chunks_exact_mut(3) {
                    let y = (77 * u32::from(px[0]) + 150 * u32::from(px[1]) + 29 * u32::from(px[2]) + 128) >> 8;
                    px.fill(y as u8);
                }
                s
            })
            .collect();
        Dataset {
            samples: Samples::Memory(samples),
            ..self
        }
    }

    /// The images of up to `count` samples spread evenly over the dataset
    /// (for calibration).
    pub fn evenly_spaced_images(&self, count: usize) -> Vec<Vec<u8>> {
        let n = self.samples.len();
        let take = count.clamp(1, n.max(1));
        (0..take)
            .filter_map(|k| self.samples.get(k * n / take).map(|s| s.image.pixels))
            .collect()
    }
}

/// What a cache file records as its source for `spec`: its description,
/// with a CelebA folder made absolute (when it exists) so the same folder
/// reached by another relative path still matches.
pub fn cache_source(spec: &DataSpec) -> String {
    match spec {
        DataSpec::Celeba {
            dir,
            selection,
            skip_bad,
        } => DataSpec::Celeba {
            dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()),
            selection: selection.clone(),
            skip_bad: *skip_bad,
        }
        .to_string(),
        DataSpec::Synthetic { .. } => spec.to_string(),
    }
}

/// Loads `spec` at `size × size`. With `cache`, an existing cache file is
/// used when it was written for the same data ([`cache_source`]) and size,
/// and refused otherwise; a missing one is written after preprocessing.
pub fn load_dataset(spec: &DataSpec, size: usize, cache: Option<&Path>) -> Result<Dataset, DataError> {
    let (width, height) = match spec {
        DataSpec::Synthetic { .. } => {
            let c = SyntheticConfig::default();
            (c.width, c.height)
        }
        DataSpec::Celeba { .. } => (178, 218),
    };
    let to_original = Affine::centre_square(width, height, size)
        .inverse()
        .ok_or_else(|| DataError {
            path: PathBuf::new(),
            line: None,
            message: "degenerate geometry".into(),
        })?;
    let known_attributes = match spec {
        DataSpec::Synthetic { .. } => MODELLED_ATTRIBUTES.iter().filter_map(|n| attribute_index(n)).collect(),
        DataSpec::Celeba { dir, .. } => modelled_attributes(dir)?,
    };
    let source = cache_source(spec);
    if let Some(path) = cache.filter(|p| p.exists()) {
        let c = Cache::open(path)?;
        let refusal = if c.source() != source {
            Some(format!(
                "cache was written for {}, but this run selects {source}: delete it or give another --cache",
                c.source()
            ))
        } else if c.size() != size {
            Some(format!(
                "cache holds {0}×{0} images, the model needs {size}×{size}",
                c.size()
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            return Err(DataError {
                path: path.to_path_buf(),
                line: None,
                message,
            });
        }
        return Ok(Dataset {
            samples: Samples::Mapped(c),
            size,
            to_original,
            known_attributes,
            skipped: Vec::new(),
        });
    }
    let (raw, skipped) = match spec {
        DataSpec::Synthetic { count, seed } => (
            generate_many(
                &SyntheticConfig {
                    width,
                    height,
                    seed: *seed,
                },
                *count,
            ),
            Vec::new(),
        ),
        DataSpec::Celeba {
            dir,
            selection,
            skip_bad,
        } => {
            let index = load_index(dir, *skip_bad)?;
            let picked = index.select(selection);
            let (faces, mut skipped) = index.load(&picked, *skip_bad)?;
            skipped.splice(0..0, index.skipped.iter().cloned());
            (faces, skipped)
        }
    };
    let prepared: Vec<FaceSample> = raw.par_iter().map(|f| to_model_input(f, size)).collect();
    let samples = match cache {
        Some(path) => {
            write_cache(path, size, &source, &prepared)?;
            Samples::Mapped(Cache::open(path)?)
        }
        None => Samples::Memory(prepared),
    };
    Ok(Dataset {
        samples,
        size,
        to_original,
        known_attributes,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::celeba::{Partition, Selection};

    #[test]
    fn data_specs_read_as_text() {
        let spec = DataSpec::Celeba {
            dir: PathBuf::from("/data/celeba"),
            selection: Selection {
                partitions: vec![Partition::Train, Partition::Val],
                ids: Some(1..=2800),
                fraction: Some(0.5),
            },
            skip_bad: true,
        };
        assert_eq!(
            spec.to_string(),
            "CelebA /data/celeba (partitions train+val, ids 1–2800, first 50 %, skipping bad entries)"
        );
        let all = DataSpec::Celeba {
            dir: PathBuf::from("d"),
            selection: Selection::default(),
            skip_bad: false,
        };
        assert_eq!(all.to_string(), "CelebA d (all)");
        let synthetic = DataSpec::Synthetic { count: 3000, seed: 1 };
        assert_eq!(synthetic.to_string(), "synthetic, 3000 faces (seed 1)");
    }

    #[test]
    fn a_cache_serves_only_the_data_it_was_written_for() {
        let path = std::env::temp_dir().join(format!("smn-dataset-cache-{}.bin", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let three = DataSpec::Synthetic { count: 3, seed: 5 };
        let fresh = load_dataset(&three, 16, Some(&path)).unwrap();
        let cached = load_dataset(&three, 16, Some(&path)).unwrap();
        assert!(matches!(cached.samples, Samples::Mapped(_)));
        assert_eq!(cached.samples.get(2), fresh.samples.get(2));
        let four = DataSpec::Synthetic { count: 4, seed: 5 };
        let err = load_dataset(&four, 16, Some(&path)).err().unwrap().to_string();
        assert!(
            err.contains("3 faces (seed 5)") && err.contains("4 faces (seed 5)") && err.contains("--cache"),
            "{err}"
        );
        let err = load_dataset(&three, 32, Some(&path)).err().unwrap().to_string();
        assert!(err.contains("16×16") && err.contains("32×32"), "{err}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn grayscale_puts_bt601_luma_in_every_channel_and_keeps_labels() {
        let data = load_dataset(&DataSpec::Synthetic { count: 3, seed: 5 }, 16, None).unwrap();
        let before: Vec<FaceSample> = (0..3).filter_map(|i| data.samples.get(i)).collect();
        let grey = data.grayscale();
        assert_eq!(grey.samples.len(), 3);
        for (i, b) in before.iter().enumerate() {
            let g = grey.samples.get(i).unwrap();
            assert_eq!((g.landmarks, g.attributes), (b.landmarks, b.attributes));
            for (p, q) in b.image.pixels.chunks(3).zip(g.image.pixels.chunks(3)) {
                let y = (0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])).round();
                assert!((f64::from(q[0]) - y).abs() <= 1.0, "{p:?} -> {q:?}");
                assert!(q[0] == q[1] && q[1] == q[2]);
            }
        }
    }
}
