//! Op parameters: weights, biases, requantisation, accumulator bounds.
use smn_firmware_core::format::{
    AttributeHead, Bytes, Clamp, FullyConnected, LandmarkHead, Op, Quant, Requant, TensorDesc,
};
use smn_firmware_core::{Error, Model, ATTRIBUTE_COUNT, LANDMARK_COUNT};
use smn_tests::blob_edit::*;

#[test]
fn weight_minus_128_is_rejected() {
    rejects(Error::WeightOutOfRange { op: 0 }, |p| {
        conv(p, 0).weights = with_byte(conv(p, 0).weights, 5, 0x80)
    });
    rejects(Error::WeightOutOfRange { op: 14 }, |p| {
        concat(p, 14).weights = with_byte(concat(p, 14).weights, 0, 0x80)
    });
    rejects(Error::WeightOutOfRange { op: 19 }, |p| {
        let w = fc(p, 19).weights;
        fc(p, 19).weights = with_byte(w, w.0.len() - 1, 0x80);
    });
    // ±127 are fine.
    accepts(|p| conv(p, 0).weights = leak(vec![0x81; conv(p, 0).weights.0.len()]));
    accepts(|p| fc(p, 19).weights = leak(vec![127; fc(p, 19).weights.0.len()]));
}

#[test]
fn wrong_weight_lengths_are_rejected() {
    rejects(Error::WeightsLength { op: 0 }, |p| {
        conv(p, 0).weights = resized(conv(p, 0).weights, 4 * 27 - 1)
    });
    rejects(Error::WeightsLength { op: 0 }, |p| {
        conv(p, 0).weights = resized(conv(p, 0).weights, 4 * 27 + 1)
    });
    // Concat weights cover both inputs: out_c × (c_a + c_b), not out_c × c_a.
    rejects(Error::WeightsLength { op: 6 }, |p| {
        concat(p, 6).weights = resized(concat(p, 6).weights, 4 * 4)
    });
    rejects(Error::WeightsLength { op: 10 }, |p| fc(p, 10).weights = Bytes(&[]));
}

#[test]
fn wrong_bias_lengths_are_rejected() {
    rejects(Error::BiasLength { op: 0 }, |p| {
        conv(p, 0).bias = resized(conv(p, 0).bias, 12)
    });
    rejects(Error::BiasLength { op: 0 }, |p| {
        conv(p, 0).bias = resized(conv(p, 0).bias, 17)
    });
    rejects(Error::BiasLength { op: 6 }, |p| concat(p, 6).bias = Bytes(&[]));
    rejects(Error::BiasLength { op: 11 }, |p| {
        fc(p, 11).bias = resized(fc(p, 11).bias, 44)
    });
}

#[test]
fn one_scale_concat_fields_are_checked() {
    // Op 6 of the tiny SMN: concat(own 4, shared 4) → 4 channels at 8×8.
    let model = Model::from_bytes(tiny_one_scale()).expect("the one-scale tiny SMN validates");
    run_checked(&model, 3);
    // `requant_b` is empty (one scale) or has an entry per output channel.
    let bad = build_from(tiny_one_scale(), |p| concat(p, 6).requant_b.shifts = leak(vec![0; 3]));
    assert_eq!(Model::from_bytes(&bad).err(), Some(Error::RequantLength { op: 6 }));
    // One accumulator over c_a + c_b = 8 terms: a bias within the two-scale
    // bound (c_a = 4 terms in the bias's accumulator) overflows here.
    let bias = i32::MAX - 4 * 255 * 127;
    let set_bias = |p: &mut Parts| concat(p, 6).bias = with_i32(concat(p, 6).bias, 0, bias);
    let bad = build_from(tiny_one_scale(), set_bias);
    assert_eq!(
        Model::from_bytes(&bad).err(),
        Some(Error::AccumulatorOverflow { op: 6 })
    );
    accepts(set_bias);
}

#[test]
fn wrong_requant_lengths_are_rejected() {
    rejects(Error::RequantLength { op: 0 }, |p| {
        let r = &mut conv(p, 0).requant;
        r.multipliers = resized(r.multipliers, 12);
    });
    rejects(Error::RequantLength { op: 0 }, |p| {
        let r = &mut conv(p, 0).requant;
        r.shifts = resized(r.shifts, 5);
    });
    rejects(Error::RequantLength { op: 9 }, |p| {
        let r = &mut concat(p, 9).requant_b;
        r.shifts = resized(r.shifts, 7);
    });
    rejects(Error::RequantLength { op: 9 }, |p| {
        let r = &mut concat(p, 9).requant_a;
        r.multipliers = resized(r.multipliers, 33);
    });
    rejects(Error::RequantLength { op: 18 }, |p| {
        fc(p, 18).requant = Requant {
            multipliers: Bytes(&[]),
            shifts: Bytes(&[]),
        }
    });
}

