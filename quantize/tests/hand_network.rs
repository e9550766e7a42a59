//! A network small enough to compute by hand: input 2×2 RGB, one level with a
//! 1×1 conv to one channel, hidden 1. Every float value is a dyadic rational
//! (exact in f32), so the calibration ranges are known exactly; the int8
//! result is then derived below with the formulas of `docs/int8-spec.md` and
//! must equal the blob's output bit for bit.
use smn_firmware_core::builder::quantize_multiplier;
use smn_firmware_core::format::Op;
use smn_firmware_core::Model;
use smn_quantize::float_model::{ATTRIBUTE_OUTPUTS, LANDMARK_OUTPUTS};
use smn_quantize::{quantize, Arch, CalibrationMethod, FloatModel, FloatTensor, QuantizeOptions, Variant};
use std::collections::BTreeMap;

fn t(shape: &[usize], data: Vec<f32>) -> FloatTensor {
    FloatTensor {
        shape: shape.to_vec(),
        data,
    }
}

const LM_W: fn(usize) -> f32 = |j| (j as f32 + 1.0) / 8.0 * if j % 2 == 0 { 1.0 } else { -1.0 };
const LM_B: fn(usize) -> f32 = |j| j as f32 / 16.0 - 0.25;
const AT_W: fn(usize) -> f32 = |j| ((j % 4) as f32 - 1.5) * 0.5;
const AT_B: fn(usize) -> f32 = |j| 0.125 * (j % 3) as f32 - 0.125;

fn hand_model() -> FloatModel {
    let mut tensors = BTreeMap::new();
    tensors.insert("shared.0.conv.weight".into(), t(&[1, 3, 1, 1], vec![0.5, -0.25, 0.25]));
    tensors.insert("shared.0.conv.bias".into(), t(&[1], vec![0.125]));
    tensors.insert("heads.0.fc1.weight".into(), t(&[1, 1], vec![2.0]));
    tensors.insert("heads.0.fc1.bias".into(), t(&[1], vec![0.0]));
    tensors.insert(
        "heads.0.fc2.weight".into(),
        t(&[LANDMARK_OUTPUTS, 1], (0..LANDMARK_OUTPUTS).map(LM_W).collect()),
    );
    tensors.insert(
        "heads.0.fc2.bias".into(),
        t(&[LANDMARK_OUTPUTS], (0..LANDMARK_OUTPUTS).map(LM_B).collect()),
    );
    tensors.insert("heads.1.fc1.weight".into(), t(&[1, 1], vec![1.0]));
    tensors.insert("heads.1.fc1.bias".into(), t(&[1], vec![-0.25]));
    tensors.insert(
        "heads.1.fc2.weight".into(),
        t(&[ATTRIBUTE_OUTPUTS, 1], (0..ATTRIBUTE_OUTPUTS).map(AT_W).collect()),
    );
    tensors.insert(
        "heads.1.fc2.bias".into(),
        t(&[ATTRIBUTE_OUTPUTS], (0..ATTRIBUTE_OUTPUTS).map(AT_B).collect()),
    );
    FloatModel {
        arch: Arch {
            input_size: 2,
            channels: vec![1],
            kernel_size: 1,
            batch_norm: false,
            hidden: 1,
        },
        variant: Variant::Mtl,
        pixel_mean: 128.0,
        pixel_std: 64.0,
        bn_epsilon: 1e-5,
        tensors,
    }
}

