//! Malformed model blobs: every one must give a specific `Err` from
//! `Model::from_bytes` (never `Ok`, never a panic), and every blob that does
//! validate must run.
//!
//! Structural tests decode a valid tiny SMN blob into its records (header,
//! tensor table, ops), edit one field, re-encode with postcard and re-seal the
//! preamble (length + CRC-32), so that each check is reached on its own.
//!
//! Layout of the tiny SMN (`SmnShape::tiny()`, seed 1) that the tests rely on
//! (asserted by `tiny_layout_is_what_these_tests_assume`):
//!
//! ```text
//! t0 16×16×3 input
//! op0  Conv2d   t0 → t1 16×16×4      op1  MaxPool t1 → t2 8×8×4   (shared level 1)
//! op2  Conv2d   t2 → t3 8×8×8        op3  MaxPool t3 → t4 4×4×8   (shared level 2)
//! op4  Conv2d   t0 → t5   op5 MaxPool t5 → t6   op6 ConcatConv1x1 (t6, t2) → t7
//! op7  Conv2d   t7 → t8   op8 MaxPool t8 → t9   op9 ConcatConv1x1 (t9, t4) → t10
//! op10 FullyConnected t10 → t11 (8)   op11 FullyConnected t11 → t12 (10)
//! op12..op19: the same for the attribute branch, t13..t20 (t20: 40 values)
//! op20 LandmarkHead t12              op21 AttributeHead t20
//! ```
use std::sync::OnceLock;

use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, Rng, SmnShape};
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{
    AttributeHead, Bytes, Clamp, ConcatConv1x1, Conv2d, FullyConnected, Header, LandmarkHead, Op, Pool2d, Quant,
    Requant, TensorDesc, FORMAT_VERSION, INPUT_LUT_LEN, MAGIC, MAX_OPS, MAX_TENSORS, MIN_FORMAT_VERSION, PREAMBLE_LEN,
};
use smn_firmware_core::{Error, Model, Outputs, Section, ATTRIBUTE_COUNT, LANDMARK_COUNT};
use smn_tests::seal_version;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The valid tiny SMN blob every test starts from.
fn tiny() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| random_smn_blob(&SmnShape::tiny(), 1).expect("the tiny SMN builds"))
}

/// The records of a blob payload. Byte strings borrow the static tiny blob or
/// leaked test vectors (see [`leak`]).
#[derive(Clone, Debug)]
struct Parts {
    header: Header<'static>,
    tensors: Vec<TensorDesc>,
    ops: Vec<Op<'static>>,
}

fn decode(blob: &'static [u8]) -> Parts {
    let payload = &blob[PREAMBLE_LEN..];
    let (header, mut rest) = postcard::take_from_bytes::<Header<'static>>(payload).expect("header decodes");
    let mut tensors = Vec::new();
    for _ in 0..header.tensor_count {
        let (t, after) = postcard::take_from_bytes::<TensorDesc>(rest).expect("tensor decodes");
        tensors.push(t);
        rest = after;
    }
    let mut ops = Vec::new();
    for _ in 0..header.op_count {
        let (op, after) = postcard::take_from_bytes::<Op<'static>>(rest).expect("op decodes");
        ops.push(op);
        rest = after;
    }
    assert!(rest.is_empty(), "no trailing bytes in the reference blob");
    Parts { header, tensors, ops }
}

/// Postcard encoding of each record, in order: header, tensors, ops.
fn records(p: &Parts) -> Vec<(Section, Vec<u8>)> {
    let mut out = vec![(Section::Header, postcard::to_allocvec(&p.header).unwrap())];
    for (i, t) in p.tensors.iter().enumerate() {
        out.push((Section::Tensor(i as u16 + 1), postcard::to_allocvec(t).unwrap()));
    }
    for (i, op) in p.ops.iter().enumerate() {
        out.push((Section::Op(i as u16), postcard::to_allocvec(op).unwrap()));
    }
    out
}

