//! `smn export`: a trained run → the float model file (`docs/float-model.md`).
use crate::export::float_model;
use crate::train::backend::BackendKind;
use crate::train::trainer::load_model;
use anyhow::Result;
use clap::Args;
use smn_quantize::float_model::FloatModel;
use std::path::{Path, PathBuf};

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

/// The float model of a run directory (read on the CPU backend).
pub fn export_run(run: &Path) -> Result<FloatModel> {
    let (net, info) = load_model(run, &BackendKind::Flex.device())?;
    float_model(&net, &info)
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
