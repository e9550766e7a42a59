//! Preamble fields under a correct CRC, and the header.
use smn_firmware_core::format::{Bytes, FORMAT_VERSION, INPUT_LUT_LEN, MAGIC, MAX_OPS, MAX_TENSORS, PREAMBLE_LEN};
use smn_firmware_core::{Error, Model, Section};
use smn_tests::blob_edit::*;
use smn_tests::seal_version;

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
