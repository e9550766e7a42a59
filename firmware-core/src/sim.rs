//! Simulated devices (host side, feature `sim`): place a blob in a flash
//! budget and the arena in a RAM budget, run inference with the same code
//! the firmware runs, and estimate latency from a cycles-per-MAC figure.
//!
//! ## Where the latency figures come from
//! `cargo xtask firmware` runs the `micro` SMN test model on an emulated
//! Cortex-M4 (QEMU `mps2-an386`, `-icount shift=0`) and counts executed
//! instructions per op type. [`M4_OP_RATES`] holds those counts per unit of
//! work ([`op_work`]: MACs for MAC ops, input values for pooling, one per
//! head), and a model's estimate is the sum over its ops
//! ([`OpRates::instructions`]); `cargo xtask firmware` prints the measured
//! rates next to these constants. Cycles then assume a
//! cycles-per-instruction figure for each core
//! ([`DeviceProfile::cycles_per_instruction`]): 1.3 on Cortex-M4 (2-cycle
//! loads and taken branches, zero-wait-state memory), 0.75 on the dual-issue
//! Cortex-M7, and 1.3 for the ESP32-S3's Xtensa LX7 (a different ISA: treat
//! that estimate as ±50 %). These are estimates, not measurements of silicon.
use crate::format::Op;
use crate::{Error, Model, Outputs};
use core::fmt;
use std::vec::Vec;

/// Instructions per MAC of the whole `micro` SMN forward pass on Cortex-M4
/// (`dsp`), measured under QEMU by `cargo xtask firmware` (which prints the
/// current measurement next to this constant): a one-number summary; the
/// estimates use the per-op-type [`M4_OP_RATES`].
pub const M4_INSTRUCTIONS_PER_MAC: f64 = 1.493;

/// Cortex-M4 instructions per unit of [`op_work`], per op type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpRates {
    /// `Conv2d`, per MAC.
    pub conv2d_per_mac: f64,
    /// `Conv2dMaxPool`, per MAC.
    pub conv2d_max_pool_per_mac: f64,
    /// `ConcatConv1x1`, per MAC.
    pub concat_conv1x1_per_mac: f64,
    /// `FullyConnected`, per MAC.
    pub fully_connected_per_mac: f64,
    /// `MaxPool2d`, `AvgPool2d`, `GlobalAvgPool`, per input value.
    pub pool_per_input: f64,
    /// `LandmarkHead`, `AttributeHead` (f32), per head.
    pub head: f64,
}

/// Measured by `cargo xtask firmware` (QEMU, `dsp`, micro model; the input
/// conversion is charged to the first op): `Conv2dMaxPool`,
/// `ConcatConv1x1`, `FullyConnected` and the heads on the fused micro model;
/// `Conv2d` and `MaxPool2d` on the same model built with separate conv and
/// pool ops (`SmnShape { fused_pool: false, .. }`; measured with the
/// 2026-12-04 kernels, before the block tiles, so `Conv2d` is a high
/// estimate); average pooling is not in either and is assumed to cost what
/// max pooling does. The others: 2026-12-07, one-scale concats.
pub const M4_OP_RATES: OpRates = OpRates {
    conv2d_per_mac: 2.41,
    conv2d_max_pool_per_mac: 1.444,
    concat_conv1x1_per_mac: 2.010,
    fully_connected_per_mac: 2.373,
    pool_per_input: 10.55,
    head: 2400.0,
};

/// Units of work of `op` that [`OpRates`] count: MACs for MAC ops, input
/// values for pooling, 1 for a head.
pub fn op_work(model: &Model<'_>, op: &Op<'_>) -> u64 {
    match op {
        Op::Conv2d(_) | Op::Conv2dMaxPool(_) | Op::ConcatConv1x1(_) | Op::FullyConnected(_) => model.op_macs(op),
        Op::MaxPool2d(p) | Op::AvgPool2d(p) => input_values(model, p.input),
        Op::GlobalAvgPool(p) => input_values(model, p.input),
        Op::LandmarkHead(_) | Op::AttributeHead(_) => 1,
    }
}

fn input_values(model: &Model<'_>, id: u16) -> u64 {
    model
        .tensor(usize::from(id))
        .map_or(0, |t| u64::from(t.height) * u64::from(t.width) * u64::from(t.channels))
}

