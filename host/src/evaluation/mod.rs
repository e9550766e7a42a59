//! Predictions over a dataset — from the float network in burn or from an
//! int8 blob through firmware-core — and the paper's metrics on them.
pub mod baselines;
pub mod float;
pub mod int8;
pub mod metrics;
pub mod models;
pub mod parity;
pub mod stats;

use crate::data::dataset::Dataset;
use crate::data::FaceSample;
use crate::data::{ATTRIBUTE_COUNT, LANDMARK_OUTPUTS};
use crate::evaluation::metrics::{Metrics, MetricsAccumulator};

/// One image's prediction in model-input pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// `x0, y0, …, x4, y4` in model-input pixels (pixel centres at integers).
    pub landmarks: [f32; LANDMARK_OUTPUTS],
    /// Attribute logits (> 0 means present).
    pub logits: [f32; ATTRIBUTE_COUNT],
}

/// Metrics of `predictions` (in dataset order) against `data`.
pub fn metrics_of(predictions: &[Prediction], data: &Dataset) -> Metrics {
    let mut acc = MetricsAccumulator::new();
    for (i, p) in predictions.iter().enumerate() {
        if let Some(s) = data.samples.get(i) {
            acc.add(&p.landmarks, &s.landmarks, &data.to_original, &p.logits, &s.attributes);
        }
    }
    acc.finish()
}

/// Samples `start..end` of `data` (the ones that exist).
pub(crate) fn samples(data: &Dataset, start: usize, end: usize) -> Vec<FaceSample> {
    (start..end).filter_map(|i| data.samples.get(i)).collect()
}