/// `docs/int8-spec.md` §3, MultiplyByQuantizedMultiplier, written out in i64.
fn mbqm(x: i64, m: i32, shift: i8) -> i64 {
    let (left, right) = (i64::from(shift).max(0), i64::from(-shift).max(0));
    let x = (x << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    let m = i64::from(m);
    // SRDHM
    let high = if x == i64::from(i32::MIN) && m == i64::from(i32::MIN) {
        i64::from(i32::MAX)
    } else {
        let ab = x * m;
        let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
        (ab + nudge) / (1i64 << 31)
    };
    // RDBPOT: round half away from zero of high / 2^right
    let mask = (1i64 << right) - 1;
    let remainder = high & mask;
    let threshold = (mask >> 1) + i64::from(high < 0);
    (high >> right) + i64::from(remainder > threshold)
}

/// Spec §4 quantisation parameters of a real range (widened to include 0).
fn quant(lo: f64, hi: f64) -> (f32, i32) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let scale = ((hi - lo) / 255.0) as f32;
    let zp = (-128.0 - lo / f64::from(scale)).round().clamp(-128.0, 127.0) as i32;
    (scale, zp)
}

fn multiplier(s_in: f32, s_w: f32, s_out: f32) -> (i32, i8) {
    quantize_multiplier(f64::from(s_in) * f64::from(s_w) / f64::from(s_out)).unwrap()
}

