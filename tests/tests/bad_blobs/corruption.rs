//! The reference blob, truncation and corruption of the whole blob, random edits.
use smn_firmware_core::builder::Rng;
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{
    Bytes, Clamp, Op, Quant, FORMAT_VERSION, INPUT_LUT_LEN, MIN_FORMAT_VERSION, PREAMBLE_LEN,
};
use smn_firmware_core::{Error, Model};
use smn_tests::blob_edit::*;

#[test]
fn tiny_layout_is_what_these_tests_assume() {
    let p = decode(tiny());
    assert_eq!(
        (p.header.input.height, p.header.input.width, p.header.input.channels),
        (16, 16, 3)
    );
    assert_eq!(p.tensors.len(), 20);
    let names: Vec<&str> = p.ops.iter().map(Op::name).collect();
    let branch = [
        "Conv2d",
        "MaxPool2d",
        "ConcatConv1x1",
        "Conv2d",
        "MaxPool2d",
        "ConcatConv1x1",
    ];
    let mut want = vec!["Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d"];
    for _ in 0..2 {
        want.extend(branch);
        want.extend(["FullyConnected", "FullyConnected"]);
    }
    want.extend(["LandmarkHead", "AttributeHead"]);
    assert_eq!(names, want);
    // Each non-head op i writes tensor i + 1.
    for (i, op) in p.ops.iter().enumerate().take(20) {
        assert_eq!(op.output(), Some(i as u16 + 1), "op {i}");
    }
    assert_eq!(p.ops[20].inputs(), (12, None));
    assert_eq!(p.ops[21].inputs(), (20, None));
    assert_eq!(p.ops[6].inputs(), (6, Some(2)));
    assert_eq!(p.ops[9].inputs(), (9, Some(4)));
}

#[test]
fn decode_and_reencode_round_trips_exactly() {
    let p = decode(tiny());
    assert_eq!(seal(&payload(&p)), tiny());
    assert_eq!(build(|_| {}), tiny());
    let model = Model::from_bytes(tiny()).unwrap();
    run_checked(&model, 1);
}

// ---------------------------------------------------------------------------
// Truncation and corruption of the whole blob
// ---------------------------------------------------------------------------

#[test]
fn truncation_at_every_length_is_rejected() {
    let blob = tiny();
    let declared = (blob.len() - PREAMBLE_LEN) as u32;
    for len in 0..blob.len() {
        let expected = if len < PREAMBLE_LEN {
            Error::TooShort { len }
        } else {
            Error::PayloadLength {
                declared,
                actual: len - PREAMBLE_LEN,
            }
        };
        assert_eq!(
            Model::from_bytes(&blob[..len]).err(),
            Some(expected),
            "truncated to {len} bytes"
        );
    }
    // Padded by one byte, too.
    let mut padded = blob.to_vec();
    padded.push(0);
    assert_eq!(
        Model::from_bytes(&padded).err(),
        Some(Error::PayloadLength {
            declared,
            actual: declared as usize + 1
        })
    );
}

/// Truncated payloads under a correct preamble: the record the cut falls in
/// (or the first missing one) fails to decode.
#[test]
fn truncated_payload_with_a_valid_preamble_names_the_cut_record() {
    let p = decode(tiny());
    let recs = records(&p);
    let full = payload(&p);
    let mut end = 0;
    let mut cut_in = Vec::new(); // (first byte, end, section)
    for (section, bytes) in &recs {
        cut_in.push((end, end + bytes.len(), *section));
        end += bytes.len();
    }
    assert_eq!(end, full.len());
    for len in 0..full.len() {
        let (_, _, section) = *cut_in
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&len))
            .unwrap();
        let blob = seal(&full[..len]);
        assert_eq!(
            Model::from_bytes(&blob).err(),
            Some(Error::Decode { section }),
            "payload cut to {len} bytes"
        );
    }
}