/// The payload, with the header counts exactly as they are in `p`.
fn payload(p: &Parts) -> Vec<u8> {
    records(p).into_iter().flat_map(|(_, bytes)| bytes).collect()
}

/// Preamble (magic, current version, length, CRC-32) + `payload`.
fn seal(payload: &[u8]) -> Vec<u8> {
    seal_version(payload, FORMAT_VERSION)
}

/// Decodes the tiny blob, applies `edit`, sets the header counts from the
/// table and op list, re-encodes and re-seals.
fn build(edit: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut p = decode(tiny());
    edit(&mut p);
    p.header.tensor_count = p.tensors.len() as u16;
    p.header.op_count = p.ops.len() as u16;
    seal(&payload(&p))
}

/// Like [`build`] but keeps whatever counts `edit` left in the header.
fn build_raw(edit: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut p = decode(tiny());
    edit(&mut p);
    seal(&payload(&p))
}

/// Asserts that the edited tiny blob is rejected with exactly `expected`.
#[track_caller]
fn rejects(expected: Error, edit: impl FnOnce(&mut Parts)) {
    let blob = build(edit);
    assert_eq!(Model::from_bytes(&blob).err(), Some(expected));
}

/// Asserts that the edited tiny blob validates and runs (positive controls).
#[track_caller]
fn accepts(edit: impl FnOnce(&mut Parts)) {
    let blob = build(edit);
    let model = Model::from_bytes(&blob).expect("edited blob should validate");
    run_checked(&model, 3);
}

/// Bytes that live for the rest of the test process.
fn leak(v: Vec<u8>) -> Bytes<'static> {
    Bytes(Vec::leak(v))
}

