//! `Model::from_bytes` on arbitrary bytes; every model that validates is run.
//!
//! Each input is tried twice:
//! 1. as is — exercises the preamble checks (magic, version, length, CRC);
//! 2. re-sealed — bytes 16.. become the payload under a correct preamble
//!    (magic, version 1, length, CRC-32), so mutations reach the postcard
//!    decoder, the validator and, when they validate, the kernels. Without
//!    this almost every mutation would stop at the CRC check.
//!
//! Validation promises that `run` on a validated model with a right-sized
//! image and arena cannot fail, so anything but `Ok` is reported as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smn_firmware_core::builder::synthetic_test_image;
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{Preamble, FORMAT_VERSION, PREAMBLE_LEN};
use smn_firmware_core::Model;

/// Largest arena / input image the target allocates (bigger models are only validated).
const MAX_BYTES: usize = 4 << 20;
/// Largest forward pass the target runs (keeps executions fast).
const MAX_MACS: u64 = 20_000_000;

fn check(blob: &[u8]) {
    let Ok(model) = Model::from_bytes(blob) else { return };
    if model.arena_bytes() > MAX_BYTES || model.input_len() > MAX_BYTES || model.macs() > MAX_MACS {
        return;
    }
    let image = synthetic_test_image(model.input_height(), model.input_width(), blob.len() as u64);
    let mut arena = vec![0u8; model.arena_bytes()];
    if let Err(e) = model.run(&image, &mut arena) {
        panic!("validated model failed to run: {e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(payload) = data.get(PREAMBLE_LEN..) {
        let Ok(payload_len) = u32::try_from(payload.len()) else {
            return;
        };
        let preamble = Preamble {
            version: FORMAT_VERSION,
            payload_len,
            crc32: crc32(payload),
        };
        let mut sealed = preamble.to_bytes().to_vec();
        sealed.extend_from_slice(payload);
        check(&sealed);
    }
});