#[test]
fn every_single_byte_flip_is_rejected() {
    let blob = tiny();
    let payload_len = blob.len() - PREAMBLE_LEN;
    let stored = crc32(&blob[PREAMBLE_LEN..]);
    for pos in 0..blob.len() {
        for mask in [0xFFu8, 0x01] {
            let mut bad = blob.to_vec();
            bad[pos] ^= mask;
            let found = u16::from_le_bytes([bad[4], bad[5]]);
            if (4..6).contains(&pos) && (MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&found) {
                // Another version this build reads (3 → 2): the payload is
                // intact and this build reads every op under any version
                // it supports, so it loads.
                assert!(Model::from_bytes(&bad).is_ok(), "byte {pos} ^ {mask:#04x}");
                continue;
            }
            let expected = match pos {
                0..4 => Error::BadMagic,
                4..6 => Error::UnsupportedVersion { found },
                6..8 => Error::ReservedBytes,
                8..12 => Error::PayloadLength {
                    declared: u32::from_le_bytes(bad[8..12].try_into().unwrap()),
                    actual: payload_len,
                },
                12..16 => Error::CrcMismatch {
                    stored: u32::from_le_bytes(bad[12..16].try_into().unwrap()),
                    computed: stored,
                },
                _ => {
                    let computed = crc32(&bad[PREAMBLE_LEN..]);
                    assert_ne!(computed, stored, "CRC-32 must detect a single-byte error");
                    Error::CrcMismatch { stored, computed }
                }
            };
            assert_eq!(
                Model::from_bytes(&bad).err(),
                Some(expected),
                "byte {pos} ^ {mask:#04x}"
            );
        }
    }
}

#[test]
fn random_multi_byte_corruption_is_rejected() {
    let blob = tiny();
    let mut rng = Rng::new(0xC0FFEE);
    let mut payload_hits = 0;
    for case in 0..4_000 {
        let mut bad = blob.to_vec();
        let flips = 2 + rng.below(15) as usize;
        // Half the cases keep the corruption in the payload, half anywhere.
        let lo = if case % 2 == 0 { PREAMBLE_LEN } else { 0 };
        for _ in 0..flips {
            let pos = lo + rng.below((bad.len() - lo) as u64) as usize;
            bad[pos] ^= 1 + rng.below(255) as u8;
        }
        if bad == blob {
            continue; // two flips of one byte cancelled out
        }
        let expected = preamble_error(&bad);
        let got = Model::from_bytes(&bad).err();
        match expected {
            Some(e) => assert_eq!(got, Some(e), "case {case}"),
            // Only if the corruption collides with the CRC (p ≈ 2^-32).
            None => panic!("case {case}: corruption left a matching CRC; pick another seed"),
        }
        payload_hits += usize::from(matches!(got, Some(Error::CrcMismatch { .. })));
    }
    assert!(payload_hits > 2_000, "{payload_hits}");
}

/// Random byte edits of the payload under a re-computed CRC: whatever
/// validates must run, and nothing may panic.
#[test]
fn resealed_random_payload_corruption_never_panics() {
    let full = &tiny()[PREAMBLE_LEN..];
    let mut rng = Rng::new(env_or("BAD_BLOBS_SEED", 77));
    let (mut ok, mut err) = (0, 0);
    for case in 0..env_or("BAD_BLOBS_CASES", 3_000) {
        let mut payload = full.to_vec();
        match rng.below(4) {
            // Scattered byte changes.
            0 | 1 => {
                for _ in 0..1 + rng.below(8) {
                    let pos = rng.below(payload.len() as u64) as usize;
                    payload[pos] = rng.next_u64() as u8;
                }
            }
            // A random window overwritten.
            2 => {
                let start = rng.below(payload.len() as u64) as usize;
                let end = (start + 1 + rng.below(64) as usize).min(payload.len());
                payload[start..end].iter_mut().for_each(|b| *b = rng.next_u64() as u8);
            }
            // Bytes inserted or removed.
            _ => {
                let pos = rng.below(payload.len() as u64) as usize;
                if rng.below(2) == 0 {
                    payload.insert(pos, rng.next_u64() as u8);
                } else {
                    payload.remove(pos);
                }
            }
        }
        if validate_and_run(&seal(&payload), case) {
            ok += 1;
        } else {
            err += 1;
        }
    }
    // Weight and bias bytes are free to change, so some edits stay valid.
    assert!(ok > 100 && err > 1_000, "ok {ok}, err {err}");
}

