//! What quantisation did and how closely the int8 blob follows the float
//! model: per-layer scales, ranges, saturation and SQNR, arena plans,
//! device fit, and the concat-scale comparison (`docs/int8-spec.md` §5).
use crate::calibrate::{quant_for_range, Calibration};
use crate::emit::Emitted;
use crate::error::QuantizeError;
use crate::float_forward::{forward_all, outputs_of};
use crate::graph::{FloatGraph, NodeOp};
use crate::plan::{ExecutionOrder, QuantPlan};
use crate::quantize::{OrderArena, QuantizeOptions};
use rayon::prelude::*;
use serde::Serialize;
use smn_firmware_core::builder::Weights;
use smn_firmware_core::format::Quant;
use smn_firmware_core::sim::{ram_needed, PROFILES};
use smn_firmware_core::Model;
use std::fmt::Write as _;

/// One layer (graph node) of the quantised model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerReport {
    /// Name, e.g. `shared.0.conv`, `branches.1.fuse.2`.
    pub name: String,
    /// Firmware-core op (`Conv2d+ReLU`, `MaxPool2d`, `ConcatConv1x1`, …).
    pub op: String,
    /// Input shapes `[h, w, c]`.
    pub inputs: Vec<[usize; 3]>,
    /// Output shape `[h, w, c]`.
    pub output: [usize; 3],
    /// Output scale.
    pub scale: f32,
    /// Output zero point.
    pub zero_point: i8,
    /// Float weight range (MAC layers).
    pub weight_range: Option<(f32, f32)>,
    /// Float activation range seen during calibration.
    pub calibration_range: (f32, f32),
    /// Clip range chosen by the calibration method.
    pub clip_range: (f32, f32),
    /// Int8 outputs stuck at −128 or 127 while the float value lies beyond
    /// the representable range, over the report images.
    pub saturated: u64,
    /// Output elements compared (over the report images).
    pub elements: u64,
    /// Multiply-accumulates (nominal, padded taps included).
    pub macs: u64,
    /// Signal-to-quantisation-noise ratio of the dequantised int8 output vs
    /// the float output of the same layer (errors accumulated from the input), dB.
    pub sqnr_db: f64,
}

/// Int8 vs float on the final outputs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputAgreement {
    /// Mean |int8 − float| landmark coordinate, pixels of the model input.
    pub landmark_mean_abs_px: f64,
    /// Largest |int8 − float| landmark coordinate, pixels.
    pub landmark_max_abs_px: f64,
    /// SQNR of the landmark pixel coordinates, dB.
    pub landmark_sqnr_db: f64,
    /// SQNR of the dequantised logits, dB.
    pub logit_sqnr_db: f64,
    /// Pearson correlation of int8 and float logits.
    pub logit_correlation: f64,
    /// Fraction of attribute flags (`logit > 0`) that agree.
    pub flag_agreement: f64,
}

/// Memory and speed on one device profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceFit {
    /// Profile name (`cortex-m4`, …).
    pub device: String,
    /// Blob + reserved flash.
    pub flash_needed: usize,
    /// Device flash.
    pub flash_bytes: usize,
    /// Arena + image + model struct + reserved RAM.
    pub ram_needed: usize,
    /// Device RAM.
    pub ram_bytes: usize,
    /// Both budgets hold.
    pub fits: bool,
    /// Estimated latency (MACs × cycles per MAC / clock), milliseconds.
    pub latency_ms: f64,
}

/// Error of a stage-2 `concat + 1×1` under three ways of handling the two input scales.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConcatOption {
    /// Layer name.
    pub layer: String,
    /// (a) what is emitted: fused ConcatConv1x1, each input at its own scale (the blob's output).
    pub fused_two_scale_sqnr_db: f64,
    /// (b) the shared input requantised to the own input's scale/zero point first (f64 simulation).
    pub shared_requantised_to_own_sqnr_db: f64,
    /// (c) both inputs requantised to one concat scale covering both ranges, as a
    /// materialised int8 concat would (f64 simulation).
    pub common_concat_scale_sqnr_db: f64,
    /// (a') fused with one rounding of `acc_a · r_a + acc_b · r_b` (what a kernel
    /// with a single output rounding would give; f64 simulation).
    pub fused_single_rounding_sqnr_db: f64,
    /// (a) recomputed in f64 with two roundings (a cross-check: equals the kernel's
    /// figure up to rounding ties).
    pub fused_f64_model_sqnr_db: f64,
}

