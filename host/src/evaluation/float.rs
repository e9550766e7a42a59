//! Float predictions from the burn network (inference mode).
use super::metrics::Metrics;
use super::metrics_of;
use super::{samples, Prediction};
use crate::data::dataset::Dataset;
use crate::data::{ATTRIBUTE_COUNT, LANDMARK_OUTPUTS};
use crate::model::batch::{denormalise_coordinate, make_batch};
use crate::model::SmnNet;
use anyhow::Result;
use burn::prelude::*;

/// Runs `model` (inference mode: batch norm uses running statistics) over
/// `data` in batches of `batch_size` on `device`.
pub fn float_predictions(
    model: &SmnNet,
    data: &Dataset,
    device: &Device,
    batch_size: usize,
) -> Result<Vec<Prediction>> {
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let n = data.samples.len();
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + batch_size.max(1)).min(n);
        let batch_samples = samples(data, start, end);
        let refs: Vec<_> = batch_samples.iter().collect();
        let batch = make_batch(&refs, data.size, &device);
        let y = model.forward(batch.images).map_err(anyhow::Error::msg)?;
        let lm = y.landmarks.into_data().try_into_vec::<f32>().unwrap_or_default();
        let logits = y.attributes.into_data().try_into_vec::<f32>().unwrap_or_default();
        for k in 0..batch_samples.len() {
            let mut p = Prediction {
                landmarks: [0.0; LANDMARK_OUTPUTS],
                logits: [0.0; ATTRIBUTE_COUNT],
            };
            for (dst, &u) in p.landmarks.iter_mut().zip(lm.iter().skip(k * LANDMARK_OUTPUTS)) {
                *dst = denormalise_coordinate(u, data.size);
            }
            for (dst, &v) in p.logits.iter_mut().zip(logits.iter().skip(k * ATTRIBUTE_COUNT)) {
                *dst = v;
            }
            out.push(p);
        }
        start = end;
    }
    Ok(out)
}

/// Evaluates `model` (inference mode) on `data`.
///
/// # Errors
/// When the forward pass fails (see `SmnNet::forward`).
pub fn evaluate(model: &SmnNet, data: &Dataset, device: &Device, batch_size: usize) -> Result<Metrics> {
    Ok(metrics_of(&float_predictions(model, data, device, batch_size)?, data))
}
