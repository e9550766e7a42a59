//! `smn bench-train`: training steps of the real network per backend, one
//! JSON line each (the PyTorch peer script `benches/torch_train_step.py`
//! calls this).
use super::arch_args::ArchArgs;
use super::options::{self, VariantArg};
use crate::model::backend::BackendKind;
use crate::train::step_bench::step_rate;
use anyhow::Result;
use clap::Args;

/// `smn bench-train` options.
#[derive(Args, Debug)]
pub struct BenchTrainArgs {
    /// Backends, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "flex,ndarray")]
    pub backends: Vec<BackendKind>,
    /// Architecture: preset and overrides.
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Variant (mtl = stage 1).
    #[arg(long, value_enum, default_value = "mtl")]
    pub variant: VariantArg,
    /// Batch size.
    #[arg(long, default_value_t = 32, value_parser = options::batch_size)]
    pub batch: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 20, value_parser = options::at_least_one)]
    pub steps: usize,
}

/// Runs `smn bench-train`.
pub fn run(args: &BenchTrainArgs) -> Result<String> {
    let arch = args.arch.arch()?;
    let VariantArg(variant): VariantArg = args.variant;
    let mut out = String::new();
    for &backend in &args.backends {
        let rate = step_rate(backend, &arch, variant, args.batch, 3, args.steps)?;
        out.push_str(&serde_json::to_string(&rate)?);
        out.push('\n');
    }
    Ok(out)
}