fn with_byte(b: Bytes<'static>, at: usize, value: u8) -> Bytes<'static> {
    let mut v = b.0.to_vec();
    v[at] = value;
    leak(v)
}

fn with_i32(b: Bytes<'static>, index: usize, value: i32) -> Bytes<'static> {
    let mut v = b.0.to_vec();
    v[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
    leak(v)
}

fn resized(b: Bytes<'static>, len: usize) -> Bytes<'static> {
    let mut v = b.0.to_vec();
    v.resize(len, 1);
    leak(v)
}

fn conv(p: &mut Parts, i: usize) -> &mut Conv2d<'static> {
    match &mut p.ops[i] {
        Op::Conv2d(c) => c,
        other => panic!("op {i} is {}, not Conv2d", other.name()),
    }
}

fn concat(p: &mut Parts, i: usize) -> &mut ConcatConv1x1<'static> {
    match &mut p.ops[i] {
        Op::ConcatConv1x1(c) => c,
        other => panic!("op {i} is {}, not ConcatConv1x1", other.name()),
    }
}

fn pool(p: &mut Parts, i: usize) -> &mut Pool2d {
    match &mut p.ops[i] {
        Op::MaxPool2d(c) | Op::AvgPool2d(c) => c,
        other => panic!("op {i} is {}, not a pool", other.name()),
    }
}

fn fc(p: &mut Parts, i: usize) -> &mut FullyConnected<'static> {
    match &mut p.ops[i] {
        Op::FullyConnected(c) => c,
        other => panic!("op {i} is {}, not FullyConnected", other.name()),
    }
}

fn landmark(p: &mut Parts, i: usize) -> &mut LandmarkHead {
    match &mut p.ops[i] {
        Op::LandmarkHead(c) => c,
        other => panic!("op {i} is {}, not LandmarkHead", other.name()),
    }
}

/// Tensor `id` (0 is the header's input).
fn tensor(p: &mut Parts, id: usize) -> &mut TensorDesc {
    if id == 0 {
        &mut p.header.input
    } else {
        &mut p.tensors[id - 1]
    }
}

/// Runs `model` on a few images with garbage-filled and zeroed arenas; all
/// must succeed and agree (validation guarantees no tensor is read before it
/// is written, so the arena's initial contents must not matter).
#[track_caller]
fn run_checked(model: &Model<'_>, seed: u64) -> Outputs {
    let image = synthetic_test_image(model.input_height(), model.input_width(), seed);
    let mut zeroed = vec![0u8; model.arena_bytes()];
    let first = model.run(&image, &mut zeroed).expect("a validated model runs");
    let mut rng = Rng::new(seed);
    let mut garbage: Vec<u8> = (0..model.arena_bytes()).map(|_| rng.next_u64() as u8).collect();
    let second = model.run(&image, &mut garbage).expect("a validated model runs");
    assert_eq!(first, second, "outputs depend on the arena's initial contents");
    check_outputs(&first, false);
    first
}

/// Output sanity. Landmarks are `real · x_scale + x_offset` in `f32` with
/// finite (validated) head parameters: never NaN, but a huge finite scale
/// (an edited blob) may overflow to ±inf, so only builder models are held
/// to finite landmarks.
#[track_caller]
fn check_outputs(out: &Outputs, finite_landmarks: bool) {
    assert!(out.landmarks.iter().flatten().all(|v| !v.is_nan()), "{out:?}");
    if finite_landmarks {
        assert!(out.landmarks.iter().flatten().all(|v| v.is_finite()), "{out:?}");
    }
    for ((&p, &flag), &q) in out
        .attribute_probs
        .iter()
        .zip(&out.attribute_flags)
        .zip(&out.attribute_logits_q)
    {
        assert!((0.0..=1.0).contains(&p), "probability {p} (logit q {q})");
        assert!(
            if flag { p >= 0.5 } else { p <= 0.5 },
            "flag {flag} but probability {p}"
        );
    }
}

/// The error the preamble checks must give, by `format.rs`'s layout and the
/// documented order (length, magic, version, reserved, payload length, CRC);
/// `None` if the preamble is fine.
fn preamble_error(blob: &[u8]) -> Option<Error> {
    if blob.len() < PREAMBLE_LEN {
        return Some(Error::TooShort { len: blob.len() });
    }
    if blob[0..4] != MAGIC {
        return Some(Error::BadMagic);
    }
    let version = u16::from_le_bytes([blob[4], blob[5]]);
    if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Some(Error::UnsupportedVersion { found: version });
    }
    if blob[6..8] != [0, 0] {
        return Some(Error::ReservedBytes);
    }
    let declared = u32::from_le_bytes(blob[8..12].try_into().unwrap());
    let actual = blob.len() - PREAMBLE_LEN;
    if declared as usize != actual {
        return Some(Error::PayloadLength { declared, actual });
    }
    let stored = u32::from_le_bytes(blob[12..16].try_into().unwrap());
    let computed = crc32(&blob[PREAMBLE_LEN..]);
    if stored != computed {
        return Some(Error::CrcMismatch { stored, computed });
    }
    None
}

fn is_preamble_error(e: &Error) -> bool {
    matches!(
        e,
        Error::TooShort { .. }
            | Error::BadMagic
            | Error::UnsupportedVersion { .. }
            | Error::ReservedBytes
            | Error::PayloadLength { .. }
            | Error::CrcMismatch { .. }
    )
}

/// `BAD_BLOBS_SEED` / `BAD_BLOBS_CASES` let the random-edit tests run longer
/// or elsewhere (`BAD_BLOBS_CASES=300000 cargo test ... random_structural`).
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

