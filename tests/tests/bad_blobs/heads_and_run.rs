//! Heads, and running validated models.
use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, Rng, SmnShape};
use smn_firmware_core::format::{AttributeHead, Clamp, Op, Quant};
use smn_firmware_core::{Error, Model, ATTRIBUTE_COUNT, LANDMARK_COUNT};
use smn_tests::blob_edit::*;

#[test]
fn head_count_is_checked() {
    rejects(Error::HeadCount, |p| {
        p.ops.remove(20);
    });
    rejects(Error::HeadCount, |p| {
        p.ops.remove(21);
    });
    rejects(Error::HeadCount, |p| {
        p.ops.push(Op::AttributeHead(AttributeHead { input: 20 }))
    });
    rejects(Error::HeadCount, |p| p.ops.push(p.ops[20]));
    rejects(Error::HeadCount, |p| {
        p.ops[20] = Op::AttributeHead(AttributeHead { input: 20 })
    });
}

#[test]
fn head_sizes_are_checked() {
    rejects(
        Error::HeadSize {
            op: 20,
            expected: 2 * LANDMARK_COUNT,
            found: ATTRIBUTE_COUNT,
        },
        |p| landmark(p, 20).input = 20,
    );
    rejects(
        Error::HeadSize {
            op: 20,
            expected: 2 * LANDMARK_COUNT,
            found: 768,
        },
        |p| landmark(p, 20).input = 0,
    );
    rejects(
        Error::HeadSize {
            op: 21,
            expected: ATTRIBUTE_COUNT,
            found: 2 * LANDMARK_COUNT,
        },
        |p| p.ops[21] = Op::AttributeHead(AttributeHead { input: 12 }),
    );
    rejects(
        Error::HeadSize {
            op: 21,
            expected: ATTRIBUTE_COUNT,
            found: 8,
        },
        |p| p.ops[21] = Op::AttributeHead(AttributeHead { input: 19 }),
    );
    // Same count, other shape (2×5 instead of 1×1×10): the count is what matters,
    // but op 11 (fully connected) then needs a 1×1 output.
    rejects(Error::ShapeMismatch { op: 11 }, |p| {
        let t = tensor(p, 12);
        (t.height, t.channels) = (2, LANDMARK_COUNT as u16);
    });
}

#[test]
fn non_finite_or_absurd_head_parameters_are_rejected() {
    rejects(Error::InvalidHead { op: 20 }, |p| landmark(p, 20).x_scale = f32::NAN);
    rejects(Error::InvalidHead { op: 20 }, |p| {
        landmark(p, 20).y_offset = f32::INFINITY
    });
    rejects(Error::InvalidHead { op: 20 }, |p| {
        landmark(p, 20).x_offset = f32::NEG_INFINITY
    });
    rejects(Error::InvalidHead { op: 20 }, |p| landmark(p, 20).x_scale = -1e30);
    rejects(Error::InvalidHead { op: 20 }, |p| landmark(p, 20).y_scale = 1.5e6);
    accepts(|p| landmark(p, 20).x_scale = -1e6);
    accepts(|p| landmark(p, 20).y_offset = 999_999.0);
}

// ---------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------

#[test]
fn run_rejects_a_wrong_image_size() {
    let model = Model::from_bytes(tiny()).unwrap();
    let expected = 16 * 16 * 3;
    let mut arena = vec![0u8; model.arena_bytes()];
    for found in [0, 1, expected - 1, expected + 1, expected * 2] {
        let image = vec![128u8; found];
        assert_eq!(
            model.run(&image, &mut arena).err(),
            Some(Error::InputSize { expected, found })
        );
    }
}