impl OpRates {
    /// Instructions per unit of [`op_work`] of `op`'s type.
    pub fn rate(&self, op: &Op<'_>) -> f64 {
        match op {
            Op::Conv2d(_) => self.conv2d_per_mac,
            Op::Conv2dMaxPool(_) => self.conv2d_max_pool_per_mac,
            Op::ConcatConv1x1(_) => self.concat_conv1x1_per_mac,
            Op::FullyConnected(_) => self.fully_connected_per_mac,
            Op::MaxPool2d(_) | Op::AvgPool2d(_) | Op::GlobalAvgPool(_) => self.pool_per_input,
            Op::LandmarkHead(_) | Op::AttributeHead(_) => self.head,
        }
    }

    /// Estimated instructions of one forward pass of `model`.
    pub fn instructions(&self, model: &Model<'_>) -> f64 {
        model
            .ops()
            .filter_map(Result::ok)
            .map(|op| self.rate(&op) * op_work(model, &op) as f64)
            .sum()
    }
}

/// A microcontroller class: memory budgets and speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceProfile {
    /// Short name used on the command line (`cortex-m4`, …).
    pub name: &'static str,
    /// What the profile stands for.
    pub description: &'static str,
    /// On-chip RAM in bytes.
    pub ram_bytes: usize,
    /// Flash in bytes.
    pub flash_bytes: usize,
    /// Core clock in Hz.
    pub clock_hz: u64,
    /// Assumed cycles per executed (Cortex-M4-equivalent) instruction.
    pub cycles_per_instruction: f64,
    /// RAM kept for the application: everything beyond [`ram_needed`] (its own
    /// data and stack on top of the engine's).
    pub ram_reserved_bytes: usize,
    /// Flash kept for the engine code and the application.
    pub flash_reserved_bytes: usize,
}

impl DeviceProfile {
    /// Estimated cycles per MAC for this core (the micro model's average).
    pub fn cycles_per_mac(&self) -> f64 {
        M4_INSTRUCTIONS_PER_MAC * self.cycles_per_instruction
    }

    /// Estimated cycles of one forward pass of `model` ([`M4_OP_RATES`] per op).
    pub fn estimated_cycles(&self, model: &Model<'_>) -> f64 {
        M4_OP_RATES.instructions(model) * self.cycles_per_instruction
    }

    /// Estimated seconds of one forward pass of `model` at this core's clock.
    pub fn estimated_seconds(&self, model: &Model<'_>) -> f64 {
        self.estimated_cycles(model) / self.clock_hz as f64
    }
}

/// STM32F4-class Cortex-M4F: 192 KiB RAM, 1 MiB flash, 168 MHz.
///
/// The one definition of the Cortex-M4 budget: the QEMU firmware's
/// `tests/firmware/memory.x` states the same lengths, and `cargo xtask
/// firmware` checks that it does before building.
pub const CORTEX_M4: DeviceProfile = DeviceProfile {
    name: "cortex-m4",
    description: "STM32F4-class Cortex-M4F",
    ram_bytes: 192 * 1024,
    flash_bytes: 1024 * 1024,
    clock_hz: 168_000_000,
    cycles_per_instruction: 1.3,
    ram_reserved_bytes: 8 * 1024,
    flash_reserved_bytes: 64 * 1024,
};

/// STM32H7-class Cortex-M7: 1 MiB RAM, 2 MiB flash, 480 MHz.
pub const CORTEX_M7: DeviceProfile = DeviceProfile {
    name: "cortex-m7",
    description: "STM32H7-class Cortex-M7",
    ram_bytes: 1024 * 1024,
    flash_bytes: 2 * 1024 * 1024,
    clock_hz: 480_000_000,
    cycles_per_instruction: 0.75,
    ram_reserved_bytes: 8 * 1024,
    flash_reserved_bytes: 64 * 1024,
};

/// ESP32-S3-class: 512 KiB RAM, 8 MiB flash, 240 MHz.
pub const ESP32_S3: DeviceProfile = DeviceProfile {
    name: "esp32-s3",
    description: "ESP32-S3-class Xtensa LX7",
    ram_bytes: 512 * 1024,
    flash_bytes: 8 * 1024 * 1024,
    clock_hz: 240_000_000,
    cycles_per_instruction: 1.3,
    ram_reserved_bytes: 8 * 1024,
    flash_reserved_bytes: 64 * 1024,
};

/// All built-in profiles.
pub const PROFILES: [DeviceProfile; 3] = [CORTEX_M4, CORTEX_M7, ESP32_S3];

