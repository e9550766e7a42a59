//! `smn export`: a trained run → the float model file (`docs/float-model.md`).
use crate::model::export::export_run;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `smn export` options.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Run directory of a trained model.
    #[arg(long)]
    pub model: PathBuf,
    /// Output file (default: RUN/model.safetensors).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `smn export`.
pub fn run(args: &ExportArgs) -> Result<String> {
    let out = args.out.clone().unwrap_or_else(|| args.model.join("model.safetensors"));
    let model = export_run(&args.model)?;
    model.write(&out).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!(
        "exported {} ({}, {} tensors) to {}\n",
        args.model.display(),
        model.variant.name(),
        model.tensors.len(),
        out.display()
    ))
}
