//! # smn-firmware-ffi
//!
//! The C ABI of [`smn_firmware_core`]: a `#![no_std]`, allocation-free,
//! panic-free static library (`libsmn_firmware_ffi.a`) for C firmware
//! (STM32Cube, Zephyr, ESP-IDF, MCUXpresso, …), with the header
//! `include/smn.h` generated from this crate by cbindgen
//! (`cargo xtask ffi-header`; CI fails when the committed header is stale).
//!
//! * [`smn_model_init`] validates a model blob in place (it stays in flash
//!   and must outlive the model) into caller-allocated [`smn_model`] storage.
//! * [`smn_run`] runs the network on a model-sized RGB image;
//!   [`smn_run_frame`] crops a face box out of a camera frame (RGB565,
//!   RGB888 or 8-bit grey, any stride), resizes it in fixed point and maps
//!   the landmarks back to frame pixels.
//! * Every entry point returns an [`smn_status`]: null pointers, overlapping
//!   buffers, short buffers, bad frames and boxes, and every way a blob can
//!   fail validation have their own code; [`smn_status_str`] names it.
//!
//! On a bare-metal target the panic handler calls an undefined symbol, so
//! a firmware that links this library *and* keeps a panic path fails to
//! link (`cargo xtask c-firmware` proves it for the Cortex-M4 build).
#![no_std]
#![allow(non_camel_case_types)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

// Hosted targets (a desktop build of the C library, the Rust tests): std
// supplies the panic handler.
#[cfg(not(target_os = "none"))]
extern crate std;

mod api;
mod buffers;
mod status;
mod types;

pub use api::*;
pub use status::{smn_status, smn_status_str};
pub use types::*;

/// Bare metal: a reachable panic is a link error, not a run-time event.
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn smn_firmware_ffi_has_a_reachable_panic_path() -> !;
    }
    // SAFETY: the symbol does not exist: linking fails if this is reachable.
    unsafe { smn_firmware_ffi_has_a_reachable_panic_path() }
}