/// Arena figures: every order tried, and the chosen one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArenaReport {
    /// Order of the emitted blob.
    pub chosen: ExecutionOrder,
    /// Arena bytes of the emitted blob.
    pub arena_bytes: usize,
    /// Sum of all tensors (no reuse) of the emitted blob.
    pub naive_bytes: usize,
    /// Lower bound (most bytes live at once) of the emitted blob.
    pub lower_bound_bytes: usize,
    /// Smallest materialised-concat arena over all orders.
    pub best_materialised_arena_bytes: usize,
    /// Every order.
    pub orders: Vec<OrderArena>,
}

/// The quantisation report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuantReport {
    /// Source variant name.
    pub variant: String,
    /// Input side.
    pub input_size: usize,
    /// Calibration method.
    pub calibration: String,
    /// Images calibration saw.
    pub calibration_images: usize,
    /// Images the int8-vs-float measurements ran on.
    pub report_images: usize,
    /// Blob bytes (flash).
    pub flash_bytes: usize,
    /// Arena bytes (RAM for activations).
    pub arena_bytes: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Tensors in the blob (input included).
    pub tensors: usize,
    /// Ops in the blob.
    pub ops: usize,
    /// Per layer, in network order.
    pub layers: Vec<LayerReport>,
    /// Arena plans.
    pub arena: ArenaReport,
    /// Fit per device profile.
    pub devices: Vec<DeviceFit>,
    /// Final outputs, int8 vs float.
    pub outputs: OutputAgreement,
    /// The concat-scale comparison for every fused concat + 1×1.
    pub concat_options: Vec<ConcatOption>,
}

fn sqnr(signal: f64, noise: f64) -> f64 {
    if signal <= 0.0 {
        return 0.0;
    }
    10.0 * (signal / noise.max(signal * 1e-30)).log10()
}

fn round_away(x: f64) -> f64 {
    x.round()
}

fn requant(x: i8, from: Quant, to: Quant) -> i32 {
    let real = f64::from(from.scale) * f64::from(i32::from(x) - i32::from(from.zero_point));
    (round_away(real / f64::from(to.scale)) + f64::from(to.zero_point)).clamp(-128.0, 127.0) as i32
}

/// `concat(a, b)` + 1×1 with both inputs requantised to `(target_a, target_b)`
/// (same scale), one weight scale per channel, exact f64 rounding; returns the
/// dequantised outputs.
#[allow(clippy::too_many_arguments)]
fn simulate_concat(
    qa: &[i8],
    qb: &[i8],
    (quant_a, quant_b): (Quant, Quant),
    target: Quant,
    weights: &Weights,
    bias: &[f32],
    out: Quant,
    (ca, cb): (usize, usize),
) -> Vec<f64> {
    let s_t = f64::from(target.scale);
    let zp_t = i32::from(target.zero_point);
    let mut y = Vec::new();
    for (pa, pb) in qa.chunks_exact(ca.max(1)).zip(qb.chunks_exact(cb.max(1))) {
        let x: Vec<i32> = pa
            .iter()
            .map(|&v| requant(v, quant_a, target))
            .chain(pb.iter().map(|&v| requant(v, quant_b, target)))
            .collect();
        for ((row, &s_w), &b) in weights.values.chunks_exact(ca + cb).zip(&weights.scales).zip(bias) {
            let s_w = f64::from(s_w);
            let mut acc = round_away(f64::from(b) / (s_t * s_w)) as i64;
            for (&w, &xv) in row.iter().zip(&x) {
                acc += i64::from(w) * i64::from(xv - zp_t);
            }
            let q = (round_away(acc as f64 * s_t * s_w / f64::from(out.scale)) + f64::from(out.zero_point))
                .clamp(-128.0, 127.0);
            y.push(f64::from(out.scale) * (q - f64::from(out.zero_point)));
        }
    }
    y
}

