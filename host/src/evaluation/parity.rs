//! Float vs int8 on the same images: metrics side by side and how many
//! attribute decisions flip.
use super::Prediction;
use crate::data::dataset::Dataset;
use crate::evaluation::metrics::Metrics;
use serde::{Deserialize, Serialize};

/// The float/int8 comparison `smn eval --int8` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parity {
    /// Float metrics.
    pub float: Metrics,
    /// Int8 metrics.
    pub int8: Metrics,
    /// Attribute decisions (known labels only) whose sign differs.
    pub flipped_decisions: u64,
    /// Attribute decisions compared.
    pub decisions: u64,
    /// Mean distance between float and int8 landmarks, in model pixels.
    pub mean_landmark_shift_px: f64,
    /// Int8 mean NME relative to float (`int8 / float − 1`).
    pub nme_rise_relative: f64,
    /// Float mean accuracy minus int8 mean accuracy, in points.
    pub accuracy_drop_points: f64,
}

/// Compares predictions of the same `data`, given the metrics of each
/// ([`metrics_of`](super::metrics_of)).
pub fn parity(float: (&[Prediction], &Metrics), int8: (&[Prediction], &Metrics), data: &Dataset) -> Parity {
    let ((float, fm), (int8, qm)) = (float, int8);
    let (fm, qm) = (fm.clone(), qm.clone());
    let (mut flipped, mut decisions, mut shift, mut points) = (0u64, 0u64, 0f64, 0usize);
    for (i, (f, q)) in float.iter().zip(int8).enumerate() {
        let Some(s) = data.samples.get(i) else { continue };
        for (a, &label) in s.attributes.iter().enumerate() {
            if label != 0 {
                decisions += 1;
                if (f.logits[a] > 0.0) != (q.logits[a] > 0.0) {
                    flipped += 1;
                }
            }
        }
        for (fp, qp) in f.landmarks.chunks_exact(2).zip(q.landmarks.chunks_exact(2)) {
            shift += f64::from((fp[0] - qp[0]).hypot(fp[1] - qp[1]));
            points += 1;
        }
    }
    Parity {
        nme_rise_relative: qm.mean_nme / fm.mean_nme.max(f64::MIN_POSITIVE) - 1.0,
        accuracy_drop_points: 100.0 * (fm.mean_attribute_accuracy - qm.mean_attribute_accuracy),
        float: fm,
        int8: qm,
        flipped_decisions: flipped,
        decisions,
        mean_landmark_shift_px: shift / points.max(1) as f64,
    }
}
