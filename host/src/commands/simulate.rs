//! `smn simulate`: run an int8 blob on a simulated microcontroller with its
//! flash and RAM budgets and an estimated latency.
use super::blob_file::{read_blob, read_image};
use super::infer::format_outputs;
use super::options::DeviceArg;
use anyhow::Result;
use clap::Args;
use smn_firmware_core::sim::{DeviceProfile, SimulatedDevice, CORTEX_M4};
use smn_firmware_core::Model;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `smn simulate` options.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Model blob (.smnq).
    pub blob: PathBuf,
    /// Device profile.
    #[arg(long, value_enum, default_value_t = DeviceArg(CORTEX_M4))]
    pub device: DeviceArg,
    /// Raw RGB image of the model's input size (default: built-in test image).
    #[arg(long)]
    pub image: Option<PathBuf>,
}

/// Runs `smn simulate`.
pub fn run(args: &SimulateArgs) -> Result<String> {
    simulate(&read_blob(&args.blob)?, args.device.0, args.image.as_deref())
}

/// Runs the model on the simulated `device` and describes the result.
pub fn simulate(blob: &[u8], profile: DeviceProfile, image: Option<&Path>) -> Result<String> {
    let model = Model::from_bytes(blob)?;
    let image = read_image(image, &model)?;
    let mut dev = SimulatedDevice::new(profile);
    dev.flash(blob)?;
    let r = dev.infer(&image)?;
    let mut s = String::new();
    writeln!(s, "device     {} ({})", profile.name, profile.description)?;
    writeln!(s, "flash      {} of {} bytes", r.flash_used, profile.flash_bytes)?;
    writeln!(
        s,
        "RAM        {} of {} bytes (arena {})",
        r.ram_used, profile.ram_bytes, r.arena_bytes
    )?;
    writeln!(s, "MACs       {}", r.macs)?;
    writeln!(
        s,
        "latency    ~{:.1} ms at {} MHz ({:.2} cycles/MAC, estimate)",
        r.estimated_seconds * 1e3,
        profile.clock_hz / 1_000_000,
        profile.cycles_per_mac()
    )?;
    s.push_str(&format_outputs(&r.outputs));
    Ok(s)
}
