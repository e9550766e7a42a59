//! Editing model blobs for the malformed-blob tests (`tests/bad_blobs/`):
//! decode the valid tiny SMN blob into its records (header, tensor table,
//! ops), edit one field, re-encode with postcard and re-seal the preamble
//! (length + CRC-32), plus the checks those tests share.
use std::sync::OnceLock;

use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, Rng, SmnShape};
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{
    Bytes, ConcatConv1x1, Conv2d, FullyConnected, Header, LandmarkHead, Op, Pool2d, TensorDesc, FORMAT_VERSION, MAGIC,
    MIN_FORMAT_VERSION, PREAMBLE_LEN,
};
use smn_firmware_core::{Error, Model, Outputs, Section};

use crate::seal_version;

/// The valid tiny SMN blob every test starts from, with two-scale concats
/// (so the edits below reach every field, `requant_b` included).
pub fn tiny() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| {
        let shape = SmnShape {
            one_scale_concat: false,
            ..SmnShape::tiny()
        };
        random_smn_blob(&shape, 1).expect("the tiny SMN builds")
    })
}

/// The same tiny SMN with one-scale concats (format version 3).
pub fn tiny_one_scale() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| random_smn_blob(&SmnShape::tiny(), 1).expect("the tiny SMN builds"))
}

/// The records of a blob payload. Byte strings borrow the static tiny blob or
/// leaked test vectors (see [`leak`]).
#[derive(Clone, Debug)]
pub struct Parts {
    /// The payload header.
    pub header: Header<'static>,
    /// The tensor table after the header's input (tensor `i + 1` at index `i`).
    pub tensors: Vec<TensorDesc>,
    /// The ops, in order.
    pub ops: Vec<Op<'static>>,
}

/// The records of `blob` (a valid blob without trailing bytes).
pub fn decode(blob: &'static [u8]) -> Parts {
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
pub fn records(p: &Parts) -> Vec<(Section, Vec<u8>)> {
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
pub fn payload(p: &Parts) -> Vec<u8> {
    records(p).into_iter().flat_map(|(_, bytes)| bytes).collect()
}

/// Preamble (magic, current version, length, CRC-32) + `payload`.
pub fn seal(payload: &[u8]) -> Vec<u8> {
    seal_version(payload, FORMAT_VERSION)
}

/// Decodes the tiny blob, applies `edit`, sets the header counts from the
/// table and op list, re-encodes and re-seals.
pub fn build(edit: impl FnOnce(&mut Parts)) -> Vec<u8> {
    build_from(tiny(), edit)
}

/// [`build`] starting from `blob` instead of [`tiny`].
pub fn build_from(blob: &'static [u8], edit: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut p = decode(blob);
    edit(&mut p);
    p.header.tensor_count = p.tensors.len() as u16;
    p.header.op_count = p.ops.len() as u16;
    seal(&payload(&p))
}

/// Like [`build`] but keeps whatever counts `edit` left in the header.
pub fn build_raw(edit: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut p = decode(tiny());
    edit(&mut p);
    seal(&payload(&p))
}

/// Asserts that the edited tiny blob is rejected with exactly `expected`.
#[track_caller]
pub fn rejects(expected: Error, edit: impl FnOnce(&mut Parts)) {
    let blob = build(edit);
    assert_eq!(Model::from_bytes(&blob).err(), Some(expected));
}

/// Asserts that the edited tiny blob validates and runs (positive controls).
#[track_caller]
pub fn accepts(edit: impl FnOnce(&mut Parts)) {
    let blob = build(edit);
    let model = Model::from_bytes(&blob).expect("edited blob should validate");
    run_checked(&model, 3);
}

/// Bytes that live for the rest of the test process.
pub fn leak(v: Vec<u8>) -> Bytes<'static> {
    Bytes(Vec::leak(v))
}

/// `b` with byte `at` set to `value` (leaked).
pub fn with_byte(b: Bytes<'static>, at: usize, value: u8) -> Bytes<'static> {
    let mut v = b.0.to_vec();
    v[at] = value;
    leak(v)
}

/// `b` read as little-endian `i32`s, with entry `index` set to `value` (leaked).
pub fn with_i32(b: Bytes<'static>, index: usize, value: i32) -> Bytes<'static> {
    let mut v = b.0.to_vec();
    v[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
    leak(v)
}

/// `b` truncated or extended (with 1s) to `len` bytes (leaked).
pub fn resized(b: Bytes<'static>, len: usize) -> Bytes<'static> {
    let mut v = b.0.to_vec();
    v.resize(len, 1);
    leak(v)
}

/// Op `i`, which must be a `Conv2d`.
pub fn conv(p: &mut Parts, i: usize) -> &mut Conv2d<'static> {
    match &mut p.ops[i] {
        Op::Conv2d(c) => c,
        other => panic!("op {i} is {}, not Conv2d", other.name()),
    }
}

/// Op `i`, which must be a `ConcatConv1x1`.
pub fn concat(p: &mut Parts, i: usize) -> &mut ConcatConv1x1<'static> {
    match &mut p.ops[i] {
        Op::ConcatConv1x1(c) => c,
        other => panic!("op {i} is {}, not ConcatConv1x1", other.name()),
    }
}

/// Op `i`, which must be a max or average pool.
pub fn pool(p: &mut Parts, i: usize) -> &mut Pool2d {
    match &mut p.ops[i] {
        Op::MaxPool2d(c) | Op::AvgPool2d(c) => c,
        other => panic!("op {i} is {}, not a pool", other.name()),
    }
}

/// Op `i`, which must be a `FullyConnected`.
pub fn fc(p: &mut Parts, i: usize) -> &mut FullyConnected<'static> {
    match &mut p.ops[i] {
        Op::FullyConnected(c) => c,
        other => panic!("op {i} is {}, not FullyConnected", other.name()),
    }
}

/// Op `i`, which must be a `LandmarkHead`.
pub fn landmark(p: &mut Parts, i: usize) -> &mut LandmarkHead {
    match &mut p.ops[i] {
        Op::LandmarkHead(c) => c,
        other => panic!("op {i} is {}, not LandmarkHead", other.name()),
    }
}

/// Tensor `id` (0 is the header's input).
pub fn tensor(p: &mut Parts, id: usize) -> &mut TensorDesc {
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
pub fn run_checked(model: &Model<'_>, seed: u64) -> Outputs {
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
pub fn check_outputs(out: &Outputs, finite_landmarks: bool) {
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
pub fn preamble_error(blob: &[u8]) -> Option<Error> {
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

/// True for the errors the preamble checks give.
pub fn is_preamble_error(e: &Error) -> bool {
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
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

/// Validates `blob`; if it is a model, runs it (arena and image capped).
/// Returns whether it validated. Panics (test failure) if a validated model
/// does not run.
pub fn validate_and_run(blob: &[u8], seed: u64) -> bool {
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