/// Validates `blob`; if it is a model, runs it (arena and image capped).
/// Returns whether it validated. Panics (test failure) if a validated model
/// does not run.
fn validate_and_run(blob: &[u8], seed: u64) -> bool {
    match Model::from_bytes(blob) {
        Ok(model) => {
            if model.arena_bytes() <= 1 << 22 && model.input_len() <= 1 << 22 && model.macs() <= 50_000_000 {
                run_checked(&model, seed);
            }
            true
        }
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// The reference blob and the helpers themselves
// ---------------------------------------------------------------------------

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
            let expected = match pos {
                0..4 => Error::BadMagic,
                4..6 => Error::UnsupportedVersion {
                    found: u16::from_le_bytes([bad[4], bad[5]]),
                },
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

// ---------------------------------------------------------------------------
// Preamble fields under a correct CRC
// ---------------------------------------------------------------------------

#[test]
fn wrong_version_is_rejected() {
    let payload = &tiny()[PREAMBLE_LEN..];
    for version in [0u16, FORMAT_VERSION + 1, 0x0100, u16::MAX] {
        let blob = seal_version(payload, version);
        assert_eq!(
            Model::from_bytes(&blob).err(),
            Some(Error::UnsupportedVersion { found: version })
        );
    }
}

#[test]
fn nonzero_reserved_bytes_are_rejected() {
    for (pos, value) in [(6, 1u8), (7, 0x80), (6, 0xFF)] {
        let mut blob = tiny().to_vec();
        blob[pos] = value;
        assert_eq!(Model::from_bytes(&blob).err(), Some(Error::ReservedBytes));
    }
}

#[test]
fn bad_magic_is_rejected_even_with_a_correct_crc() {
    let mut blob = tiny().to_vec();
    blob[0..4].copy_from_slice(b"SMNQ");
    assert_eq!(Model::from_bytes(&blob).err(), Some(Error::BadMagic));
    assert_eq!(Model::from_bytes(&[0u8; 16]).err(), Some(Error::BadMagic));
    assert_eq!(Model::from_bytes(&MAGIC).err(), Some(Error::TooShort { len: 4 }));
}

#[test]
fn trailing_bytes_are_rejected() {
    let full = tiny()[PREAMBLE_LEN..].to_vec();
    for extra in [1usize, 2, 100] {
        let mut payload = full.clone();
        payload.extend(std::iter::repeat_n(0u8, extra));
        assert_eq!(
            Model::from_bytes(&seal(&payload)).err(),
            Some(Error::TrailingBytes { count: extra })
        );
    }
    // One op fewer declared than encoded: the last op is left over.
    let last_op_len = postcard::to_allocvec(&decode(tiny()).ops[21]).unwrap().len();
    let blob = build_raw(|p| p.header.op_count -= 1);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::TrailingBytes { count: last_op_len })
    );
}

#[test]
fn undecodable_records_are_rejected() {
    // One op more declared than encoded.
    let blob = build_raw(|p| p.header.op_count += 1);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::Decode {
            section: Section::Op(22)
        })
    );
    // An unknown op variant (tag 8).
    let mut payload = tiny()[PREAMBLE_LEN..].to_vec();
    payload.extend([8, 0]);
    let mut p = decode(tiny());
    p.header.op_count += 1;
    let header_len = postcard::to_allocvec(&decode(tiny()).header).unwrap().len();
    let mut with_count = postcard::to_allocvec(&p.header).unwrap();
    with_count.extend_from_slice(&payload[header_len..]);
    assert_eq!(
        Model::from_bytes(&seal(&with_count)).err(),
        Some(Error::Decode {
            section: Section::Op(22)
        })
    );
    // Empty payload.
    assert_eq!(
        Model::from_bytes(&seal(&[])).err(),
        Some(Error::Decode {
            section: Section::Header
        })
    );
}

// ---------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------

