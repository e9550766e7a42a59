//! The concat-scale comparison (`docs/int8-spec.md` §5): the int8 inputs of
//! a fused `concat + 1×1`, as the blob computed them, run through f64
//! models of other ways of handling the two input scales, each compared
//! with the float output.
use crate::calibrate::{quant_for_range, quantised};
use crate::plan::QLayer;
use smn_firmware_core::builder::Weights;
use smn_firmware_core::format::Quant;

/// One input of a fused `concat + 1×1` as the blob computed it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConcatInput<'a> {
    /// The int8 values (NHWC).
    pub values: &'a [i8],
    /// Their quantisation.
    pub quant: Quant,
    /// The clip range the quantisation was chosen for.
    pub range: (f32, f32),
    /// Channels.
    pub channels: usize,
}

/// Squared errors (sums over elements and images) of each alternative for
/// one fused `concat + 1×1`, and the float signal they are measured against.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ConcatErrors {
    /// Σ float².
    pub signal: f64,
    /// (b) the shared input requantised to the own input's quantisation.
    pub shared_to_own: f64,
    /// (c) both inputs requantised to one concat quantisation.
    pub common_scale: f64,
    /// (a') fused with a single rounding.
    pub single_rounding: f64,
    /// (a) fused with two roundings, recomputed in f64.
    pub fused_f64: f64,
    /// (d) one scale (`b` weights per unit of `a`'s scale), one rounding,
    /// recomputed in f64.
    pub one_scale: f64,
}

impl ConcatErrors {
    /// Adds `other`'s sums to these.
    pub fn add(&mut self, other: &ConcatErrors) {
        self.signal += other.signal;
        self.shared_to_own += other.shared_to_own;
        self.common_scale += other.common_scale;
        self.single_rounding += other.single_rounding;
        self.fused_f64 += other.fused_f64;
        self.one_scale += other.one_scale;
    }
}

/// How the fused kernel rounds the two partial sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    /// `round(acc_a · r_a) + round(acc_b · r_b)` (the emitted kernel).
    Twice,
    /// `round(acc_a · r_a + acc_b · r_b)`.
    Once,
}

/// The layer as the alternatives see it: int8 weights, float bias, output quantisation.
#[derive(Clone, Copy, Debug)]
struct Layer<'a> {
    weights: &'a Weights,
    bias: &'a [f32],
    out: Quant,
}

/// Rounds half away from zero.
fn round_away(x: f64) -> f64 {
    x.round()
}

/// `x` from quantisation `from` requantised to `to` (exact f64 rounding).
fn requant(x: i8, from: Quant, to: Quant) -> i32 {
    let real = f64::from(from.scale) * f64::from(i32::from(x) - i32::from(from.zero_point));
    quantised(real, to) as i32
}

/// The output quantised then dequantised.
fn dequantised_output(scaled: f64, out: Quant) -> f64 {
    let q = (scaled + f64::from(out.zero_point)).clamp(-128.0, 127.0);
    f64::from(out.scale) * (q - f64::from(out.zero_point))
}

/// `concat(a, b)` + 1×1 with both inputs requantised to `target`, one weight
/// scale per channel, exact f64 rounding; returns the dequantised outputs.
fn requantised_concat(a: &ConcatInput<'_>, b: &ConcatInput<'_>, target: Quant, layer: Layer<'_>) -> Vec<f64> {
    let s_t = f64::from(target.scale);
    let zp_t = i32::from(target.zero_point);
    let (ca, cb) = (a.channels, b.channels);
    let mut y = Vec::new();
    for (pa, pb) in a.values.chunks_exact(ca.max(1)).zip(b.values.chunks_exact(cb.max(1))) {
        let x: Vec<i32> = pa
            .iter()
            .map(|&v| requant(v, a.quant, target))
            .chain(pb.iter().map(|&v| requant(v, b.quant, target)))
            .collect();
        for ((row, &s_w), &bias) in layer
            .weights
            .values
            .chunks_exact(ca + cb)
            .zip(&layer.weights.scales)
            .zip(layer.bias)
        {
            let s_w = f64::from(s_w);
            let mut acc = round_away(f64::from(bias) / (s_t * s_w)) as i64;
            for (&w, &xv) in row.iter().zip(&x) {
                acc += i64::from(w) * i64::from(xv - zp_t);
            }
            let scaled = round_away(acc as f64 * s_t * s_w / f64::from(layer.out.scale));
            y.push(dequantised_output(scaled, layer.out));
        }
    }
    y
}

