//! Paper metrics: per-landmark NME (eq. 2), cumulative error distribution,
//! per-attribute and mean accuracy.
//!
//! `NME_i = ‖t_i − y_i‖₂ / max(‖t_le − t_re‖₂, 1)`, in pixels of the
//! **original** image (178×218 for CelebA and the synthetic faces): model
//! coordinates are mapped back through the inverse of the crop/resize.
use crate::data::transform::Affine;
use crate::data::ATTRIBUTE_COUNT;
use crate::data::LANDMARK_OUTPUTS;
use serde::{Deserialize, Serialize};

/// NME thresholds of the cumulative error distribution: 0, 0.01, …, 0.50.
pub fn ced_thresholds() -> Vec<f64> {
    (0..=50).map(|i| f64::from(i) / 100.0).collect()
}

/// Accumulates predictions and targets.
#[derive(Clone, Debug, Default)]
pub struct MetricsAccumulator {
    /// Per image, per landmark NME.
    nme: Vec<[f64; 5]>,
    /// Per attribute: (correct, known).
    attr: Vec<(u64, u64)>,
}

/// Final metrics of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Images evaluated.
    pub images: usize,
    /// Mean NME of each landmark (left eye, right eye, nose, left mouth, right mouth).
    pub nme: [f64; 5],
    /// Mean of the five.
    pub mean_nme: f64,
    /// `ced[i][k]`: fraction of images whose NME of landmark `i` is ≤ `ced_thresholds()[k]`.
    pub ced: Vec<Vec<f64>>,
    /// Accuracy of each attribute over its known labels (`None` when it has none).
    pub attribute_accuracy: Vec<Option<f64>>,
    /// Mean over attributes with labels.
    pub mean_attribute_accuracy: f64,
}

impl MetricsAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        MetricsAccumulator {
            nme: Vec::new(),
            attr: vec![(0, 0); ATTRIBUTE_COUNT],
        }
    }

    /// Adds one image: predicted and true landmarks in model pixels,
    /// `to_original` the model → original-image map, logits and ±1/0 labels.
    pub fn add(
        &mut self,
        predicted: &[f32; LANDMARK_OUTPUTS],
        target: &[f32; LANDMARK_OUTPUTS],
        to_original: &Affine,
        logits: &[f32],
        labels: &[i8],
    ) {
        let orig =
            |p: &[f32; LANDMARK_OUTPUTS], i: usize| to_original.apply(f64::from(p[2 * i]), f64::from(p[2 * i + 1]));
        let (le, re) = (orig(target, 0), orig(target, 1));
        let norm = ((le.0 - re.0).powi(2) + (le.1 - re.1).powi(2)).sqrt().max(1.0);
        let mut row = [0f64; 5];
        for (i, r) in row.iter_mut().enumerate() {
            let (t, y) = (orig(target, i), orig(predicted, i));
            *r = ((t.0 - y.0).powi(2) + (t.1 - y.1).powi(2)).sqrt() / norm;
        }
        self.nme.push(row);
        for ((acc, &logit), &label) in self.attr.iter_mut().zip(logits).zip(labels) {
            if label != 0 {
                acc.1 += 1;
                if (logit > 0.0) == (label > 0) {
                    acc.0 += 1;
                }
            }
        }
    }

    /// The metrics so far.
    pub fn finish(&self) -> Metrics {
        let n = self.nme.len().max(1) as f64;
        let mut nme = [0f64; 5];
        for row in &self.nme {
            for (m, v) in nme.iter_mut().zip(row) {
                *m += v / n;
            }
        }
        let ced = (0..5)
            .map(|i| {
                ced_thresholds()
                    .iter()
                    .map(|&th| self.nme.iter().filter(|r| r[i] <= th).count() as f64 / n)
                    .collect()
            })
            .collect();
        let attribute_accuracy: Vec<Option<f64>> = self
            .attr
            .iter()
            .map(|&(ok, known)| (known > 0).then(|| ok as f64 / known as f64))
            .collect();
        let known: Vec<f64> = attribute_accuracy.iter().flatten().copied().collect();
        Metrics {
            images: self.nme.len(),
            nme,
            mean_nme: nme.iter().sum::<f64>() / 5.0,
            ced,
            attribute_accuracy,
            mean_attribute_accuracy: if known.is_empty() {
                0.0
            } else {
                known.iter().sum::<f64>() / known.len() as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nme_follows_equation_2_in_original_pixels() {
        // Model 64×64 from a 178×218 original: 178/64 original pixels per model pixel.
        let to_original = Affine::centre_square(178, 218, 64).inverse().unwrap();
        let target = [10.0, 20.0, 40.0, 20.0, 25.0, 30.0, 15.0, 45.0, 35.0, 45.0];
        let mut predicted = target;
        predicted[4] += 3.0; // nose 3 model pixels to the right
        let mut acc = MetricsAccumulator::new();
        let mut labels = [0i8; ATTRIBUTE_COUNT];
        labels[0] = 1;
        labels[1] = -1;
        let mut logits = [0f32; ATTRIBUTE_COUNT];
        logits[0] = 2.0; // correct
        logits[1] = 0.5; // wrong
        acc.add(&predicted, &target, &to_original, &logits, &labels);
        let m = acc.finish();
        let s = 178.0 / 64.0;
        let want_nose = 3.0 * s / (30.0 * s);
        assert!((m.nme[2] - want_nose).abs() < 1e-9, "{:?}", m.nme);
        assert_eq!(m.nme[0], 0.0);
        assert_eq!(m.attribute_accuracy[0], Some(1.0));
        assert_eq!(m.attribute_accuracy[1], Some(0.0));
        assert_eq!(m.attribute_accuracy[2], None);
        assert_eq!(m.mean_attribute_accuracy, 0.5);
        assert_eq!(m.ced[2][10], 1.0); // NME 0.1 ≤ 0.10
        assert_eq!(m.ced[2][9], 0.0);
    }

    #[test]
    fn normaliser_is_at_least_one_pixel() {
        let id = Affine::IDENTITY;
        let target = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0];
        let mut predicted = target;
        predicted[0] += 2.0;
        let mut acc = MetricsAccumulator::new();
        acc.add(&predicted, &target, &id, &[0.0; ATTRIBUTE_COUNT], &[0; ATTRIBUTE_COUNT]);
        assert_eq!(acc.finish().nme[0], 2.0);
    }
}
