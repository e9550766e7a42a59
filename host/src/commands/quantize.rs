//! `smn quantize`: float model → int8 blob for firmware-core, with a report.
use super::data_args::celeba_spec;
use super::options::{self, Calibration, ConcatScalesArg, IdRange};
use crate::data::celeba::Partition;
use crate::data::dataset::{load_dataset, DataSpec, SYNTHETIC_CALIBRATION_SEED};
use crate::model::export::read_float_model;
use anyhow::{bail, Context, Result};
use clap::Args;
use smn_quantize::emit_rust::emit_rust;
use smn_quantize::float_model::FloatModel;
use smn_quantize::quantize::{quantize, QuantizeOptions, Quantized};
use std::path::{Path, PathBuf};

/// `smn quantize` options.
#[derive(Args, Debug, Clone)]
pub struct QuantizeArgs {
    /// A run directory (exported on the fly) or a float model file from `smn export`.
    #[arg(long)]
    pub model: PathBuf,
    /// CelebA folder for calibration images (default: synthetic faces).
    #[arg(long)]
    pub calib_data: Option<PathBuf>,
    /// Image id range of the calibration images, e.g. 1-2800 (default: the train partition).
    #[arg(long)]
    pub calib_ids: Option<IdRange>,
    /// Number of calibration images.
    #[arg(long, default_value_t = 256, value_parser = options::at_least_one)]
    pub calib_count: usize,
    /// Activation range method: minmax, percentile (99.99 %) or mse.
    #[arg(long, value_enum, default_value_t = Calibration::Percentile)]
    pub calibration: Calibration,
    /// Fused concat + 1×1 layers: `one` input scale (faster, format
    /// version 3) or `two` (readable by older firmware).
    #[arg(long, value_enum, default_value_t = ConcatScalesArg::One)]
    pub concat_scales: ConcatScalesArg,
    /// Output blob (.smnq).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write a `.rs` file with the blob as an aligned static array.
    #[arg(long)]
    pub emit_rust: Option<PathBuf>,
    /// Markdown report (a `.json` twin is written beside it).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Calibration images (RGB, `size × size`) from `args`.
pub fn calibration_images(args: &QuantizeArgs, size: usize) -> Result<Vec<Vec<u8>>> {
    let spec = match &args.calib_data {
        Some(dir) => celeba_spec(dir, args.calib_ids.as_ref(), Partition::Train, false),
        None => DataSpec::Synthetic {
            count: args.calib_count,
            seed: SYNTHETIC_CALIBRATION_SEED,
        },
    };
    let data = load_dataset(&spec, size, None)?;
    if data.samples.is_empty() {
        bail!("no calibration images selected");
    }
    Ok(data.evenly_spaced_images(args.calib_count))
}

/// Quantises per `args`; returns the result and the float model.
pub fn quantize_model(args: &QuantizeArgs) -> Result<(Quantized, FloatModel)> {
    let model = read_float_model(&args.model)?;
    let images = calibration_images(args, model.arch.input_size)?;
    let options = QuantizeOptions {
        calibration: args.calibration.method(),
        concat_scales: args.concat_scales.scales(),
        ..QuantizeOptions::default()
    };
    let q = quantize(&model, &images, &options).map_err(|e| anyhow::anyhow!("{}: {e}", args.model.display()))?;
    Ok((q, model))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Runs `smn quantize`.
pub fn run(args: &QuantizeArgs) -> Result<String> {
    let (q, _) = quantize_model(args)?;
    write(&args.out, &q.blob)?;
    if let Some(rs) = &args.emit_rust {
        write(rs, emit_rust(&q.blob, "SMN_MODEL").as_bytes())?;
    }
    let markdown = q.report.to_markdown();
    if let Some(path) = &args.report {
        write(path, markdown.as_bytes())?;
        let json = serde_json::to_vec_pretty(&q.report)?;
        write(&path.with_extension("json"), &json)?;
    }
    Ok(format!(
        "wrote {} ({} bytes)\n{}",
        args.out.display(),
        q.blob.len(),
        q.report.summary()
    ))
}
