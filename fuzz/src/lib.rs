//! Helpers shared by the fuzz targets: reading parameters out of the fuzz
//! input and the tiny SMN blob that accepted inputs run through.
use smn_firmware_core::builder::{random_smn_blob, SmnShape};
use std::sync::OnceLock;

/// The random-weight tiny SMN blob (16×16 input), built once.
pub fn tiny_blob() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| random_smn_blob(&SmnShape::tiny(), 3).unwrap_or_default())
}

/// Little-endian `u16` at byte `i` of `d` (missing bytes read as 0).
pub fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([byte(d, i), byte(d, i + 1)])
}

/// Little-endian `i32` at byte `i` of `d` (missing bytes read as 0).
pub fn i32_at(d: &[u8], i: usize) -> i32 {
    i32::from_le_bytes([byte(d, i), byte(d, i + 1), byte(d, i + 2), byte(d, i + 3)])
}

/// Byte `i` of `d`, or 0.
pub fn byte(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}