#[test]
fn invalid_requant_values_are_rejected() {
    for shift in [31i8, -32, 127, -128] {
        rejects(Error::InvalidRequant { op: 0 }, |p| {
            let r = &mut conv(p, 0).requant;
            r.shifts = with_byte(r.shifts, 3, shift as u8);
        });
        rejects(Error::InvalidRequant { op: 19 }, |p| {
            let r = &mut fc(p, 19).requant;
            r.shifts = with_byte(r.shifts, 39, shift as u8);
        });
    }
    for multiplier in [-1, i32::MIN] {
        rejects(Error::InvalidRequant { op: 0 }, |p| {
            let r = &mut conv(p, 0).requant;
            r.multipliers = with_i32(r.multipliers, 0, multiplier);
        });
        rejects(Error::InvalidRequant { op: 6 }, |p| {
            let r = &mut concat(p, 6).requant_b;
            r.multipliers = with_i32(r.multipliers, 3, multiplier);
        });
    }
    // The ends of the valid ranges are accepted and run.
    for shift in [30i8, -31] {
        accepts(|p| {
            let r = &mut conv(p, 0).requant;
            r.shifts = leak(vec![shift as u8; 4]);
            r.multipliers = with_i32(r.multipliers, 1, i32::MAX);
            r.multipliers = with_i32(r.multipliers, 2, 0);
        });
    }
}

#[test]
fn accumulator_overflow_is_rejected() {
    // op 0: 3×3×3 = 27 taps of at most 255 · 127 each.
    let bound = i32::MAX - 27 * 255 * 127;
    rejects(Error::AccumulatorOverflow { op: 0 }, |p| {
        conv(p, 0).bias = with_i32(conv(p, 0).bias, 2, bound + 1)
    });
    rejects(Error::AccumulatorOverflow { op: 0 }, |p| {
        conv(p, 0).bias = with_i32(conv(p, 0).bias, 2, -(bound + 1))
    });
    rejects(Error::AccumulatorOverflow { op: 0 }, |p| {
        conv(p, 0).bias = with_i32(conv(p, 0).bias, 0, i32::MIN)
    });
    accepts(|p| conv(p, 0).bias = with_i32(conv(p, 0).bias, 2, bound));
    accepts(|p| conv(p, 0).bias = with_i32(conv(p, 0).bias, 1, -bound));
    rejects(Error::AccumulatorOverflow { op: 6 }, |p| {
        concat(p, 6).bias = with_i32(concat(p, 6).bias, 0, i32::MAX)
    });
    rejects(Error::AccumulatorOverflow { op: 10 }, |p| {
        fc(p, 10).bias = with_i32(fc(p, 10).bias, 7, i32::MIN + 1)
    });
}

/// A model made of two fully connected layers on the input, so the number of
/// accumulated terms (`h × w × 3`) is set by the input size.
fn fc_only(height: u16, width: u16) -> Vec<u8> {
    build(|p| {
        let n_in = usize::from(height) * usize::from(width) * 3;
        p.header.input.height = height;
        p.header.input.width = width;
        p.header.input.offset = 0;
        let quant = Quant {
            scale: 0.05,
            zero_point: 0,
        };
        let out = |channels, offset| TensorDesc {
            height: 1,
            width: 1,
            channels,
            quant,
            offset,
        };
        let (lm, attrs) = (2 * LANDMARK_COUNT as u16, ATTRIBUTE_COUNT as u16);
        p.tensors = vec![out(lm, n_in as u32), out(attrs, n_in as u32 + u32::from(lm))];
        p.header.arena_bytes = n_in as u32 + u32::from(lm + attrs);
        let layer = |output: u16, n_out: usize| {
            Op::FullyConnected(FullyConnected {
                input: 0,
                output,
                weights: leak((0..n_out * n_in).map(|i| [127u8, 0x81, 3][i % 3]).collect()),
                bias: leak(vec![0; 4 * n_out]),
                requant: Requant {
                    multipliers: leak((0..n_out).flat_map(|_| (1i32 << 30).to_le_bytes()).collect()),
                    shifts: leak(vec![(-20i8) as u8; n_out]),
                },
                clamp: Clamp { min: -128, max: 127 },
            })
        };
        p.ops = vec![
            layer(1, 2 * LANDMARK_COUNT),
            layer(2, ATTRIBUTE_COUNT),
            Op::LandmarkHead(LandmarkHead {
                input: 1,
                x_scale: 1.0,
                x_offset: 0.0,
                y_scale: 1.0,
                y_offset: 0.0,
            }),
            Op::AttributeHead(AttributeHead { input: 2 }),
        ];
    })
}

#[test]
fn accumulator_bound_follows_the_number_of_terms() {
    // i32::MAX / (255 · 127) = 66311.3: 148·148·3 = 65712 terms fit, 150·150·3 = 67500 do not.
    let ok = fc_only(148, 148);
    let model = Model::from_bytes(&ok).expect("65712 terms fit in i32");
    run_checked(&model, 5);
    let bad = fc_only(150, 150);
    assert_eq!(
        Model::from_bytes(&bad).err(),
        Some(Error::AccumulatorOverflow { op: 0 })
    );
}
