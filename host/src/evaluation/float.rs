//! Float predictions from the burn network (inference mode).
use super::{samples, Prediction};
use crate::model::SmnNet;
use crate::train::batch::{denormalise_coordinate, make_batch};
use crate::train::dataset::Dataset;
use burn::prelude::*;

/// Runs `model` (inference mode: batch norm uses running statistics) over
/// `data` in batches of `batch_size` on `device`.
pub fn float_predictions(model: &SmnNet, data: &Dataset, device: &Device, batch_size: usize) -> Vec<Prediction> {
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
        let y = model.forward(batch.images);
        let lm = y.landmarks.into_data().try_into_vec::<f32>().unwrap_or_default();
        let logits = y.attributes.into_data().try_into_vec::<f32>().unwrap_or_default();
        for k in 0..batch_samples.len() {
            let mut p = Prediction {
                landmarks: [0.0; 10],
                logits: [0.0; 40],
            };
            for (dst, &u) in p.landmarks.iter_mut().zip(lm.iter().skip(k * 10)) {
                *dst = denormalise_coordinate(u, data.size);
            }
            for (dst, &v) in p.logits.iter_mut().zip(logits.iter().skip(k * 40)) {
                *dst = v;
            }
            out.push(p);
        }
        start = end;
    }
    out
}
