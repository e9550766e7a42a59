//! `smn random-model`: an SMN blob with random weights, for integration
//! tests and firmware bring-up (not a trained model).
use super::options::Shape;
use anyhow::{Context, Result};
use clap::Args;
use smn_firmware_core::builder::random_smn_blob;
use std::path::PathBuf;

/// `smn random-model` options.
#[derive(Args, Debug)]
pub struct RandomModelArgs {
    /// Graph size: micro (64×64, Cortex-M4) or tiny.
    #[arg(long, value_enum, default_value_t = Shape::Micro)]
    pub shape: Shape,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file (.smnq).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `smn random-model`.
pub fn run(args: &RandomModelArgs) -> Result<String> {
    let blob = random_smn_blob(&args.shape.smn_shape(), args.seed)?;
    std::fs::write(&args.out, &blob).with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(format!(
        "wrote {} ({} bytes, random weights, seed {})\n",
        args.out.display(),
        blob.len(),
        args.seed
    ))
}
