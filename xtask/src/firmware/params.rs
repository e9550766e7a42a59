//! Fixed parameters of the firmware check, shared by the flow and the report.

/// Seed of the random model and of the synthetic image (any value works; a
/// fixed one keeps the firmware build cached between runs).
pub const SEED: u64 = 0x534d_4e5f_4657_0001;
/// The firmware's Rust target (Cortex-M4F).
pub(crate) const TARGET: &str = "thumbv7em-none-eabihf";

/// Target of the firmware without `dsp`: a Cortex-M3 (Armv7-M, no DSP
/// extension, no FPU), run on QEMU's Cortex-M3 board.
pub(crate) const PORTABLE_TARGET: &str = "thumbv7m-none-eabi";