#[test]
fn run_rejects_a_short_arena() {
    let model = Model::from_bytes(tiny()).unwrap();
    let needed = model.arena_bytes();
    let image = synthetic_test_image(16, 16, 1);
    for found in [0, 1, needed - 1] {
        let mut arena = vec![0u8; found];
        assert_eq!(
            model.run(&image, &mut arena).err(),
            Some(Error::ArenaTooSmall { needed, found })
        );
    }
    // The exact size and a larger arena give the same outputs.
    let exact = model.run(&image, &mut vec![0u8; needed]).unwrap();
    let larger = model.run(&image, &mut vec![0x55u8; needed + 4096]).unwrap();
    assert_eq!(exact, larger);
}

#[test]
fn valid_models_run_on_random_images() {
    let odd = SmnShape {
        input_height: 12,
        input_width: 20,
        channels: vec![3, 4, 5],
        hidden: 3,
        fused_pool: false,
        lean_schedule: false,
        one_scale_concat: false,
    };
    let nano = SmnShape {
        input_height: 8,
        input_width: 8,
        channels: vec![2],
        hidden: 2,
        fused_pool: false,
        lean_schedule: false,
        one_scale_concat: true,
    };
    let mut cases: Vec<(SmnShape, u64)> = (0..40).map(|seed| (SmnShape::tiny(), seed)).collect();
    cases.extend((0..10).map(|seed| (odd.clone(), seed)));
    cases.extend((0..10).map(|seed| (nano.clone(), seed)));
    cases.extend((0..2).map(|seed| (SmnShape::micro(), seed)));
    let mut rng = Rng::new(5);
    for (shape, seed) in cases {
        let blob = random_smn_blob(&shape, seed).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let mut arena = vec![0u8; model.arena_bytes()];
        let mut previous = None;
        for _ in 0..3 {
            let image: Vec<u8> = (0..model.input_len()).map(|_| rng.next_u64() as u8).collect();
            let out = model
                .run(&image, &mut arena)
                .unwrap_or_else(|e| panic!("{shape:?} seed {seed}: {e}"));
            check_outputs(&out, true);
            // Deterministic: the same image again (arena now dirty) gives the same result.
            assert_eq!(model.run(&image, &mut arena).unwrap(), out);
            previous = Some(out);
        }
        assert!(previous.is_some());
        // All-black and all-white images too.
        for v in [0u8, 255] {
            check_outputs(&model.run(&vec![v; model.input_len()], &mut arena).unwrap(), true);
        }
    }
}

/// Engine bug found by the fuzzer (`fuzz/`, target `from_bytes_run`): the
/// attribute head's sigmoid calls micromath's `exp` on `-logit`; for
/// `-logit` in about [88.72, 89.42) micromath computes a binary exponent of
/// exactly 128, which it neither maps to infinity (it checks `> 128`) nor can
/// encode. With debug assertions that is a panic (`assertion failed: exponent
/// <= 127 && exponent >= -128`, micromath-2.1.0 src/float.rs:199); in release
/// builds the "probability" is NaN.
///
/// Reproducer: the tiny SMN with every attribute logit clamped to q = −128
/// and an attribute scale of 89/128, so each logit is exactly −89.0 (a
/// validated model: finite positive scale, min ≤ max clamp).
#[test]
fn attribute_probabilities_stay_in_range_for_logits_near_minus_89() {
    let blob = build(|p| {
        fc(p, 19).clamp = Clamp { min: -128, max: -128 };
        tensor(p, 20).quant = Quant {
            scale: 89.0 / 128.0,
            zero_point: 0,
        };
    });
    let model = Model::from_bytes(&blob).expect("a valid model");
    let image = synthetic_test_image(16, 16, 1);
    let out = model.run(&image, &mut vec![0u8; model.arena_bytes()]).unwrap();
    assert_eq!(out.attribute_logits_q, [-128; ATTRIBUTE_COUNT]);
    for p in out.attribute_probs {
        // σ(−89) ≈ 2.2e−39.
        assert!((0.0..1e-30).contains(&p), "σ(−89) gave {p}");
    }
    assert_eq!(out.attribute_flags, [false; ATTRIBUTE_COUNT]);
}
