//! `smn eval`.
use super::data_args::DataArgs;
use super::train::SYNTHETIC_TEST_SEED;
use crate::data::celeba::Partition;
use crate::data::{ATTRIBUTE_NAMES, LANDMARK_NAMES};
use crate::train::backend::BackendKind;
use crate::train::dataset::load_dataset;
use crate::train::metrics::Metrics;
use crate::train::run_dir::write_json;
use crate::train::trainer::{evaluate, load_model};
use anyhow::{Context, Result};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

/// `smn eval` options.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run directory of a trained model.
    #[arg(long)]
    pub model: PathBuf,
    /// Data selection.
    #[command(flatten)]
    pub data: DataArgs,
    /// Write the metrics as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Backend.
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Seed of the synthetic evaluation set.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A text table of the metrics.
pub fn format_metrics(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "images {}", m.images);
    let _ = writeln!(s, "NME (normaliser: max(inter-ocular distance, 1) in original pixels)");
    for (name, v) in LANDMARK_NAMES.iter().zip(m.nme) {
        let _ = writeln!(s, "  {name:<12} {v:.4}");
    }
    let _ = writeln!(s, "  mean         {:.4}", m.mean_nme);
    let _ = writeln!(s, "attribute accuracy (known labels)");
    for (name, a) in ATTRIBUTE_NAMES.iter().zip(&m.attribute_accuracy) {
        if let Some(a) = a {
            let _ = writeln!(s, "  {name:<20} {:.2} %", 100.0 * a);
        }
    }
    let _ = writeln!(s, "  mean                 {:.2} %", 100.0 * m.mean_attribute_accuracy);
    s
}

/// Runs `smn eval`.
pub fn run(args: &EvalArgs) -> Result<String> {
    let backend = BackendKind::parse(&args.backend)
        .with_context(|| format!("--backend '{}': flex, ndarray or wgpu", args.backend))?;
    let device = backend.device();
    let (model, info) = load_model(&args.model, &device)?;
    let spec = args.data.spec(Partition::Test, args.seed + SYNTHETIC_TEST_SEED)?;
    let data = load_dataset(&spec, info.arch.input_size, args.data.cache.as_deref())?;
    let metrics = evaluate(&model, &data, &device, 64);
    if let Some(path) = &args.json {
        write_json(path, &metrics)?;
    }
    Ok(format!(
        "model {} ({})\n{}",
        args.model.display(),
        info.variant.name(),
        format_metrics(&metrics)
    ))
}
