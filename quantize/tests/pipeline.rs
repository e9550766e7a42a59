//! End to end: random float models → file → int8 blob → firmware-core run.
mod common;

use smn_firmware_core::format::Op;
use smn_firmware_core::Model;
use smn_quantize::float_forward::forward;
use smn_quantize::fold::fold_batch_norm;
use smn_quantize::{quantize, Arch, CalibrationMethod, ConcatScales, FloatGraph, FloatModel, QuantizeOptions, Variant};

#[test]
fn float_model_file_round_trips_for_every_variant() {
    let dir = common::scratch("roundtrip");
    for arch in [Arch::micro(), Arch::tiny()] {
        for variant in Variant::ALL {
            let model = FloatModel::random(&arch, variant, 5);
            let path = dir.join(format!("{}-{}.safetensors", arch.input_size, variant.name()));
            model.write(&path).unwrap();
            let back = FloatModel::read(&path).unwrap();
            assert_eq!(back, model, "{variant:?}");
            // Bytes are deterministic, and a different seed gives a different model.
            assert!(back.to_bytes().unwrap() == model.to_bytes().unwrap());
            assert!(std::fs::read(&path).unwrap() == model.to_bytes().unwrap());
            assert_ne!(FloatModel::random(&arch, variant, 6), model);
        }
    }
    // No temporary file is left behind by the atomic write.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (ma, mb) = pairs.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let cov: f64 = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum();
    let va: f64 = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum();
    let vb: f64 = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn int8_blob_tracks_the_float_model_for_every_variant() {
    let arch = Arch::tiny();
    let calib = common::images(arch.input_size, 48, 1);
    let eval = common::images(arch.input_size, 8, 2);
    for variant in Variant::ALL {
        let model = FloatModel::random(&arch, variant, 21);
        let q = quantize(&model, &calib, &QuantizeOptions::default()).unwrap();
        let blob_model = Model::from_bytes(&q.blob).unwrap();
        let graph = FloatGraph::new(&fold_batch_norm(&model).unwrap()).unwrap();
        let logit_quant = blob_model
            .ops()
            .filter_map(|op| match op.unwrap() {
                smn_firmware_core::format::Op::AttributeHead(h) => {
                    Some(blob_model.tensor(h.input.into()).unwrap().quant)
                }
                _ => None,
            })
            .next()
            .unwrap();
        let mut arena = vec![0u8; blob_model.arena_bytes()];
        let lm_quant = blob_model
            .ops()
            .filter_map(|op| match op.unwrap() {
                smn_firmware_core::format::Op::LandmarkHead(h) => {
                    Some(blob_model.tensor(h.input.into()).unwrap().quant)
                }
                _ => None,
            })
            .next()
            .unwrap();
        // One int8 step of the landmark output, in pixels.
        let lsb_px = f64::from(lm_quant.scale) * arch.input_size as f64;
        let (mut lm_err, mut lm_n) = (0f64, 0usize);
        let mut lm_pairs = Vec::new();
        let (mut pairs, mut flags_agree) = (Vec::new(), 0usize);
        for img in &eval {
            let out = blob_model.run(img, &mut arena).unwrap();
            let f = forward(&graph, img).unwrap();
            // The unfolded model gives the same float answer.
            let f_unfolded = model.forward(img).unwrap();
            for (a, b) in f.logits.iter().zip(&f_unfolded.logits) {
                assert!((a - b).abs() <= 1e-3 * (1.0 + b.abs()));
            }
            for (px, fpx) in out.landmarks.iter().flatten().zip(f.landmark_pixels(arch.input_size)) {
                lm_err += f64::from((px - fpx).abs());
                lm_pairs.push((f64::from(*px), f64::from(fpx)));
                lm_n += 1;
            }
            for ((&q, &fl), &flag) in out.attribute_logits_q.iter().zip(&f.logits).zip(&out.attribute_flags) {
                let d = logit_quant.scale * f32::from(i16::from(q) - i16::from(logit_quant.zero_point));
                pairs.push((f64::from(d), f64::from(fl)));
                flags_agree += usize::from(flag == (fl > 0.0));
            }
        }
        let lm_mean = lm_err / lm_n as f64;
        let corr = correlation(&pairs);
        let lm_corr = correlation(&lm_pairs);
        let agree = flags_agree as f64 / pairs.len() as f64;
        eprintln!(
            "{variant:?}: landmark mean abs err {lm_mean:.3} px (1 LSB = {lsb_px:.3} px, corr {lm_corr:.4}), logit corr {corr:.4}, flags {agree:.3}, blob {} B, arena {} B, SQNR out {:.1} dB",
            q.blob.len(),
            blob_model.arena_bytes(),
            q.report.outputs.logit_sqnr_db
        );
        // Random weights give landmark outputs far outside [0, 1] (so an int8
        // step is more than a pixel); the error must stay within one step.
        assert!(
            lm_mean < lsb_px,
            "{variant:?}: landmark error {lm_mean} px, 1 LSB = {lsb_px} px"
        );
        assert!(lm_corr > 0.99, "{variant:?}: landmark correlation {lm_corr}");
        assert!(corr > 0.99, "{variant:?}: logit correlation {corr}");
        assert!(agree > 0.9, "{variant:?}: flag agreement {agree}");
        // The report measured the same kind of agreement on the calibration images.
        assert!(q.report.outputs.logit_correlation > 0.99);
        assert_eq!(q.report.flash_bytes, q.blob.len());
        assert_eq!(q.report.arena_bytes, blob_model.arena_bytes());
        assert_eq!(q.report.macs, blob_model.macs());
        let layer_macs: u64 = q.report.layers.iter().map(|l| l.macs).sum();
        assert_eq!(layer_macs, blob_model.macs(), "{variant:?}: per-layer MACs add up");
        let md = q.report.to_markdown();
        assert!(md.contains("shared.0.conv") && md.contains("cortex-m4"));
        assert!(q.report.to_json().contains("\"sqnr_db\""));
        assert_eq!(q.report.concat_options.is_empty(), !variant.has_1x1());
    }
}

#[test]
fn every_order_and_method_gives_a_working_blob() {
    let arch = Arch::tiny();
    let calib = common::images(arch.input_size, 16, 3);
    let model = FloatModel::random(&arch, Variant::Smn1x1, 8);
    let mut arenas = Vec::new();
    for order in smn_quantize::ExecutionOrder::ALL {
        for calibration in [
            CalibrationMethod::MinMax,
            CalibrationMethod::Mse,
            CalibrationMethod::Percentile(99.9),
        ] {
            let options = QuantizeOptions {
                calibration,
                order: Some(order),
                report_images: 4,
                ..QuantizeOptions::default()
            };
            let q = quantize(&model, &calib, &options).unwrap();
            assert_eq!(q.report.arena.chosen, order);
            assert!(q.report.outputs.logit_correlation > 0.98, "{order:?} {calibration:?}");
            arenas.push((order, q.report.arena_bytes));
        }
    }
    let best = quantize(&model, &calib, &QuantizeOptions::default()).unwrap();
    assert!(arenas.iter().all(|&(_, a)| best.report.arena_bytes <= a));
    // The report lists every order's figures consistently.
    for o in &best.report.arena.orders {
        assert!(o.lower_bound_bytes <= o.arena_bytes && o.arena_bytes <= o.naive_bytes + 4 * 64);
        assert!(o.materialised_lower_bound_bytes >= o.lower_bound_bytes);
    }
}

#[test]
fn one_and_two_scale_concats_agree_and_one_scale_measures_at_least_as_well() {
    let arch = Arch::micro();
    let calib = common::images(arch.input_size, 16, 4);
    let model = FloatModel::random(&arch, Variant::Smn1x1Ft, 9);
    let run = |scales: ConcatScales| {
        let options = QuantizeOptions {
            concat_scales: scales,
            report_images: 8,
            ..QuantizeOptions::default()
        };
        quantize(&model, &calib, &options).unwrap()
    };
    let (one, two) = (run(ConcatScales::One), run(ConcatScales::Two));
    let concats = |blob: &[u8]| -> Vec<bool> {
        let m = Model::from_bytes(blob).unwrap();
        m.ops()
            .filter_map(|op| match op.unwrap() {
                Op::ConcatConv1x1(c) => Some(c.requant_b.shifts.0.is_empty()),
                _ => None,
            })
            .collect()
    };
    // Every fused concat of the one-scale blob has an empty `b` requantisation.
    assert_eq!(concats(&one.blob), vec![true; 8]);
    assert_eq!(concats(&two.blob), vec![false; 8]);
    // The report's f64 models match what each blob emitted, and one scale
    // (one rounding) is not worse than two on this model.
    for (c1, c2) in one.report.concat_options.iter().zip(&two.report.concat_options) {
        assert!((c1.emitted_sqnr_db - c1.one_scale_sqnr_db).abs() < 0.05, "{c1:?}");
        assert!((c2.emitted_sqnr_db - c2.fused_f64_model_sqnr_db).abs() < 0.05, "{c2:?}");
        assert!(c1.emitted_sqnr_db > c2.emitted_sqnr_db - 0.3, "{c1:?} vs {c2:?}");
    }
    let (o1, o2) = (&one.report.outputs, &two.report.outputs);
    assert!(o1.logit_correlation > 0.98 && o2.logit_correlation > 0.98);
}

#[test]
fn bad_images_are_errors() {
    let model = FloatModel::random(&Arch::tiny(), Variant::Mtl, 1);
    let err = quantize(&model, &[vec![0u8; 10]], &QuantizeOptions::default()).unwrap_err();
    assert!(err.to_string().contains("3072"), "{err}");
    assert!(quantize(&model, &[], &QuantizeOptions::default()).is_err());
}