#[test]
fn too_many_entries_are_rejected() {
    let ops = 22;
    let blob = build_raw(|p| p.header.tensor_count = (MAX_TENSORS - 1) as u16 + 1);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::TooManyEntries {
            tensors: MAX_TENSORS + 1,
            ops
        })
    );
    let blob = build_raw(|p| p.header.tensor_count = u16::MAX);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::TooManyEntries { tensors: 65_536, ops })
    );
    let blob = build_raw(|p| p.header.op_count = MAX_OPS as u16 + 1);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::TooManyEntries {
            tensors: 21,
            ops: MAX_OPS + 1
        })
    );
    let blob = build_raw(|p| p.header.op_count = u16::MAX);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::TooManyEntries {
            tensors: 21,
            ops: 65_535
        })
    );
    // At the limits the count check passes (decoding then fails).
    let blob = build_raw(|p| p.header.op_count = MAX_OPS as u16);
    assert_eq!(
        Model::from_bytes(&blob).err(),
        Some(Error::Decode {
            section: Section::Op(22)
        })
    );
    let blob = build_raw(|p| p.header.tensor_count = (MAX_TENSORS - 1) as u16);
    let got = Model::from_bytes(&blob).expect_err("127 declared tensors, 20 present");
    assert!(!matches!(got, Error::TooManyEntries { .. }), "{got:?}");
}

#[test]
fn input_shape_and_lut_length_are_checked() {
    rejects(Error::InputShape, |p| p.header.input.channels = 4);
    rejects(Error::InputShape, |p| p.header.input.channels = 1);
    rejects(Error::InputLutLength, |p| {
        p.header.input_lut = resized(p.header.input_lut, INPUT_LUT_LEN - 1)
    });
    rejects(Error::InputLutLength, |p| {
        p.header.input_lut = resized(p.header.input_lut, INPUT_LUT_LEN + 1)
    });
    rejects(Error::InputLutLength, |p| p.header.input_lut = Bytes(&[]));
}

// ---------------------------------------------------------------------------
// Tensor table
// ---------------------------------------------------------------------------

#[test]
fn empty_tensors_are_rejected() {
    rejects(Error::EmptyTensor { tensor: 3 }, |p| tensor(p, 3).channels = 0);
    rejects(Error::EmptyTensor { tensor: 0 }, |p| tensor(p, 0).height = 0);
    rejects(Error::EmptyTensor { tensor: 20 }, |p| tensor(p, 20).width = 0);
}

#[test]
fn invalid_scales_are_rejected() {
    for scale in [
        0.0f32,
        -0.0,
        -1.0,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        rejects(Error::InvalidScale { tensor: 5 }, |p| tensor(p, 5).quant.scale = scale);
        rejects(Error::InvalidScale { tensor: 0 }, |p| tensor(p, 0).quant.scale = scale);
    }
    // The smallest subnormal is finite and positive (t12 feeds only the landmark head).
    accepts(|p| tensor(p, 12).quant.scale = f32::from_bits(1));
    accepts(|p| tensor(p, 20).quant.scale = f32::MAX);
}

#[test]
fn tensors_outside_the_arena_are_rejected() {
    let p = decode(tiny());
    let arena = p.header.arena_bytes;
    rejects(Error::TensorOutsideArena { tensor: 4 }, |p| tensor(p, 4).offset = arena);
    rejects(Error::TensorOutsideArena { tensor: 4 }, |p| {
        tensor(p, 4).offset = arena - 128 + 1
    });
    rejects(Error::TensorOutsideArena { tensor: 0 }, |p| {
        tensor(p, 0).offset = u32::MAX
    });
    // The first tensor (by id) that ends at the arena's end sticks out of a
    // one byte smaller arena.
    let end = |t: &TensorDesc| u64::from(t.offset) + u64::from(t.height) * u64::from(t.width) * u64::from(t.channels);
    let last = std::iter::once(&p.header.input)
        .chain(&p.tensors)
        .position(|t| end(t) == u64::from(arena))
        .unwrap();
    rejects(Error::TensorOutsideArena { tensor: last as u16 }, |p| {
        p.header.arena_bytes -= 1
    });
    rejects(Error::TensorOutsideArena { tensor: 0 }, |p| p.header.arena_bytes = 0);
    // A larger arena and a tensor moved into the new space are fine.
    accepts(|p| p.header.arena_bytes += 1000);
    accepts(|p| {
        p.header.arena_bytes += 1000;
        tensor(p, 4).offset = arena + 1000 - 128;
    });
}

