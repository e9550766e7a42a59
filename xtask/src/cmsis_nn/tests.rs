//! Unit tests of the CMSIS-NN comparison.
use std::path::Path;

use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};
use smn_firmware_core::format::Quant;
use smn_firmware_core::{Model, LANDMARK_COUNT};

use super::cases::{
    concat_params, concat_quant, multiplier, multiplier_value, op_cases, requantise, Case, Check, Kind, Step,
    TensorKey, Tensors, ToConcat,
};
use super::encode::{encode, parse_runs, CaseRun, ARRAY_ALIGN, CASE_WORDS, HEADER_WORDS, MAGIC, VERSION};
use super::harness::{locate_cmsis_nn, CMSIS_NN_ENV};
use super::report::{ratio_line, table, tflm_arena, Pair, Row};

fn word_at(bytes: &[u8], index: usize) -> i32 {
    i32::from_le_bytes(bytes[4 * index..4 * index + 4].try_into().unwrap())
}

fn tiny_cases() -> Vec<Case> {
    let blob = random_smn_blob(&SmnShape::tiny(), 7).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let image = synthetic_test_image(model.input_height(), model.input_width(), 7);
    let tensors = Tensors::capture(&model, &image).unwrap();
    let mut cases = Vec::new();
    for (i, op) in model.ops().enumerate() {
        cases.extend(op_cases(&tensors, i, &op.unwrap()).unwrap());
    }
    cases
}

#[test]
fn every_tensor_op_of_the_model_becomes_one_case() {
    let blob = random_smn_blob(&SmnShape::tiny(), 7).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let cases = tiny_cases();
    let tensor_ops: Vec<(usize, &str)> = model
        .ops()
        .map(Result::unwrap)
        .enumerate()
        .filter(|(_, op)| op.output().is_some())
        .map(|(i, op)| (i, op.name()))
        .collect();
    assert_eq!(cases.len(), tensor_ops.len());
    for (case, (i, name)) in cases.iter().zip(&tensor_ops) {
        assert_eq!(case.op_index, *i);
        let expected = match *name {
            "Conv2d" => Kind::Conv,
            "ConcatConv1x1" => Kind::ConcatConv1x1,
            "MaxPool2d" => Kind::MaxPool,
            "FullyConnected" => Kind::FullyConnected,
            other => panic!("unexpected op {other}"),
        };
        assert_eq!(case.kind, expected);
        assert_eq!(case.data.len(), case.input.len());
    }
    // The first conv reads the converted image, with CMSIS-NN's sign convention.
    let first = &cases[0];
    assert_eq!(
        first.input_offset,
        -i32::from(model.tensor(0).unwrap().quant.zero_point)
    );
    assert_eq!(first.weights.len(), first.output.c * 9 * first.input.c);
}

#[test]
fn concat_reference_is_within_one_lsb_of_the_fused_kernel() {
    // Both inputs ReLU outputs with zero point -128: the concat takes the
    // larger scale, so the TFLite path differs from the two-scale kernel
    // only by its extra roundings.
    for case in tiny_cases().iter().filter(|c| c.kind == Kind::ConcatConv1x1) {
        let Check::Reference { reference, ours } = &case.check else {
            panic!("a concat case is checked against the host reference");
        };
        assert_eq!(reference.len(), ours.len());
        let diff = reference
            .iter()
            .zip(ours)
            .map(|(&r, &o)| (i32::from(r) - i32::from(o)).abs())
            .max()
            .unwrap();
        assert!(diff <= 2, "op {}: max difference {diff}", case.op_index);
    }
}

#[test]
fn concat_quantisation_covers_both_ranges() {
    let relu = |scale| Quant {
        scale,
        zero_point: -128,
    };
    let q = concat_quant(relu(0.02), relu(0.05));
    assert_eq!(q, relu(0.05));
    // A symmetric input widens the range below 0.
    let q = concat_quant(
        relu(0.02),
        Quant {
            scale: 0.01,
            zero_point: 0,
        },
    );
    let (lo, hi) = (0.01 * -128.0, 0.02 * 255.0);
    assert!((f64::from(q.scale) - (hi - lo) / 255.0).abs() < 1e-7);
    assert_eq!(q.zero_point, (-128.0 - lo / f64::from(q.scale)).round() as i8);
}