/// Structure-aware mutations (ids, shapes, offsets, windows, clamps, byte
/// strings, op order) under a correct CRC: whatever validates must run with
/// outputs that do not depend on the arena's initial contents.
#[test]
fn random_structural_edits_never_panic_and_valid_results_run() {
    let mut rng = Rng::new(env_or("BAD_BLOBS_SEED", 2024));
    let (mut ok, mut err) = (0, 0);
    for case in 0..env_or("BAD_BLOBS_CASES", 3_000) {
        let blob = build(|p| {
            for _ in 0..1 + rng.below(3) {
                mutate(p, &mut rng);
            }
        });
        if validate_and_run(&blob, case) {
            ok += 1;
        } else {
            err += 1;
        }
    }
    assert!(ok > 50 && err > 1_000, "ok {ok}, err {err}");
}

fn small_or_any_u16(rng: &mut Rng) -> u16 {
    match rng.below(4) {
        0 => rng.next_u64() as u16,
        1 => [0, 1, u16::MAX, u16::MAX - 1][rng.below(4) as usize],
        _ => rng.below(24) as u16,
    }
}

fn mutate(p: &mut Parts, rng: &mut Rng) {
    let n_ops = p.ops.len();
    let n_tensors = p.tensors.len() + 1;
    let arena = p.header.arena_bytes;
    match rng.below(10) {
        0 => {
            let t = tensor(p, rng.below(n_tensors as u64) as usize);
            match rng.below(3) {
                0 => t.height = small_or_any_u16(rng),
                1 => t.width = small_or_any_u16(rng),
                _ => t.channels = small_or_any_u16(rng),
            }
        }
        1 => {
            let t = tensor(p, rng.below(n_tensors as u64) as usize);
            t.offset = match rng.below(3) {
                0 => rng.next_u64() as u32,
                _ => rng.below(u64::from(arena) + 64) as u32,
            };
        }
        2 => {
            let t = tensor(p, rng.below(n_tensors as u64) as usize);
            t.quant = Quant {
                scale: [0.0, -1.0, f32::NAN, f32::INFINITY, 1e-45, 0.5, t.quant.scale][rng.below(7) as usize],
                zero_point: rng.next_u64() as i8,
            };
        }
        3 => p.header.arena_bytes = (i64::from(arena) + rng.range(-64, 4096)).max(0) as u32,
        4 => {
            let i = rng.below(n_ops as u64) as usize;
            let id = small_or_any_u16(rng);
            match &mut p.ops[i] {
                Op::Conv2d(c) | Op::Conv2dMaxPool(c) => *[&mut c.input, &mut c.output][rng.below(2) as usize] = id,
                Op::ConcatConv1x1(c) => *[&mut c.input_a, &mut c.input_b, &mut c.output][rng.below(3) as usize] = id,
                Op::MaxPool2d(c) | Op::AvgPool2d(c) => *[&mut c.input, &mut c.output][rng.below(2) as usize] = id,
                Op::GlobalAvgPool(c) => c.input = id,
                Op::FullyConnected(c) => *[&mut c.input, &mut c.output][rng.below(2) as usize] = id,
                Op::LandmarkHead(h) => h.input = id,
                Op::AttributeHead(h) => h.input = id,
            }
        }
        5 => {
            let i = rng.below(n_ops as u64) as usize;
            let v = match rng.below(3) {
                0 => rng.next_u64() as u8,
                _ => rng.below(5) as u8,
            };
            let w = match &mut p.ops[i] {
                Op::Conv2d(c) => &mut c.window,
                Op::MaxPool2d(c) | Op::AvgPool2d(c) => &mut c.window,
                _ => return,
            };
            let field = [
                &mut w.kernel_h,
                &mut w.kernel_w,
                &mut w.stride_h,
                &mut w.stride_w,
                &mut w.pad_top,
                &mut w.pad_bottom,
                &mut w.pad_left,
                &mut w.pad_right,
            ];
            *field.into_iter().nth(rng.below(8) as usize).unwrap() = v;
        }
        6 => {
            let i = rng.below(n_ops as u64) as usize;
            let clamp = Clamp {
                min: rng.next_u64() as i8,
                max: rng.next_u64() as i8,
            };
            match &mut p.ops[i] {
                Op::Conv2d(c) => c.clamp = clamp,
                Op::ConcatConv1x1(c) => c.clamp = clamp,
                Op::FullyConnected(c) => c.clamp = clamp,
                Op::MaxPool2d(_) => p.ops[i] = Op::AvgPool2d(*pool(p, i)),
                Op::AvgPool2d(_) => p.ops[i] = Op::MaxPool2d(*pool(p, i)),
                _ => {}
            }
        }
        7 => {
            // One byte string: resized, or one element set to an edge value.
            let i = rng.below(n_ops as u64) as usize;
            let mut strings: Vec<&mut Bytes<'static>> = match &mut p.ops[i] {
                Op::Conv2d(c) => vec![
                    &mut c.weights,
                    &mut c.bias,
                    &mut c.requant.multipliers,
                    &mut c.requant.shifts,
                ],
                Op::ConcatConv1x1(c) => vec![
                    &mut c.weights,
                    &mut c.bias,
                    &mut c.requant_a.multipliers,
                    &mut c.requant_a.shifts,
                    &mut c.requant_b.multipliers,
                    &mut c.requant_b.shifts,
                ],
                Op::FullyConnected(c) => {
                    vec![
                        &mut c.weights,
                        &mut c.bias,
                        &mut c.requant.multipliers,
                        &mut c.requant.shifts,
                    ]
                }
                _ => return,
            };
            let k = rng.below(strings.len() as u64) as usize;
            let b = &mut *strings[k];
            if b.0.is_empty() || rng.below(3) == 0 {
                let len = (b.0.len() as i64 + rng.range(-4, 4)).max(0) as usize;
                *b = resized(*b, len);
            } else {
                let at = rng.below(b.0.len() as u64) as usize;
                let v = [0x00, 0x7F, 0x80, 0x81, 0xFF, 0x1E, 0x1F, 0xE1, 0xE0][rng.below(9) as usize];
                *b = with_byte(*b, at, v);
            }
        }
        8 => {
            let (i, j) = (rng.below(n_ops as u64) as usize, rng.below(n_ops as u64) as usize);
            match rng.below(3) {
                0 => p.ops.swap(i, j),
                1 => {
                    p.ops.remove(i);
                }
                _ => p.ops.insert(j, p.ops[i]),
            }
        }
        _ => {
            let i = rng.below(n_ops as u64) as usize;
            if let Op::LandmarkHead(h) = &mut p.ops[i] {
                h.x_scale = [f32::NAN, f32::INFINITY, -0.0, 1e38][rng.below(4) as usize];
            } else {
                p.header.input_lut = resized(p.header.input_lut, INPUT_LUT_LEN + rng.below(3) as usize - 1);
            }
        }
    }
}

/// 2,000 random byte strings, half of them under a valid preamble and CRC.
#[test]
fn random_byte_strings_are_rejected() {
    let mut rng = Rng::new(99);
    let mut past_preamble = 0;
    for case in 0..2_000 {
        let len = rng.below(4097) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if case % 2 == 0 {
            let got = Model::from_bytes(&bytes).err();
            assert_eq!(got, preamble_error(&bytes), "case {case}");
            assert!(got.is_some(), "case {case}");
        } else {
            let blob = seal(&bytes[..len.saturating_sub(PREAMBLE_LEN)]);
            let got = Model::from_bytes(&blob)
                .err()
                .unwrap_or_else(|| panic!("case {case}: random payload validated"));
            assert!(!is_preamble_error(&got), "case {case}: {got:?}");
            past_preamble += 1;
        }
    }
    assert_eq!(past_preamble, 1_000);
}
