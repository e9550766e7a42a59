//! Shared helpers for the workspace integration tests.

use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::Preamble;

pub mod blob_edit;

/// A blob: the preamble (magic, `version`, payload length, CRC-32) followed
/// by `payload`.
pub fn seal_version(payload: &[u8], version: u16) -> Vec<u8> {
    let preamble = Preamble {
        version,
        payload_len: payload.len() as u32,
        crc32: crc32(payload),
    };
    let mut blob = preamble.to_bytes().to_vec();
    blob.extend_from_slice(payload);
    blob
}
