//! Simulated devices (host side, feature `sim`): place a blob in a flash
//! budget and the arena in a RAM budget, run inference with the same code
//! the firmware runs, and estimate latency from a cycles-per-MAC figure.
//!
//! ## Where the latency figures come from
//! `cargo xtask firmware` runs the `micro` SMN test model on an emulated
//! Cortex-M4 (QEMU `mps2-an386`, `-icount shift=0`) and counts executed
//! instructions. [`M4_INSTRUCTIONS_PER_MAC`] is that count divided by the
//! model's MACs (it covers all ops, pooling and heads included). Cycles per
//! MAC then assume a cycles-per-instruction figure for each core
//! ([`DeviceProfile::cycles_per_instruction`]): 1.3 on Cortex-M4 (2-cycle
//! loads and taken branches, zero-wait-state memory), 0.75 on the dual-issue
//! Cortex-M7, and 1.3 for the ESP32-S3's Xtensa LX7 (a different ISA: treat
//! that estimate as ±50 %). These are estimates, not measurements of silicon.
use crate::{Error, Model, Outputs};
use core::fmt;
use std::vec::Vec;

/// Instructions per MAC of the whole `micro` SMN forward pass on Cortex-M4,
/// measured under QEMU by `cargo xtask firmware` (which prints the current
/// measurement next to this constant).
pub const M4_INSTRUCTIONS_PER_MAC: f64 = 3.965;

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
    /// RAM kept for the stack, the image buffer's neighbours and the application.
    pub ram_reserved_bytes: usize,
    /// Flash kept for the engine code and the application.
    pub flash_reserved_bytes: usize,
}

impl DeviceProfile {
    /// Estimated cycles per MAC for this core.
    pub fn cycles_per_mac(&self) -> f64 {
        M4_INSTRUCTIONS_PER_MAC * self.cycles_per_instruction
    }
}

/// STM32F4-class Cortex-M4F: 192 KiB RAM, 1 MiB flash, 168 MHz.
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
    /// Arena + input image + model struct + reserve exceed the device's RAM.
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
                "model does not fit the RAM of {device}: needs {needed} bytes (arena + image + model + reserved), device has {available}"
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
    /// Arena + input image + model struct bytes in RAM.
    pub ram_used: usize,
    /// Of which: the arena.
    pub arena_bytes: usize,
    /// Estimated cycles: `macs × cycles_per_mac`.
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

/// Bytes of RAM a loaded model needs besides the arena: the `Model` struct
/// (tensor table) and the RGB input image buffer.
pub fn ram_needed(model: &Model<'_>) -> usize {
    model.arena_bytes() + model.input_len() + core::mem::size_of::<Model<'static>>()
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
        let estimated_cycles = model.macs() as f64 * self.profile.cycles_per_mac();
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
