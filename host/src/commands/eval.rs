//! `smn eval`: float models, an int8 blob, or both side by side.
use super::blob_file::read_blob;
use super::data_args::DataArgs;
use crate::data::celeba::{load_index, Partition};
use crate::data::dataset::{load_dataset, DataSpec, SYNTHETIC_TEST_SEED};
use crate::evaluation::models::evaluate_models;
use crate::files::write_json;
use crate::model::backend::BackendKind;
use crate::model::store::read_model_info;
use crate::report::figures::write_eval_figures;
use crate::report::markdown::evaluation_report;
use crate::report::text::{format_metrics, format_parity};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

/// `smn eval` options.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run directory of a trained model (repeat to compare several, like the paper's Table 1).
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// An int8 blob (.smnq) from `smn quantize`: evaluated through firmware-core; with one --model, float vs int8.
    #[arg(long)]
    pub int8: Option<PathBuf>,
    /// Data selection (default with --data: the test partition).
    #[command(flatten)]
    pub data: DataArgs,
    /// Write the metrics as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a Markdown report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write figures here: CED curves, training curves, landmark overlays, feature maps.
    #[arg(long)]
    pub figures: Option<PathBuf>,
    /// Backend for the float models.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Seed of the synthetic evaluation set.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Evaluate on grey images (BT.601 luma in R, G and B), as a grey camera's
    /// frames reach the model on the device: measures what grey input costs.
    #[arg(long)]
    pub grayscale: bool,
}

/// The model input size of the first run or the blob (validated by `read_blob`).
fn input_size(args: &EvalArgs, blob: Option<&[u8]>) -> Result<usize> {
    if let Some(run) = args.models.first() {
        return Ok(read_model_info(run)?.arch.input_size);
    }
    if let Some(blob) = blob {
        let model =
            smn_firmware_core::Model::from_bytes(blob).map_err(|e| anyhow::anyhow!("invalid model blob: {e}"))?;
        return Ok(model.input_height());
    }
    bail!("give --model RUN (repeatable) and/or --int8 BLOB")
}

/// Why `spec` selected nothing: the selection applied and what the folder holds.
fn empty_selection(args: &EvalArgs, spec: &DataSpec) -> anyhow::Error {
    let DataSpec::Celeba { dir, skip_bad, .. } = spec else {
        return anyhow::anyhow!("the data selection is empty: {spec}");
    };
    let applied = if args.data.partition.is_empty() && args.data.ids.is_none() {
        "the default partition, test"
    } else {
        "the given --partition/--ids"
    };
    let holds = load_index(dir, *skip_bad).map_or_else(|e| e.to_string(), |index| index.summary());
    anyhow::anyhow!(
        "the data selection is empty: {spec} selects no image ({applied}); {} holds {holds}: \
         use --partition train|val|test or --ids A-B",
        dir.display()
    )
}

/// Runs `smn eval`.
pub fn run(args: &EvalArgs) -> Result<String> {
    let blob = args.int8.as_deref().map(read_blob).transpose()?;
    let size = input_size(args, blob.as_deref())?;
    let spec = args.data.spec(Partition::Test, args.seed + SYNTHETIC_TEST_SEED);
    let data = load_dataset(&spec, size, args.data.cache.as_deref())?;
    if data.samples.is_empty() {
        return Err(empty_selection(args, &spec));
    }
    let data = if args.grayscale { data.grayscale() } else { data };
    let device = args.backend.device();
    let blob_arg = args.int8.as_deref().zip(blob.as_deref());
    let eval = evaluate_models(&args.models, blob_arg, &data, &device)?;
    if let Some(path) = &args.json {
        write_json(path, &eval)?;
    }
    if let Some(path) = &args.report {
        let text = evaluation_report(&eval, &spec.to_string());
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &args.figures {
        write_eval_figures(dir, &args.models, &eval, &data, &device)?;
    }
    let mut out = String::new();
    for m in &eval.models {
        let _ = write!(out, "{}\n{}\n", m.name, format_metrics(&m.metrics));
    }
    if let Some(p) = &eval.parity {
        out.push_str(&format_parity(p));
    }
    Ok(out)
}