#[test]
fn concat_parameters_rescale_bias_and_multipliers() {
    let (qa, qb) = (
        Quant {
            scale: 0.02,
            zero_point: -128,
        },
        Quant {
            scale: 0.05,
            zero_point: -128,
        },
    );
    let (s_w, s_out) = ([0.001f64, 0.004], 0.03f64);
    let (mut m_a, mut sh_a) = (Vec::new(), Vec::new());
    for s in s_w {
        let (m, sh) = multiplier(0.02f32 as f64 * s / s_out).unwrap();
        m_a.push(m);
        sh_a.push(sh);
    }
    let p = concat_params(qa, qb, &[1000, -333], &m_a, &sh_a).unwrap();
    assert_eq!(p.quant, qb);
    // b already has the concat quantisation: an identity (M = 2^30, shift 1).
    assert_eq!(
        p.b,
        ToConcat {
            zero_point: -128,
            multiplier: 1 << 30,
            shift: 1
        }
    );
    assert_eq!(p.a.zero_point, -128);
    let r_a = multiplier_value(p.a.multiplier, p.a.shift);
    assert!((r_a - f64::from(0.02f32) / f64::from(0.05f32)).abs() < 1e-9, "{r_a}");
    // s_concat · s_w[c] / s_out per channel, bias at s_concat · s_w[c].
    for (c, s) in s_w.iter().enumerate() {
        let r = multiplier_value(p.multipliers[c], p.shifts[c]);
        let want = 0.05f32 as f64 * s / s_out;
        assert!((r / want - 1.0).abs() < 1e-8, "channel {c}: {r} vs {want}");
    }
    assert_eq!(p.bias, vec![400, -133]);
    assert!(concat_params(qa, qb, &[1], &m_a, &sh_a).is_err());
}

#[test]
fn identity_requantisation_keeps_every_value() {
    let id = ToConcat {
        zero_point: -128,
        multiplier: 1 << 30,
        shift: 1,
    };
    for q in i8::MIN..=i8::MAX {
        assert_eq!(requantise(q, id, -128), i32::from(q));
    }
    // Halving the scale: (q + 128) · 2 − 128, saturated.
    let (m, sh) = multiplier(2.0).unwrap();
    let double = ToConcat {
        zero_point: -128,
        multiplier: m,
        shift: sh,
    };
    assert_eq!(requantise(-100, double, -128), -72);
    assert_eq!(requantise(100, double, -128), 127);
}

#[test]
fn case_file_layout_matches_bench_h() {
    let cases = tiny_cases();
    let bytes = encode(&cases).unwrap();
    assert_eq!(word_at(&bytes, 0) as u32, MAGIC);
    assert_eq!(word_at(&bytes, 1) as u32, VERSION);
    assert_eq!(word_at(&bytes, 2) as usize, cases.len());
    assert_eq!(word_at(&bytes, 3) as usize, CASE_WORDS);
    let records = word_at(&bytes, 4) as usize;
    assert_eq!(records, 4 * HEADER_WORDS);
    assert_eq!(
        word_at(&bytes, 5) as usize,
        cases.iter().map(|c| c.output.len()).max().unwrap()
    );
    for (i, case) in cases.iter().enumerate() {
        let w = |k: usize| word_at(&bytes, records / 4 + i * CASE_WORDS + k);
        assert_eq!(w(0), case.kind as i32);
        assert_eq!(w(1) as usize, case.op_index);
        assert_eq!(
            [w(2), w(3), w(4)],
            [case.input.h, case.input.w, case.input.c].map(|v| v as i32)
        );
        assert_eq!(
            [w(5), w(6), w(7)],
            [case.output.h, case.output.w, case.output.c].map(|v| v as i32)
        );
        assert_eq!(
            [w(14), w(15), w(16), w(17)],
            [
                case.input_offset,
                case.output_offset,
                i32::from(case.clamp.min),
                i32::from(case.clamp.max)
            ]
        );
        // Arrays: 8-byte aligned, holding exactly the case's values.
        let at = |offset: i32, len: usize| {
            let offset = offset as usize;
            assert_eq!(offset % ARRAY_ALIGN, 0);
            &bytes[offset..offset + len]
        };
        let input = at(w(18), case.data.len());
        assert!(input.iter().zip(&case.data).all(|(&b, &v)| b as i8 == v));
        if !case.multipliers.is_empty() {
            let m = at(w(21), 4 * case.multipliers.len());
            assert_eq!(i32::from_le_bytes(m[..4].try_into().unwrap()), case.multipliers[0]);
            let s = at(w(22), 4 * case.shifts.len());
            assert_eq!(i32::from_le_bytes(s[..4].try_into().unwrap()), case.shifts[0]);
        }
        if let Some(concat) = &case.concat {
            assert_eq!(w(23) as usize, concat.channels);
            let b = at(w(24), concat.data.len());
            assert!(b.iter().zip(&concat.data).all(|(&x, &v)| x as i8 == v));
            assert_eq!(
                [w(25), w(26), w(27)],
                [concat.a.zero_point, concat.a.multiplier, concat.a.shift]
            );
        }
    }
}

