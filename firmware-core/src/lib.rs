//! # smn-firmware-core
//!
//! A `#![no_std]`, allocation-free int8 inference engine for *Separation
//! Multi-task Networks* (SMN): one CNN that estimates 5 facial landmarks and
//! 40 binary CelebA attributes.
//!
//! * [`Model::from_bytes`] validates a model blob (see [`format`]) **in place**:
//!   weights and biases are read straight from the `&[u8]` (flash), with no copy
//!   and no alignment assumption. Every offset, size, shape and op order is
//!   checked once, at load; arbitrary bytes give an [`Error`], never a panic.
//! * [`Model::run`] converts an RGB `u8` image to int8, runs the fixed-point
//!   kernels in a caller-given arena of [`Model::arena_bytes`] bytes and returns
//!   [`Outputs`]: landmark pixel coordinates and attribute probabilities/flags.
//!
//! The integer arithmetic follows `docs/int8-spec.md`; each kernel lives in its
//! own module under [`kernels`] with a bit-exact reference test.
//!
//! ```ignore
//! static BLOB: &[u8] = include_bytes!("model.bin");
//! static mut ARENA: [u8; 96 * 1024] = [0; 96 * 1024];
//! let model = smn_firmware_core::Model::from_bytes(BLOB)?;
//! let out = model.run(&image_rgb, arena)?;
//! let nose = out.landmarks[2];
//! ```
#![no_std]
// `unsafe` appears only in `kernels::dsp` (register-only inline assembly).
#![deny(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::needless_range_loop,
        clippy::single_range_in_vec_init,
        clippy::unnecessary_cast
    )
)]
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

#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(any(test, feature = "builder"))]
extern crate alloc;

mod arena;
pub mod crc32;
mod error;
pub mod format;
pub mod frame;
pub mod kernel_cases;
pub mod kernels;
pub mod limits;
mod model;
mod ops;
mod outputs;
pub mod rng;
mod run;
mod run_frame;
pub mod transcript;
mod validate;

#[cfg(feature = "builder")]
pub mod builder;
#[cfg(feature = "sim")]
pub mod sim;

pub use error::{Error, Section};
pub use model::Model;
pub use ops::OpIter;
pub use outputs::{OpTrace, Outputs, ATTRIBUTE_COUNT, LANDMARK_COUNT};
