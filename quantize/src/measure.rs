//! Measures an int8 blob against the float graph it came from: each report
//! image runs through both (every blob tensor observed), and the
//! differences are summed per layer, per fused concat (the concat-scale
//! alternatives, [`crate::concat_scales`]) and on the final outputs.
use crate::calibrate::quantised;
use crate::concat_scales::{concat_errors, ConcatErrors, ConcatInput};
use crate::emit::Emitted;
use crate::error::QuantizeError;
use crate::float_forward::{forward_all, outputs_of, FloatOutputs};
use crate::graph::{FloatGraph, NodeOp};
use crate::plan::QuantPlan;
use crate::report::OutputAgreement;
use rayon::prelude::*;
use smn_firmware_core::format::Quant;
use smn_firmware_core::{Model, Outputs};

/// Signal-to-noise ratio in dB (0 without signal).
pub(crate) fn sqnr(signal: f64, noise: f64) -> f64 {
    if signal <= 0.0 {
        return 0.0;
    }
    10.0 * (signal / noise.max(signal * 1e-30)).log10()
}

/// Dequantised int8 vs float output of one graph node, summed over elements and images.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LayerErrors {
    /// Σ float².
    pub signal: f64,
    /// Σ (float − dequantised int8)².
    pub noise: f64,
    /// Int8 values stuck at −128 or 127 while the float value lies beyond the range.
    pub saturated: u64,
    /// Elements compared.
    pub elements: u64,
}

impl LayerErrors {
    /// Adds `other`'s sums to these.
    fn add(&mut self, other: &LayerErrors) {
        self.signal += other.signal;
        self.noise += other.noise;
        self.saturated += other.saturated;
        self.elements += other.elements;
    }

    /// The SQNR of the layer's output, dB.
    pub fn sqnr_db(&self) -> f64 {
        sqnr(self.signal, self.noise)
    }
}

/// Landmark coordinates, int8 vs float, in pixels of the model input.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LandmarkErrors {
    /// Σ |int8 − float|.
    pub abs_sum: f64,
    /// Largest |int8 − float|.
    pub max_abs: f64,
    /// Coordinates compared.
    pub count: u64,
    /// Σ float².
    pub signal: f64,
    /// Σ (int8 − float)².
    pub noise: f64,
}

impl LandmarkErrors {
    /// Adds `other`'s sums to these.
    fn add(&mut self, other: &LandmarkErrors) {
        self.abs_sum += other.abs_sum;
        self.max_abs = self.max_abs.max(other.max_abs);
        self.count += other.count;
        self.signal += other.signal;
        self.noise += other.noise;
    }
}

/// One attribute logit from both models.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LogitPair {
    /// The blob's int8 logit, dequantised.
    pub int8: f64,
    /// The float logit.
    pub float: f64,
}

/// Everything measured over the report images.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Measurements {
    /// Per graph node.
    pub layers: Vec<LayerErrors>,
    /// Per graph node (non-zero for fused concats only).
    pub concats: Vec<ConcatErrors>,
    /// Landmark coordinates.
    pub landmarks: LandmarkErrors,
    /// Every attribute logit of every image.
    pub logits: Vec<LogitPair>,
    /// Attribute flags (`logit > 0`) on which both models agree.
    pub flags_agree: u64,
    /// Attribute flags compared.
    pub flags: u64,
}

impl Measurements {
    /// Empty sums for a graph of `nodes` nodes.
    fn new(nodes: usize) -> Self {
        Measurements {
            layers: vec![LayerErrors::default(); nodes],
            concats: vec![ConcatErrors::default(); nodes],
            ..Default::default()
        }
    }

    /// Both sets of sums together.
    fn merge(mut self, other: Measurements) -> Measurements {
        for (a, b) in self.layers.iter_mut().zip(&other.layers) {
            a.add(b);
        }
        for (a, b) in self.concats.iter_mut().zip(&other.concats) {
            a.add(b);
        }
        self.landmarks.add(&other.landmarks);
        self.logits.extend(other.logits);
        self.flags_agree += other.flags_agree;
        self.flags += other.flags;
        self
    }

    /// Agreement of the final outputs.
    pub fn outputs(&self) -> OutputAgreement {
        let lm = &self.landmarks;
        let logit_signal: f64 = self.logits.iter().map(|p| p.float * p.float).sum();
        let logit_noise: f64 = self
            .logits
            .iter()
            .map(|p| (p.int8 - p.float) * (p.int8 - p.float))
            .sum();
        OutputAgreement {
            landmark_mean_abs_px: lm.abs_sum / (lm.count.max(1)) as f64,
            landmark_max_abs_px: lm.max_abs,
            landmark_sqnr_db: sqnr(lm.signal, lm.noise),
            logit_sqnr_db: sqnr(logit_signal, logit_noise),
            logit_correlation: correlation(&self.logits),
            flag_agreement: self.flags_agree as f64 / self.flags.max(1) as f64,
        }
    }
}