/// The fused two-scale `concat + 1×1` in f64 on the emitted integers:
/// `y = round(acc_a · r_a) + round(acc_b · r_b) + zp` (two roundings, as the
/// kernel) or `round(acc_a · r_a + acc_b · r_b) + zp` (one rounding).
#[allow(clippy::too_many_arguments)]
fn simulate_fused(
    qa: &[i8],
    qb: &[i8],
    (quant_a, quant_b): (Quant, Quant),
    weights: &Weights,
    out: Quant,
    (ca, cb): (usize, usize),
    two_roundings: bool,
) -> Vec<f64> {
    let (zp_a, zp_b) = (i64::from(quant_a.zero_point), i64::from(quant_b.zero_point));
    let (s_a, s_b, s_o) = (f64::from(quant_a.scale), f64::from(quant_b.scale), f64::from(out.scale));
    let mut y = Vec::new();
    for (pa, pb) in qa.chunks_exact(ca.max(1)).zip(qb.chunks_exact(cb.max(1))) {
        for ((row, &s_w), &bias) in weights
            .values
            .chunks_exact(ca + cb)
            .zip(&weights.scales)
            .zip(&weights.bias)
        {
            let (ra, rb) = (s_a * f64::from(s_w) / s_o, s_b * f64::from(s_w) / s_o);
            let (wa, wb) = row.split_at(ca);
            let acc_a = i64::from(bias)
                + wa.iter()
                    .zip(pa)
                    .map(|(&w, &x)| i64::from(w) * (i64::from(x) - zp_a))
                    .sum::<i64>();
            let acc_b: i64 = wb
                .iter()
                .zip(pb)
                .map(|(&w, &x)| i64::from(w) * (i64::from(x) - zp_b))
                .sum();
            let scaled = if two_roundings {
                round_away(acc_a as f64 * ra) + round_away(acc_b as f64 * rb)
            } else {
                round_away(acc_a as f64 * ra + acc_b as f64 * rb)
            };
            let q = (scaled + f64::from(out.zero_point)).clamp(-128.0, 127.0);
            y.push(s_o * (q - f64::from(out.zero_point)));
        }
    }
    y
}

/// Sums over the report images.
#[derive(Clone, Debug, Default)]
struct Sums {
    signal: Vec<f64>,
    noise: Vec<f64>,
    saturated: Vec<u64>,
    elements: Vec<u64>,
    /// Per concat node: (signal, noise of b, noise of c, noise of single-rounding fused, noise of f64 two-rounding fused).
    concat: Vec<(f64, f64, f64, f64, f64)>,
    lm_abs: f64,
    lm_max: f64,
    lm_count: u64,
    lm_signal: f64,
    lm_noise: f64,
    logit_pairs: Vec<(f64, f64)>,
    flags_agree: u64,
    flags: u64,
}

impl Sums {
    fn new(n: usize) -> Self {
        Sums {
            signal: vec![0.0; n],
            noise: vec![0.0; n],
            saturated: vec![0; n],
            elements: vec![0; n],
            concat: vec![(0.0, 0.0, 0.0, 0.0, 0.0); n],
            ..Default::default()
        }
    }

    fn merge(mut self, o: Sums) -> Sums {
        for (a, b) in self.signal.iter_mut().zip(&o.signal) {
            *a += b;
        }
        for (a, b) in self.noise.iter_mut().zip(&o.noise) {
            *a += b;
        }
        for (a, b) in self.saturated.iter_mut().zip(&o.saturated) {
            *a += b;
        }
        for (a, b) in self.elements.iter_mut().zip(&o.elements) {
            *a += b;
        }
        for (a, b) in self.concat.iter_mut().zip(&o.concat) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
            a.3 += b.3;
            a.4 += b.4;
        }
        self.lm_abs += o.lm_abs;
        self.lm_max = self.lm_max.max(o.lm_max);
        self.lm_count += o.lm_count;
        self.lm_signal += o.lm_signal;
        self.lm_noise += o.lm_noise;
        self.logit_pairs.extend(o.logit_pairs);
        self.flags_agree += o.flags_agree;
        self.flags += o.flags;
        self
    }
}