#[test]
fn hand_computed_int8_output_equals_the_blob() {
    let pixels: [[u8; 3]; 4] = [[200, 100, 50], [10, 250, 128], [128, 128, 128], [255, 0, 64]];
    let image: Vec<u8> = pixels.iter().flatten().copied().collect();
    let options = QuantizeOptions {
        calibration: CalibrationMethod::MinMax,
        order: None,
        report_images: 1,
        ..QuantizeOptions::default()
    };
    let q = quantize(&hand_model(), std::slice::from_ref(&image), &options).unwrap();
    let model = Model::from_bytes(&q.blob).unwrap();
    let mut arena = vec![0u8; model.arena_bytes()];
    let out = model.run(&image, &mut arena).unwrap();

    // ---- Float values (exact) ----
    let x = |p: u8| (f64::from(p) - 128.0) / 64.0;
    let conv: Vec<f64> = pixels
        .iter()
        .map(|p| (0.5 * x(p[0]) - 0.25 * x(p[1]) + 0.25 * x(p[2]) + 0.125).max(0.0))
        .collect();
    assert_eq!(conv, vec![0.4921875, 0.0, 0.125, 1.3671875]);
    let pooled = 1.3671875;
    let h = [2.0 * pooled, pooled - 0.25]; // fc1 of each head, both > 0
    let u0: Vec<f64> = (0..LANDMARK_OUTPUTS)
        .map(|j| f64::from(LM_W(j)) * h[0] + f64::from(LM_B(j)))
        .collect();
    let u1: Vec<f64> = (0..ATTRIBUTE_OUTPUTS)
        .map(|j| f64::from(AT_W(j)) * h[1] + f64::from(AT_B(j)))
        .collect();
    let range = |v: &[f64]| v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));

    // ---- Quantisation parameters (spec §1, §4) ----
    let (s_in, zp_in) = quant(-2.0, 127.0 / 64.0); // analytic input range [(0−128)/64, (255−128)/64]
    let (s_c, zp_c) = quant(0.0, pooled);
    assert_eq!(zp_c, -128);
    let (s_h0, zp_h0) = quant(0.0, h[0]);
    let (s_h1, zp_h1) = quant(0.0, h[1]);
    let (r0, r1) = (range(&u0), range(&u1));
    let (s_o0, zp_o0) = quant(r0.0, r0.1);
    let (s_o1, zp_o1) = quant(r1.0, r1.1);

    // ---- Input LUT (spec §2) ----
    let lut =
        |p: u8| (((f64::from(p) - 128.0) / 64.0 / f64::from(s_in)).round() as i64 + i64::from(zp_in)).clamp(-128, 127);

    // ---- Conv 1×1, weights [0.5, −0.25, 0.25]: s_w = 0.5/127, w = [127, −64, 64] (63.5 rounds away) ----
    let s_w = 0.5f32 / 127.0;
    let w = [127i64, -64, 64];
    let bias = (0.125 / (f64::from(s_in) * f64::from(s_w))).round() as i64;
    let (m, sh) = multiplier(s_in, s_w, s_c);
    let conv_q: Vec<i64> = pixels
        .iter()
        .map(|p| {
            let acc = bias + (0..3).map(|c| w[c] * (lut(p[c]) - i64::from(zp_in))).sum::<i64>();
            (mbqm(acc, m, sh) + i64::from(zp_c)).clamp(i64::from(zp_c), 127) // fused ReLU
        })
        .collect();
    // ---- 2×2 max pool: same quantisation ----
    let pool_q = *conv_q.iter().max().unwrap();

    // ---- fc1 (one weight w: s_w = |w|/127, q = 127) + ReLU ----
    let fc1 = |w: f32, b: f32, s_out: f32, zp_out: i32| {
        let s_w = w.abs() / 127.0;
        let bias = (f64::from(b) / (f64::from(s_c) * f64::from(s_w))).round() as i64;
        let acc = bias + 127 * (pool_q - i64::from(zp_c));
        let (m, sh) = multiplier(s_c, s_w, s_out);
        (mbqm(acc, m, sh) + i64::from(zp_out)).clamp(i64::from(zp_out), 127)
    };
    let h0_q = fc1(2.0, 0.0, s_h0, zp_h0);
    let h1_q = fc1(1.0, -0.25, s_h1, zp_h1);

    // ---- fc2 (each output has one weight w_j: q = ±127, s_w = |w_j|/127), no activation ----
    let fc2 = |w: f32, b: f32, hq: i64, s_h: f32, zp_h: i32, s_out: f32, zp_out: i32| {
        let s_w = w.abs() / 127.0;
        let bias = (f64::from(b) / (f64::from(s_h) * f64::from(s_w))).round() as i64;
        let acc = bias + 127 * w.signum() as i64 * (hq - i64::from(zp_h));
        let (m, sh) = multiplier(s_h, s_w, s_out);
        (mbqm(acc, m, sh) + i64::from(zp_out)).clamp(-128, 127) as i8
    };
    let lm_q: Vec<i8> = (0..LANDMARK_OUTPUTS)
        .map(|j| fc2(LM_W(j), LM_B(j), h0_q, s_h0, zp_h0, s_o0, zp_o0))
        .collect();
    let at_q: Vec<i8> = (0..ATTRIBUTE_OUTPUTS)
        .map(|j| fc2(AT_W(j), AT_B(j), h1_q, s_h1, zp_h1, s_o1, zp_o1))
        .collect();

    // ---- Heads (spec §7, f32): px = (f32)(q − zp) · s · 2 + (−0.5) ----
    let px: Vec<f32> = lm_q
        .iter()
        .map(|&q| ((i32::from(q) - zp_o0) as f32 * s_o0) * 2.0 + -0.5)
        .collect();

    // The symmetric logit range puts −min/scale within rounding of 127.5: the zero
    // point must come from the stored f32 scale, as written above.
    let logits = model
        .ops()
        .find_map(|op| match op.unwrap() {
            Op::AttributeHead(h) => Some(h.input),
            _ => None,
        })
        .unwrap();
    assert_eq!(model.tensor(logits.into()).unwrap().quant.zero_point, zp_o1 as i8);
    assert_eq!(out.landmarks_q.to_vec(), lm_q);
    assert_eq!(out.attribute_logits_q.to_vec(), at_q);
    let got: Vec<f32> = out.landmarks.iter().flatten().copied().collect();
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        px.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let flags: Vec<bool> = at_q.iter().map(|&q| i32::from(q) - zp_o1 > 0).collect();
    assert_eq!(out.attribute_flags.to_vec(), flags);
    // And the int8 result is close to the float one (sanity of the hand model itself).
    for (&p, &u) in px.iter().zip(&u0) {
        assert!((f64::from(p) - (u * 2.0 - 0.5)).abs() < 2.0 * f64::from(s_o0) * 2.0);
    }
}