/// Pearson correlation of the int8 and float logits (0 when undefined).
fn correlation(pairs: &[LogitPair]) -> f64 {
    let n = pairs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.int8 / n, b + p.float / n));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for p in pairs {
        let (a, b) = (p.int8, p.float);
        sab += (a - ma) * (b - mb);
        saa += (a - ma) * (a - ma);
        sbb += (b - mb) * (b - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

/// Runs every image through `model` (the blob of `emitted`) and the float
/// `graph` (in parallel) and sums the differences.
pub(crate) fn measure(
    graph: &FloatGraph,
    plan: &QuantPlan,
    emitted: &Emitted,
    model: &Model<'_>,
    images: &[Vec<u8>],
) -> Result<Measurements, QuantizeError> {
    let nodes = graph.nodes.len();
    images
        .par_iter()
        .map(|image| measure_image(graph, plan, emitted, model, image))
        .try_reduce(|| Measurements::new(nodes), |a, b| Ok(a.merge(b)))
}

fn internal(what: &str) -> QuantizeError {
    QuantizeError::Internal(what.into())
}

/// Runs one image through the blob and the float graph and sums the differences.
fn measure_image(
    graph: &FloatGraph,
    plan: &QuantPlan,
    emitted: &Emitted,
    model: &Model<'_>,
    image: &[u8],
) -> Result<Measurements, QuantizeError> {
    let mut m = Measurements::new(graph.nodes.len());
    let float = forward_all(graph, image)?;
    let float_out = outputs_of(graph, &float)?;
    let mut observed: Vec<Option<Vec<i8>>> = vec![None; model.tensor_count()];
    let mut arena = vec![0u8; model.arena_bytes()];
    let out = model.run_observed(image, &mut arena, &mut |t| {
        if let Some(slot) = observed.get_mut(t.tensor) {
            *slot = Some(t.data.to_vec());
        }
    })?;
    let observed_of = |node: usize| -> Option<&[i8]> {
        let t = emitted.tensor_of.get(node).copied().flatten()?;
        observed.get(usize::from(t.0))?.as_deref()
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        // A conv fused with its max pool is measured after the pool (its
        // full-resolution output is never stored; the pool keeps its quantisation).
        let measured = emitted.pooled_by.get(i).copied().flatten().unwrap_or(i);
        let f = float.get(measured).ok_or_else(|| internal("float values"))?;
        let quant = *plan.quants.get(i).ok_or_else(|| internal("quant"))?;
        let q: Vec<f64> = match (&node.op, observed_of(measured)) {
            // The input is not observed: the LUT is exactly this rounding.
            (NodeOp::Input, _) => f.iter().map(|&x| quantised(f64::from(x), quant)).collect(),
            (_, Some(q)) => q.iter().map(|&v| f64::from(v)).collect(),
            (_, None) => continue,
        };
        compare_layer(&mut m.layers[i], f, &q, quant);
        if let (NodeOp::ConcatConv1x1 { a, b, .. }, Some(layer)) =
            (&node.op, plan.layers.get(i).and_then(Option::as_ref))
        {
            let input = |j: usize| -> Option<ConcatInput<'_>> {
                Some(ConcatInput {
                    values: observed_of(j)?,
                    quant: plan.quants[j],
                    range: plan.ranges[j],
                    channels: graph.nodes[j].shape[2],
                })
            };
            if let (Some(a), Some(b)) = (input(*a), input(*b)) {
                m.concats[i] = concat_errors(&a, &b, layer, quant, f);
            }
        }
    }
    compare_outputs(&mut m, graph, plan, &float_out, &out)?;
    Ok(m)
}

/// Adds one node's float output `f` vs its int8 output `q` (quantisation `quant`) to `errors`.
fn compare_layer(errors: &mut LayerErrors, f: &[f32], q: &[f64], quant: Quant) {
    let (s, zp) = (f64::from(quant.scale), f64::from(quant.zero_point));
    let (lo, hi) = (s * (-128.0 - zp), s * (127.0 - zp));
    for (&fv, &qv) in f.iter().zip(q) {
        let fv = f64::from(fv);
        let d = s * (qv - zp);
        errors.signal += fv * fv;
        errors.noise += (fv - d) * (fv - d);
        if (qv >= 127.0 && fv > hi + 0.5 * s) || (qv <= -128.0 && fv < lo - 0.5 * s) {
            errors.saturated += 1;
        }
    }
    errors.elements += f.len() as u64;
}

/// Adds the final outputs of one image, float vs the blob's, to `m`.
fn compare_outputs(
    m: &mut Measurements,
    graph: &FloatGraph,
    plan: &QuantPlan,
    float: &FloatOutputs,
    int8: &Outputs,
) -> Result<(), QuantizeError> {
    let px = float.landmark_pixels(graph.input_size);
    let lm = &mut m.landmarks;
    for (xy, f) in int8.landmarks.iter().flatten().zip(px) {
        let e = f64::from((xy - f).abs());
        lm.signal += f64::from(f) * f64::from(f);
        lm.noise += e * e;
        lm.abs_sum += e;
        lm.max_abs = lm.max_abs.max(e);
        lm.count += 1;
    }
    // Task 1 is the attributes: its output node holds the logits.
    let lq = plan
        .quants
        .get(graph.outputs[1])
        .ok_or_else(|| internal("logit quant"))?;
    for ((&q, &f), &flag) in int8
        .attribute_logits_q
        .iter()
        .zip(&float.logits)
        .zip(&int8.attribute_flags)
    {
        let d = f64::from(lq.scale) * f64::from(i32::from(q) - i32::from(lq.zero_point));
        m.logits.push(LogitPair {
            int8: d,
            float: f64::from(f),
        });
        m.flags += 1;
        m.flags_agree += u64::from(flag == (f > 0.0));
    }
    Ok(())
}