/// The fused two-scale `concat + 1×1` in f64 on the emitted integers
/// (weights and `i32` biases as emitted), rounded as `rounding` says;
/// returns the dequantised outputs.
fn fused_concat(a: &ConcatInput<'_>, b: &ConcatInput<'_>, layer: Layer<'_>, rounding: Rounding) -> Vec<f64> {
    let (zp_a, zp_b) = (i64::from(a.quant.zero_point), i64::from(b.quant.zero_point));
    let (s_a, s_b, s_o) = (
        f64::from(a.quant.scale),
        f64::from(b.quant.scale),
        f64::from(layer.out.scale),
    );
    let (ca, cb) = (a.channels, b.channels);
    let weights = layer.weights;
    let mut y = Vec::new();
    for (pa, pb) in a.values.chunks_exact(ca.max(1)).zip(b.values.chunks_exact(cb.max(1))) {
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
            let scaled = match rounding {
                Rounding::Twice => round_away(acc_a as f64 * ra) + round_away(acc_b as f64 * rb),
                Rounding::Once => round_away(acc_a as f64 * ra + acc_b as f64 * rb),
            };
            y.push(dequantised_output(scaled, layer.out));
        }
    }
    y
}

/// The one-scale fused `concat + 1×1` (§5.1) in f64 on its emitted
/// integers: one accumulator in units of `s_a · s_w[c]`, one rounding;
/// returns the dequantised outputs.
fn one_scale_concat(a: &ConcatInput<'_>, b: &ConcatInput<'_>, weights: &Weights, out: Quant) -> Vec<f64> {
    let (zp_a, zp_b) = (i64::from(a.quant.zero_point), i64::from(b.quant.zero_point));
    let (s_a, s_o) = (f64::from(a.quant.scale), f64::from(out.scale));
    let (ca, cb) = (a.channels, b.channels);
    let mut y = Vec::new();
    for (pa, pb) in a.values.chunks_exact(ca.max(1)).zip(b.values.chunks_exact(cb.max(1))) {
        let x = pa
            .iter()
            .map(|&v| i64::from(v) - zp_a)
            .chain(pb.iter().map(|&v| i64::from(v) - zp_b));
        let x: Vec<i64> = x.collect();
        for ((row, &s_w), &bias) in weights
            .values
            .chunks_exact(ca + cb)
            .zip(&weights.scales)
            .zip(&weights.bias)
        {
            let acc = i64::from(bias) + row.iter().zip(&x).map(|(&w, &v)| i64::from(w) * v).sum::<i64>();
            let scaled = round_away(acc as f64 * s_a * f64::from(s_w) / s_o);
            y.push(dequantised_output(scaled, out));
        }
    }
    y
}

/// Runs the alternatives on the own-branch input `a` and the shared input
/// `b` of `layer` (output quantisation `out`) and sums their squared errors
/// against the layer's float output `float`.
pub(crate) fn concat_errors(
    a: &ConcatInput<'_>,
    b: &ConcatInput<'_>,
    qlayer: &QLayer,
    out: Quant,
    float: &[f32],
) -> ConcatErrors {
    let layer = Layer {
        weights: &qlayer.weights,
        bias: &qlayer.bias,
        out,
    };
    let common = quant_for_range(a.range.0.min(b.range.0), a.range.1.max(b.range.1));
    let shared_to_own = requantised_concat(a, b, a.quant, layer);
    let common_scale = requantised_concat(a, b, common, layer);
    let single = fused_concat(a, b, layer, Rounding::Once);
    let twice = fused_concat(a, b, layer, Rounding::Twice);
    let one = match &qlayer.one_scale {
        Some(w) => one_scale_concat(a, b, w, out),
        None => Vec::new(),
    };
    let mut errors = ConcatErrors::default();
    for (&fv, v) in float.iter().zip(&one) {
        let fv = f64::from(fv);
        errors.one_scale += (fv - v) * (fv - v);
    }
    for ((((&fv, vb), vc), v1), v2) in float.iter().zip(shared_to_own).zip(common_scale).zip(single).zip(twice) {
        let fv = f64::from(fv);
        errors.signal += fv * fv;
        errors.shared_to_own += (fv - vb) * (fv - vb);
        errors.common_scale += (fv - vc) * (fv - vc);
        errors.single_rounding += (fv - v1) * (fv - v1);
        errors.fused_f64 += (fv - v2) * (fv - v2);
    }
    errors
}
