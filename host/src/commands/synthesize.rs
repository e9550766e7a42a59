//! `smn synthesize`: N synthetic faces written in the CelebA layout.
use super::options;
use crate::data::synthetic::{write_celeba_layout, SyntheticConfig};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `smn synthesize` options.
#[derive(Args, Debug)]
pub struct SynthesizeArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of faces.
    #[arg(long, default_value_t = 1000, value_parser = options::at_least_one)]
    pub count: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs `smn synthesize`.
pub fn run(args: &SynthesizeArgs) -> Result<String> {
    let config = SyntheticConfig {
        seed: args.seed,
        ..Default::default()
    };
    write_celeba_layout(&args.out, &config, args.count).map_err(|e| anyhow::anyhow!("{}: {e}", args.out.display()))?;
    Ok(format!(
        "wrote {} synthetic faces to {} (CelebA layout)\n",
        args.count,
        args.out.display()
    ))
}