#[test]
fn huge_dimensions_do_not_overflow() {
    // 65535³ bytes at offset u32::MAX: the end needs 49 bits. On 64-bit hosts
    // it is outside any u32 arena; a 32-bit build reports the overflow.
    let huge = if cfg!(target_pointer_width = "64") {
        Error::TensorOutsideArena { tensor: 1 }
    } else {
        Error::SizeOverflow { tensor: 1 }
    };
    rejects(huge, |p| {
        let t = tensor(p, 1);
        (t.height, t.width, t.channels, t.offset) = (u16::MAX, u16::MAX, u16::MAX, u32::MAX);
    });
    rejects(huge, |p| {
        p.header.arena_bytes = u32::MAX;
        let t = tensor(p, 1);
        (t.height, t.width, t.channels) = (u16::MAX, u16::MAX, u16::MAX);
    });
    // 4 GiB arena, a tensor of exactly u32::MAX bytes ending at its end: every
    // tensor fits, the op walk then finds the shapes do not chain.
    rejects(Error::ShapeMismatch { op: 0 }, |p| {
        p.header.arena_bytes = u32::MAX;
        let t = tensor(p, 1);
        // 65535 · 65537 = 2^32 − 1.
        (t.height, t.width, t.channels, t.offset) = (65_535, 1, 1, 0);
    });
    // A 255×255 kernel (padded to keep 16×16): 195075 taps, more than the
    // kernels' patch buffer (and than an i32 accumulator could take).
    rejects(Error::PatchTooLarge { op: 0 }, |p| set_kernel(conv(p, 0), 255, 255));
}

/// Sets conv `c`'s kernel to `kh × kw` with the padding that keeps the output
/// size (stride 1), and weights of the matching length (±127, alternating).
fn set_kernel(c: &mut Conv2d<'static>, kh: u8, kw: u8) {
    let taps = usize::from(kh) * usize::from(kw) * 3;
    let out_c = c.weights.0.len() / (usize::from(c.window.kernel_h) * usize::from(c.window.kernel_w) * 3);
    c.window.kernel_h = kh;
    c.window.kernel_w = kw;
    c.window.pad_top = kh / 2;
    c.window.pad_bottom = (kh - 1) / 2;
    c.window.pad_left = kw / 2;
    c.window.pad_right = (kw - 1) / 2;
    c.weights = leak((0..out_c * taps).map(|i| [127u8, 0x81][i % 2]).collect());
}

#[test]
fn conv_patch_length_is_limited() {
    use smn_firmware_core::kernels::dot::MAX_PATCH;
    // op 0 reads the 3-channel input: a kh × 26 kernel has kh · 78 taps.
    let kh_max = u8::try_from(MAX_PATCH / (26 * 3)).unwrap();
    accepts(|p| set_kernel(conv(p, 0), kh_max, 26));
    rejects(Error::PatchTooLarge { op: 0 }, |p| {
        set_kernel(conv(p, 0), kh_max + 1, 26)
    });
    accepts(|p| set_kernel(conv(p, 0), 9, 9));
    accepts(|p| set_kernel(conv(p, 0), 1, 1));
    accepts(|p| set_kernel(conv(p, 0), 2, 5));
}

#[cfg(target_pointer_width = "32")]
#[test]
fn size_overflow_on_32_bit() {
    rejects(Error::SizeOverflow { tensor: 2 }, |p| tensor(p, 2).offset = u32::MAX);
}