/// Looks a profile up by name.
pub fn profile(name: &str) -> Option<DeviceProfile> {
    PROFILES.iter().copied().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Why a simulated run failed.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// Blob + reserved flash exceed the device's flash.
    FlashTooSmall {
        /// Device name.
        device: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// [`ram_needed`] (arena + input image + model struct + engine stack) +
    /// reserve exceed the device's RAM.
    RamTooSmall {
        /// Device name.
        device: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The engine refused the blob or the input.
    Model(Error),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::FlashTooSmall { device, needed, available } => write!(
                f,
                "model does not fit the flash of {device}: needs {needed} bytes (blob + reserved), device has {available}"
            ),
            SimError::RamTooSmall { device, needed, available } => write!(
                f,
                "model does not fit the RAM of {device}: needs {needed} bytes (arena + image + model + engine stack + reserved), device has {available}"
            ),
            SimError::Model(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SimError {}

impl From<Error> for SimError {
    fn from(e: Error) -> Self {
        SimError::Model(e)
    }
}

/// Memory and speed of one simulated inference.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// The device.
    pub device: DeviceProfile,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Blob bytes in flash.
    pub flash_used: usize,
    /// RAM the model needs ([`ram_needed`]: arena, input image, `Model`, engine stack).
    pub ram_used: usize,
    /// Of which: the arena.
    pub arena_bytes: usize,
    /// Estimated cycles ([`DeviceProfile::estimated_cycles`]).
    pub estimated_cycles: f64,
    /// Estimated latency in seconds at the device clock.
    pub estimated_seconds: f64,
    /// The inference result.
    pub outputs: Outputs,
}

/// A device with a flash budget holding one blob and a RAM budget.
#[derive(Clone, Debug)]
pub struct SimulatedDevice {
    profile: DeviceProfile,
    flash: Vec<u8>,
}

/// Stack that [`Model::run`] itself needs: 22,744 B measured on the
/// Cortex-M4 (`cargo xtask firmware`, 2026-12-07, painted-stack high-water
/// mark of the whole firmware; 8 KiB of it the kernels' patch scratch,
/// 1.5 KiB a block of decoded channel parameters, 1 KiB the tile sums of a
/// block), rounded up with some margin.
pub const ENGINE_STACK_BYTES: usize = 24 * 1024;

/// Bytes of RAM a loaded model needs, not counting the device's
/// [`DeviceProfile::ram_reserved_bytes`]: the arena
/// ([`Model::arena_bytes`]), the RGB input image buffer
/// ([`Model::input_len`]), `size_of::<Model>()` and the engine's stack
/// ([`ENGINE_STACK_BYTES`], a fixed figure, not measured per model).
///
/// `size_of::<Model>()` is the same for every model: its tensor table is a
/// fixed-capacity vector with room for [`crate::format::MAX_TENSORS`]
/// entries, whatever number of tensors this model has.
pub fn ram_needed(model: &Model<'_>) -> usize {
    model.arena_bytes() + model.input_len() + core::mem::size_of::<Model<'static>>() + ENGINE_STACK_BYTES
}

impl SimulatedDevice {
    /// An empty device.
    pub fn new(profile: DeviceProfile) -> Self {
        SimulatedDevice {
            profile,
            flash: Vec::new(),
        }
    }

    /// The device profile.
    pub fn profile(&self) -> &DeviceProfile {
        &self.profile
    }

    /// Writes `blob` to flash after checking the budget and validating it.
    pub fn flash(&mut self, blob: &[u8]) -> Result<(), SimError> {
        let needed = blob.len() + self.profile.flash_reserved_bytes;
        if needed > self.profile.flash_bytes {
            return Err(SimError::FlashTooSmall {
                device: self.profile.name,
                needed,
                available: self.profile.flash_bytes,
            });
        }
        Model::from_bytes(blob)?;
        self.flash = blob.to_vec();
        Ok(())
    }

    /// Runs the flashed model on an RGB image inside the RAM budget.
    pub fn infer(&self, image_rgb: &[u8]) -> Result<SimReport, SimError> {
        let model = Model::from_bytes(&self.flash)?;
        let ram_used = ram_needed(&model);
        let needed = ram_used + self.profile.ram_reserved_bytes;
        if needed > self.profile.ram_bytes {
            return Err(SimError::RamTooSmall {
                device: self.profile.name,
                needed,
                available: self.profile.ram_bytes,
            });
        }
        // The arena is exactly what the firmware would reserve: nothing more.
        let mut arena = std::vec![0u8; model.arena_bytes()];
        let outputs = model.run(image_rgb, &mut arena)?;
        let estimated_cycles = self.profile.estimated_cycles(&model);
        Ok(SimReport {
            device: self.profile,
            macs: model.macs(),
            flash_used: self.flash.len(),
            ram_used,
            arena_bytes: model.arena_bytes(),
            estimated_cycles,
            estimated_seconds: estimated_cycles / self.profile.clock_hz as f64,
            outputs,
        })
    }
}