/// Runs one image through the blob and the float graph and accumulates errors.
fn measure_image(
    graph: &FloatGraph,
    plan: &QuantPlan,
    emitted: &Emitted,
    model: &Model<'_>,
    image: &[u8],
) -> Result<Sums, QuantizeError> {
    let n = graph.nodes.len();
    let mut sums = Sums::new(n);
    let float = forward_all(graph, image)?;
    let float_out = outputs_of(graph, &float)?;
    let mut observed: Vec<Option<Vec<i8>>> = vec![None; model.tensor_count()];
    let mut arena = vec![0u8; model.arena_bytes()];
    let out = model.run_observed(image, &mut arena, &mut |t| {
        if let Some(slot) = observed.get_mut(t.tensor) {
            *slot = Some(t.data.to_vec());
        }
    })?;
    let internal = |m: &str| QuantizeError::Internal(m.into());
    let observed_of = |node: usize| -> Option<&Vec<i8>> {
        let t = emitted.tensor_of.get(node).copied().flatten()?;
        observed.get(usize::from(t.0))?.as_ref()
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        // A conv fused with its max pool is measured after the pool (its
        // full-resolution output is never stored; the pool keeps its quantisation).
        let measured = emitted.pooled_by.get(i).copied().flatten().unwrap_or(i);
        let f = float.get(measured).ok_or_else(|| internal("float values"))?;
        let quant = *plan.quants.get(i).ok_or_else(|| internal("quant"))?;
        let (s, zp) = (f64::from(quant.scale), f64::from(quant.zero_point));
        let q: Vec<f64> = match (&node.op, observed_of(measured)) {
            // The input is not observed: the LUT is exactly this rounding.
            (NodeOp::Input, _) => f
                .iter()
                .map(|&x| (round_away(f64::from(x) / s) + zp).clamp(-128.0, 127.0))
                .collect(),
            (_, Some(q)) => q.iter().map(|&v| f64::from(v)).collect(),
            (_, None) => continue,
        };
        let (lo, hi) = (s * (-128.0 - zp), s * (127.0 - zp));
        for (&fv, &qv) in f.iter().zip(&q) {
            let fv = f64::from(fv);
            let d = s * (qv - zp);
            sums.signal[i] += fv * fv;
            sums.noise[i] += (fv - d) * (fv - d);
            if (qv >= 127.0 && fv > hi + 0.5 * s) || (qv <= -128.0 && fv < lo - 0.5 * s) {
                sums.saturated[i] += 1;
            }
        }
        sums.elements[i] += f.len() as u64;
        if let (NodeOp::ConcatConv1x1 { a, b, .. }, Some(layer)) =
            (&node.op, plan.layers.get(i).and_then(Option::as_ref))
        {
            let (Some(qa), Some(qb)) = (observed_of(*a), observed_of(*b)) else {
                continue;
            };
            let (quant_a, quant_b) = (plan.quants[*a], plan.quants[*b]);
            let (ra, rb) = (plan.ranges[*a], plan.ranges[*b]);
            let channels = (graph.nodes[*a].shape[2], graph.nodes[*b].shape[2]);
            let cat = quant_for_range(ra.0.min(rb.0), ra.1.max(rb.1));
            let yb = simulate_concat(
                qa,
                qb,
                (quant_a, quant_b),
                quant_a,
                &layer.weights,
                &layer.bias,
                quant,
                channels,
            );
            let yc = simulate_concat(
                qa,
                qb,
                (quant_a, quant_b),
                cat,
                &layer.weights,
                &layer.bias,
                quant,
                channels,
            );
            let y1 = simulate_fused(qa, qb, (quant_a, quant_b), &layer.weights, quant, channels, false);
            let y2 = simulate_fused(qa, qb, (quant_a, quant_b), &layer.weights, quant, channels, true);
            let entry = &mut sums.concat[i];
            for ((((&fv, vb), vc), v1), v2) in f.iter().zip(yb).zip(yc).zip(y1).zip(y2) {
                let fv = f64::from(fv);
                entry.0 += fv * fv;
                entry.1 += (fv - vb) * (fv - vb);
                entry.2 += (fv - vc) * (fv - vc);
                entry.3 += (fv - v1) * (fv - v1);
                entry.4 += (fv - v2) * (fv - v2);
            }
        }
    }
    let px = float_out.landmark_pixels(graph.input_size);
    for (xy, f) in out.landmarks.iter().flatten().zip(px) {
        let e = f64::from((xy - f).abs());
        sums.lm_signal += f64::from(f) * f64::from(f);
        sums.lm_noise += e * e;
        sums.lm_abs += e;
        sums.lm_max = sums.lm_max.max(e);
        sums.lm_count += 1;
    }
    let lq = plan
        .quants
        .get(graph.outputs[1])
        .ok_or_else(|| internal("logit quant"))?;
    for ((&q, &f), &flag) in out
        .attribute_logits_q
        .iter()
        .zip(&float_out.logits)
        .zip(&out.attribute_flags)
    {
        let d = f64::from(lq.scale) * f64::from(i32::from(q) - i32::from(lq.zero_point));
        sums.logit_pairs.push((d, f64::from(f)));
        sums.flags += 1;
        sums.flags_agree += u64::from(flag == (f > 0.0));
    }
    Ok(sums)
}

fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = pairs.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (a, b) in pairs {
        sab += (a - ma) * (b - mb);
        saa += (a - ma) * (a - ma);
        sbb += (b - mb) * (b - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

fn op_name(op: &NodeOp) -> String {
    match op {
        NodeOp::Input => "Input (LUT)".into(),
        NodeOp::Conv { kernel, .. } => format!("Conv2d {kernel}×{kernel}+ReLU"),
        NodeOp::MaxPool { .. } => "MaxPool2d 2×2".into(),
        NodeOp::Concat { .. } => "Concat (identity ConcatConv1x1)".into(),
        NodeOp::ConcatConv1x1 { .. } => "ConcatConv1x1".into(),
        NodeOp::Fc { relu: true, .. } => "FullyConnected+ReLU".into(),
        NodeOp::Fc { .. } => "FullyConnected".into(),
    }
}

fn node_macs(graph: &FloatGraph, i: usize) -> u64 {
    let Some(node) = graph.nodes.get(i) else { return 0 };
    let [h, w, c] = node.shape;
    let ch = |j: usize| graph.nodes.get(j).map_or(0, |n| n.shape[2]) as u64;
    let len = |j: usize| graph.nodes.get(j).map_or(0, |n| n.len()) as u64;
    let out = (h * w * c) as u64;
    match &node.op {
        NodeOp::Conv { input, kernel, .. } => out * (kernel * kernel) as u64 * ch(*input),
        NodeOp::Concat { a, b } | NodeOp::ConcatConv1x1 { a, b, .. } => out * (ch(*a) + ch(*b)),
        NodeOp::Fc { input, .. } => out * len(*input),
        _ => 0,
    }
}

/// Builds the report for an emitted blob (runs `images` through blob and float graph).
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_report(
    graph: &FloatGraph,
    plan: &QuantPlan,
    emitted: &Emitted,
    blob: &[u8],
    calibration: &Calibration,
    images: &[Vec<u8>],
    options: &QuantizeOptions,
    orders: Vec<OrderArena>,
    chosen: ExecutionOrder,
) -> Result<QuantReport, QuantizeError> {
    let model = Model::from_bytes(blob)?;
    let n = graph.nodes.len();
    let sums = images
        .par_iter()
        .map(|img| measure_image(graph, plan, emitted, &model, img))
        .try_reduce(|| Sums::new(n), |a, b| Ok(a.merge(b)))?;
    let mut layers = Vec::new();
    let mut concat_options = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let quant = plan.quants[i];
        let stats = calibration.stats.get(i);
        let layer = plan.layers.get(i).and_then(Option::as_ref);
        let sq = sqnr(sums.signal[i], sums.noise[i]);
        layers.push(LayerReport {
            name: node.name.clone(),
            op: op_name(&node.op),
            inputs: node
                .inputs()
                .iter()
                .filter_map(|&j| graph.nodes.get(j).map(|n| n.shape))
                .collect(),
            output: node.shape,
            scale: quant.scale,
            zero_point: quant.zero_point,
            weight_range: layer.map(|l| l.w_range),
            calibration_range: stats.map_or((0.0, 0.0), |s| (s.min, s.max)),
            clip_range: plan.ranges[i],
            saturated: sums.saturated[i],
            elements: sums.elements[i],
            macs: node_macs(graph, i),
            sqnr_db: sq,
        });
        if matches!(node.op, NodeOp::ConcatConv1x1 { .. }) {
            let (s, nb, nc, n1, n2) = sums.concat[i];
            concat_options.push(ConcatOption {
                layer: node.name.clone(),
                fused_two_scale_sqnr_db: sq,
                shared_requantised_to_own_sqnr_db: sqnr(s, nb),
                common_concat_scale_sqnr_db: sqnr(s, nc),
                fused_single_rounding_sqnr_db: sqnr(s, n1),
                fused_f64_model_sqnr_db: sqnr(s, n2),
            });
        }
    }
    let macs = model.macs();
    let devices = PROFILES
        .iter()
        .map(|p| {
            let flash_needed = blob.len() + p.flash_reserved_bytes;
            let ram = ram_needed(&model) + p.ram_reserved_bytes;
            DeviceFit {
                device: p.name.into(),
                flash_needed,
                flash_bytes: p.flash_bytes,
                ram_needed: ram,
                ram_bytes: p.ram_bytes,
                fits: flash_needed <= p.flash_bytes && ram <= p.ram_bytes,
                latency_ms: p.estimated_seconds(&model) * 1e3,
            }
        })
        .collect();
    let plan_figures = emitted.plan();
    let logit_signal: f64 = sums.logit_pairs.iter().map(|p| p.1 * p.1).sum();
    let logit_noise: f64 = sums.logit_pairs.iter().map(|p| (p.0 - p.1) * (p.0 - p.1)).sum();
    Ok(QuantReport {
        variant: graph.variant.name().into(),
        input_size: graph.input_size,
        calibration: options.calibration.name(),
        calibration_images: calibration.images,
        report_images: images.len(),
        flash_bytes: blob.len(),
        arena_bytes: model.arena_bytes(),
        macs,
        tensors: model.tensor_count(),
        ops: model.op_count(),
        layers,
        arena: ArenaReport {
            chosen,
            arena_bytes: plan_figures.total,
            naive_bytes: plan_figures.naive,
            lower_bound_bytes: plan_figures.peak_live,
            best_materialised_arena_bytes: orders.iter().map(|o| o.materialised_arena_bytes).min().unwrap_or(0),
            orders,
        },
        devices,
        outputs: OutputAgreement {
            landmark_mean_abs_px: sums.lm_abs / (sums.lm_count.max(1)) as f64,
            landmark_max_abs_px: sums.lm_max,
            landmark_sqnr_db: sqnr(sums.lm_signal, sums.lm_noise),
            logit_sqnr_db: sqnr(logit_signal, logit_noise),
            logit_correlation: correlation(&sums.logit_pairs),
            flag_agreement: sums.flags_agree as f64 / sums.flags.max(1) as f64,
        },
        concat_options,
    })
}

fn kib(bytes: usize) -> String {
    format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
}

impl QuantReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A few lines for a terminal: sizes, arena plan, output agreement, device fit.
    pub fn summary(&self) -> String {
        let o = &self.outputs;
        let fits: Vec<String> = self
            .devices
            .iter()
            .map(|d| format!("{} {}", d.device, if d.fits { "fits" } else { "does NOT fit" }))
            .collect();
        format!(
            "{} {}×{}: flash {} B, arena {} B (order {}; naive {} B, lower bound {} B, materialised concat {} B), {:.2} M MACs\n\
             int8 vs float on {} images: landmarks {:.3} px mean / {:.3} px max, logit SQNR {:.1} dB, flags agree {:.2} %\n\
             {}",
            self.variant,
            self.input_size,
            self.input_size,
            self.flash_bytes,
            self.arena_bytes,
            self.arena.chosen.name(),
            self.arena.naive_bytes,
            self.arena.lower_bound_bytes,
            self.arena.best_materialised_arena_bytes,
            self.macs as f64 / 1e6,
            self.report_images,
            o.landmark_mean_abs_px,
            o.landmark_max_abs_px,
            o.logit_sqnr_db,
            100.0 * o.flag_agreement,
            fits.join(", ")
        )
    }

    /// A readable Markdown report.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Int8 quantisation report\n");
        let _ = writeln!(
            s,
            "* Variant `{}`, input {}×{} RGB\n* Calibration: {} on {} images; measurements on {} images",
            self.variant,
            self.input_size,
            self.input_size,
            self.calibration,
            self.calibration_images,
            self.report_images
        );
        let _ = writeln!(
            s,
            "* Flash (blob): {}\n* Arena: {} (order `{}`)\n* MACs per inference: {}\n* {} tensors, {} ops\n",
            kib(self.flash_bytes),
            kib(self.arena_bytes),
            self.arena.chosen.name(),
            self.macs,
            self.tensors,
            self.ops
        );
        let o = &self.outputs;
        let _ = writeln!(s, "## Outputs (int8 vs float)\n");
        let _ = writeln!(
            s,
            "| landmark mean abs (px) | landmark max abs (px) | landmark SQNR (dB) | logit SQNR (dB) | logit correlation | flag agreement |\n|---|---|---|---|---|---|\n| {:.3} | {:.3} | {:.1} | {:.1} | {:.4} | {:.2} % |\n",
            o.landmark_mean_abs_px,
            o.landmark_max_abs_px,
            o.landmark_sqnr_db,
            o.logit_sqnr_db,
            o.logit_correlation,
            100.0 * o.flag_agreement
        );
        let _ = writeln!(s, "## Arena\n");
        let _ = writeln!(
            s,
            "Chosen order `{}`: arena {}, naive (no reuse) {}, lower bound (peak live) {}; best materialised-concat (TFLite-style) arena {}.\n",
            self.arena.chosen.name(),
            kib(self.arena.arena_bytes),
            kib(self.arena.naive_bytes),
            kib(self.arena.lower_bound_bytes),
            kib(self.arena.best_materialised_arena_bytes)
        );
        let _ = writeln!(
            s,
            "| order | arena | naive | lower bound | materialised arena | materialised lower bound |\n|---|---|---|---|---|---|"
        );
        for a in &self.arena.orders {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                a.order.name(),
                a.arena_bytes,
                a.naive_bytes,
                a.lower_bound_bytes,
                a.materialised_arena_bytes,
                a.materialised_lower_bound_bytes
            );
        }
        let _ = writeln!(s, "\n## Devices\n");
        let _ = writeln!(s, "| device | flash needed / available | RAM needed / available | fits | est. latency |\n|---|---|---|---|---|");
        for d in &self.devices {
            let _ = writeln!(
                s,
                "| {} | {} / {} | {} / {} | {} | {:.1} ms |",
                d.device,
                d.flash_needed,
                d.flash_bytes,
                d.ram_needed,
                d.ram_bytes,
                if d.fits { "yes" } else { "**no**" },
                d.latency_ms
            );
        }
        if !self.concat_options.is_empty() {
            let _ = writeln!(s, "\n## Concat scales (`docs/int8-spec.md` §5)\n");
            let _ = writeln!(
                s,
                "SQNR (dB) of each fused concat + 1×1 output vs float, on the same int8 inputs: (a) fused, two scales, two roundings (emitted; (a) f64 is its f64 re-computation); (a') fused with a single rounding (needs another kernel); (b) shared input requantised to the own input's scale first; (c) both inputs requantised to one concat scale (a materialised int8 concat).\n"
            );
            let _ = writeln!(
                s,
                "| layer | (a) fused | (a) f64 | (a') one rounding | (b) shared → own scale | (c) common scale |\n|---|---|---|---|---|---|"
            );
            for c in &self.concat_options {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    c.layer,
                    c.fused_two_scale_sqnr_db,
                    c.fused_f64_model_sqnr_db,
                    c.fused_single_rounding_sqnr_db,
                    c.shared_requantised_to_own_sqnr_db,
                    c.common_concat_scale_sqnr_db
                );
            }
        }
        let _ = writeln!(s, "\n## Layers\n");
        let _ = writeln!(
            s,
            "| layer | op | output | scale | zp | weights | calibration range | clip range | saturated | MACs | SQNR (dB) |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for l in &self.layers {
            let [h, w, c] = l.output;
            let weights = l
                .weight_range
                .map_or_else(|| "–".to_string(), |(a, b)| format!("[{a:.3}, {b:.3}]"));
            let _ = writeln!(
                s,
                "| {} | {} | {h}×{w}×{c} | {:.3e} | {} | {} | [{:.3}, {:.3}] | [{:.3}, {:.3}] | {} / {} | {} | {:.1} |",
                l.name,
                l.op,
                l.scale,
                l.zero_point,
                weights,
                l.calibration_range.0,
                l.calibration_range.1,
                l.clip_range.0,
                l.clip_range.1,
                l.saturated,
                l.elements,
                l.macs,
                l.sqnr_db
            );
        }
        s
    }
}