#[test]
fn overlapping_live_tensors_are_rejected() {
    // s1 (t2, live until op 14 reads it) moved onto t1 (op 1's input, which writes t2).
    let t1 = decode(tiny()).tensors[0].offset;
    rejects(Error::OverlappingTensors { a: 1, b: 2 }, |p| tensor(p, 2).offset = t1);
    // The landmark output t12 (live until the landmark head, op 20) moved
    // onto t13, which the attribute branch writes meanwhile.
    rejects(Error::OverlappingTensors { a: 12, b: 13 }, |p| tensor(p, 12).offset = 0);
    // A concat's output on its own-branch input `a` (t6, read by no later op):
    // exactly in place is allowed (the kernel reads a pixel pair before
    // writing it) and runs; shifted by a byte it is an overlap.
    let t6 = decode(tiny()).tensors[5].offset;
    accepts(|p| tensor(p, 7).offset = t6);
    let shifted = Model::from_bytes(&build(|p| tensor(p, 7).offset = t6 + 1)).err();
    assert!(
        matches!(shifted, Some(Error::OverlappingTensors { b: 7, .. })),
        "{shifted:?}"
    );
    // On its shared input `b` (t2, read again by op 14): never.
    let t2 = decode(tiny()).tensors[1].offset;
    rejects(Error::OverlappingTensors { a: 2, b: 7 }, |p| tensor(p, 7).offset = t2);
    // The input tensor (live until op 12) under op 0's output.
    let t0 = decode(tiny()).header.input.offset;
    rejects(Error::OverlappingTensors { a: 0, b: 1 }, |p| {
        tensor(p, 1).offset = t0 - 1
    });
}

#[test]
fn declared_but_unwritten_tensors_are_rejected() {
    rejects(Error::NeverWritten { tensor: 21 }, |p| {
        let mut extra = p.tensors[0];
        extra.offset = 0;
        p.tensors.push(extra);
    });
}

// ---------------------------------------------------------------------------
// Op graph: ids and order
// ---------------------------------------------------------------------------

#[test]
fn unknown_tensor_ids_are_rejected() {
    rejects(Error::UnknownTensor { op: 0, tensor: 21 }, |p| conv(p, 0).input = 21);
    rejects(Error::UnknownTensor { op: 0, tensor: 21 }, |p| conv(p, 0).output = 21);
    rejects(Error::UnknownTensor { op: 6, tensor: 500 }, |p| {
        concat(p, 6).input_b = 500
    });
    rejects(
        Error::UnknownTensor {
            op: 1,
            tensor: u16::MAX,
        },
        |p| pool(p, 1).output = u16::MAX,
    );
    rejects(
        Error::UnknownTensor {
            op: 20,
            tensor: u16::MAX,
        },
        |p| landmark(p, 20).input = u16::MAX,
    );
    rejects(
        Error::UnknownTensor {
            op: 10,
            tensor: MAX_TENSORS as u16,
        },
        |p| fc(p, 10).input = MAX_TENSORS as u16,
    );
}

#[test]
fn reads_before_writes_are_rejected() {
    rejects(Error::ReadBeforeWrite { op: 0, tensor: 1 }, |p| p.ops.swap(0, 1));
    rejects(Error::ReadBeforeWrite { op: 2, tensor: 5 }, |p| conv(p, 2).input = 5);
    rejects(Error::ReadBeforeWrite { op: 6, tensor: 9 }, |p| {
        concat(p, 6).input_b = 9
    });
    rejects(Error::ReadBeforeWrite { op: 0, tensor: 12 }, |p| {
        let head = p.ops.remove(20);
        p.ops.insert(0, head);
    });
    // An op reading its own output.
    rejects(Error::ReadBeforeWrite { op: 0, tensor: 1 }, |p| conv(p, 0).input = 1);
}

#[test]
fn tensors_written_twice_are_rejected() {
    rejects(Error::WrittenTwice { op: 4, tensor: 1 }, |p| conv(p, 4).output = 1);
    rejects(Error::WrittenTwice { op: 0, tensor: 0 }, |p| conv(p, 0).output = 0);
    rejects(Error::WrittenTwice { op: 1, tensor: 1 }, |p| p.ops.insert(1, p.ops[0]));
    rejects(Error::WrittenTwice { op: 19, tensor: 12 }, |p| fc(p, 19).output = 12);
}

// ---------------------------------------------------------------------------
// Op graph: shapes and windows
// ---------------------------------------------------------------------------