#[test]
fn harness_lines_are_parsed_and_matched_to_cases() {
    let cases = tiny_cases();
    let mut output = String::from("cases 2\n");
    for (i, c) in cases.iter().enumerate() {
        output += &format!("case {i} {} {} {} 0000abcd 64\n", c.op_index, c.kind as i32, 100 + i);
    }
    let runs = parse_runs(&output, &cases).unwrap();
    assert_eq!(
        runs[1],
        CaseRun {
            ticks: 101,
            crc: 0xabcd,
            scratch_bytes: 64
        }
    );
    let missing: String = output.lines().take(2).map(|l| format!("{l}\n")).collect();
    assert!(parse_runs(&missing, &cases).unwrap_err().contains("reported 1 of"));
    let wrong_op = output.replacen(&format!("case 0 {}", cases[0].op_index), "case 0 99", 1);
    assert!(parse_runs(&wrong_op, &cases)
        .unwrap_err()
        .contains("does not match case 0"));
    assert!(parse_runs("case 0 x\n", &cases).unwrap_err().contains("malformed"));
}

#[test]
fn arena_estimate_reuses_dead_tensors() {
    let m = TensorKey::Model;
    let step = |reads: Vec<TensorKey>, out: u16, bytes: usize| Step {
        reads,
        writes: Some((m(out), bytes)),
    };
    // input(100) -> t1(200) -> t2(50) -> t3(200): t3 can take t1's place.
    let steps = [
        step(vec![m(0)], 1, 200),
        step(vec![m(1)], 2, 50),
        step(vec![m(2)], 3, 200),
    ];
    assert_eq!(tflm_arena((m(0), 100), &steps), 300);
    // Keeping the input alive to the end forbids reusing its bytes.
    let mut long = steps.to_vec();
    long.push(Step {
        reads: vec![m(0), m(3)],
        writes: None,
    });
    assert_eq!(tflm_arena((m(0), 100), &long), 100 + 200 + 50);
}

#[test]
fn table_and_ratio_line_format() {
    let rows = [
        Row {
            op: "0".into(),
            kind: "Conv2d".into(),
            shape: "64x64x3 -> 64x64x16 k3s1".into(),
            macs: 1000,
            ours: Some(4000),
            cmsis: Some(5000),
            exact: "yes".into(),
        },
        Row {
            op: "38-39".into(),
            kind: "heads (f32)".into(),
            shape: format!("{} -> {LANDMARK_COUNT} landmarks", 2 * LANDMARK_COUNT),
            macs: 0,
            ours: Some(300),
            cmsis: None,
            exact: "n.a.".into(),
        },
    ];
    let text = table(&rows);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("firmware-core") && lines[0].ends_with("bit-exact"));
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..4], ["0", "Conv2d", "64x64x3", "->"]);
    assert_eq!(
        cells[cells.len() - 6..],
        ["4000", "4.00", "5000", "5.00", "0.80", "yes"]
    );
    assert!(lines[2].contains("  -  ") && lines[2].ends_with("n.a."), "{}", lines[2]);
    let line = ratio_line(
        Pair { ours: 80, cmsis: 100 },
        Pair { ours: 3, cmsis: 2 },
        Pair { ours: 1, cmsis: 0 },
    );
    assert_eq!(
        line,
        "firmware-core/CMSIS-NN instructions: conv 0.80, concat+1x1 1.50, whole network 0.00"
    );
}

#[test]
fn missing_cmsis_nn_sources_are_a_clear_error() {
    let err = locate_cmsis_nn(Path::new("/nonexistent/repo"), None).unwrap_err();
    assert!(
        err.contains("CMSIS-NN sources not found at /nonexistent/repo/../shared/peers/cmsis-nn"),
        "{err}"
    );
    assert!(err.contains(CMSIS_NN_ENV), "{err}");
    let err = locate_cmsis_nn(Path::new("/"), Some("/nonexistent/cmsis".into())).unwrap_err();
    assert!(err.contains("at /nonexistent/cmsis ($SMN_CMSIS_NN_DIR)"), "{err}");
}
