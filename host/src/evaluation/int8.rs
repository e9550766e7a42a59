//! Int8 predictions: the blob runs through firmware-core on the host, the
//! same code the microcontroller runs.
use super::{samples, Prediction};
use crate::data::dataset::Dataset;
use crate::data::{ATTRIBUTE_COUNT, LANDMARK_OUTPUTS};
use anyhow::{bail, Result};
use rayon::prelude::*;
use smn_firmware_core::format::{Op, Quant};
use smn_firmware_core::Model;

/// Quantisation of the tensor the attribute head reads (to report logits).
fn logit_quant(model: &Model<'_>) -> Result<Quant> {
    for op in model.ops() {
        if let Ok(Op::AttributeHead(head)) = op {
            if let Some(t) = model.tensor(usize::from(head.input)) {
                return Ok(t.quant);
            }
        }
    }
    bail!("the blob has no attribute head")
}

/// Runs `blob` on every image of `data` (in parallel, one arena per worker).
pub fn int8_predictions(blob: &[u8], data: &Dataset) -> Result<Vec<Prediction>> {
    let model = Model::from_bytes(blob).map_err(|e| anyhow::anyhow!("invalid model blob: {e}"))?;
    if model.input_height() != data.size || model.input_width() != data.size {
        bail!(
            "the blob takes {}×{} images, the dataset is {}×{}",
            model.input_height(),
            model.input_width(),
            data.size,
            data.size
        );
    }
    let quant = logit_quant(&model)?;
    let n = data.samples.len();
    let chunk = 64;
    let chunks: Vec<Result<Vec<Prediction>>> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut arena = vec![0u8; model.arena_bytes()];
            samples(data, c * chunk, ((c + 1) * chunk).min(n))
                .iter()
                .map(|s| {
                    let y = model
                        .run(&s.image.pixels, &mut arena)
                        .map_err(|e| anyhow::anyhow!("int8 inference: {e}"))?;
                    let mut p = Prediction {
                        landmarks: [0.0; LANDMARK_OUTPUTS],
                        logits: [0.0; ATTRIBUTE_COUNT],
                    };
                    for (dst, &v) in p.landmarks.iter_mut().zip(y.landmarks.as_flattened()) {
                        *dst = v;
                    }
                    for (dst, &q) in p.logits.iter_mut().zip(&y.attribute_logits_q) {
                        *dst = quant.scale * (f32::from(q) - f32::from(quant.zero_point));
                    }
                    Ok(p)
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}