#[test]
fn shapes_that_do_not_chain_are_rejected() {
    rejects(Error::ShapeMismatch { op: 0 }, |p| tensor(p, 1).height = 15);
    rejects(Error::ShapeMismatch { op: 1 }, |p| tensor(p, 2).width = 7);
    rejects(Error::ShapeMismatch { op: 1 }, |p| tensor(p, 2).channels = 5);
    rejects(Error::ShapeMismatch { op: 6 }, |p| tensor(p, 7).width = 7);
    rejects(Error::ShapeMismatch { op: 9 }, |p| concat(p, 9).input_b = 2); // 8×8 next to 4×4
    rejects(Error::ShapeMismatch { op: 10 }, |p| tensor(p, 11).height = 2);
    // A window that fits but gives another size: 5×5 kernel, padding 1.
    rejects(Error::ShapeMismatch { op: 0 }, |p| {
        let w = &mut conv(p, 0).window;
        (w.kernel_h, w.kernel_w) = (5, 5);
    });
    // Pool over the wrong input (4 channels in, 8 out).
    rejects(Error::ShapeMismatch { op: 3 }, |p| pool(p, 3).input = 1);
    // Stride 1 instead of 2: 15 rows out, not 8.
    rejects(Error::ShapeMismatch { op: 1 }, |p| pool(p, 1).window.stride_h = 1);
}

#[test]
fn invalid_windows_are_rejected() {
    rejects(Error::InvalidWindow { op: 0 }, |p| conv(p, 0).window.stride_h = 0);
    rejects(Error::InvalidWindow { op: 0 }, |p| conv(p, 0).window.kernel_w = 0);
    rejects(Error::InvalidWindow { op: 0 }, |p| conv(p, 0).window.pad_top = 3);
    rejects(Error::InvalidWindow { op: 1 }, |p| pool(p, 1).window.pad_right = 2);
    rejects(Error::InvalidWindow { op: 3 }, |p| {
        let w = &mut pool(p, 3).window;
        (w.kernel_h, w.kernel_w) = (255, 255);
    });
    // Padding below the kernel size is valid: 2×2/2 over 16 + 1 columns still gives 8.
    accepts(|p| pool(p, 1).window.pad_right = 1);
    accepts(|p| {
        p.ops[1] = Op::AvgPool2d(*pool(p, 1));
        pool(p, 1).window.pad_left = 1;
    });
}

#[test]
fn invalid_clamps_and_quant_mismatches_are_rejected() {
    rejects(Error::InvalidClamp { op: 0 }, |p| {
        conv(p, 0).clamp = Clamp { min: 5, max: 4 }
    });
    rejects(Error::InvalidClamp { op: 6 }, |p| {
        concat(p, 6).clamp = Clamp { min: 127, max: -128 }
    });
    rejects(Error::InvalidClamp { op: 19 }, |p| {
        fc(p, 19).clamp = Clamp { min: 0, max: -1 }
    });
    accepts(|p| conv(p, 0).clamp = Clamp { min: 7, max: 7 });
    rejects(Error::QuantMismatch { op: 1 }, |p| tensor(p, 2).quant.zero_point = -127);
    rejects(Error::QuantMismatch { op: 1 }, |p| {
        let q = &mut tensor(p, 2).quant;
        q.scale = f32::from_bits(q.scale.to_bits() + 1);
    });
    // Average pooling has the same requirement.
    rejects(Error::QuantMismatch { op: 1 }, |p| {
        p.ops[1] = Op::AvgPool2d(*pool(p, 1));
        tensor(p, 2).quant.zero_point = 0;
    });
    accepts(|p| p.ops[1] = Op::AvgPool2d(*pool(p, 1)));
}

// ---------------------------------------------------------------------------
// Op parameters: weights, biases, requantisation
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Heads
// ---------------------------------------------------------------------------

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
    };
    let nano = SmnShape {
        input_height: 8,
        input_width: 8,
        channels: vec![2],
        hidden: 2,
        fused_pool: false,
        lean_schedule: false,
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
