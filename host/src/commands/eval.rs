//! `smn eval`: float models, an int8 blob, or both side by side.
use super::data_args::DataArgs;
use super::train::SYNTHETIC_TEST_SEED;
use crate::data::celeba::Partition;
use crate::data::{ATTRIBUTE_NAMES, LANDMARK_NAMES};
use crate::evaluation::float::float_predictions;
use crate::evaluation::int8::int8_predictions;
use crate::evaluation::parity::{parity, Parity};
use crate::evaluation::{metrics_of, Prediction};
use crate::report::markdown::comparison_table;
use crate::train::dataset::{load_dataset, Dataset};
use crate::train::metrics::Metrics;
use crate::train::run_dir::write_json;
use crate::train::trainer::load_model;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `smn eval` options.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run directory of a trained model (repeat to compare several, like the paper's Table 1).
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// An int8 blob from `smn quantize`: evaluated through firmware-core; with one --model, float vs int8.
    #[arg(long)]
    pub int8: Option<PathBuf>,
    /// Data selection.
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

/// One evaluated model.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluated {
    /// Display name (`RUN (variant)` or `int8 FILE`).
    pub name: String,
    /// Run directory or blob file.
    pub source: PathBuf,
    /// Its metrics.
    pub metrics: Metrics,
    /// Its predictions in dataset order (not serialised).
    #[serde(skip)]
    pub predictions: Vec<Prediction>,
}

/// Everything `smn eval` computed.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Float models, then the int8 blob.
    pub models: Vec<Evaluated>,
    /// Float vs int8 when one float model and a blob were given.
    pub parity: Option<Parity>,
}

fn run_name(run: &Path) -> String {
    run.file_name()
        .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Side-by-side text of float vs int8.
pub fn format_parity(p: &Parity) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "float vs int8 ({} images)", p.float.images);
    let _ = writeln!(s, "  {:<14} {:>9} {:>9}", "NME", "float", "int8");
    for (i, name) in LANDMARK_NAMES.iter().enumerate() {
        let _ = writeln!(s, "  {name:<14} {:>9.4} {:>9.4}", p.float.nme[i], p.int8.nme[i]);
    }
    let _ = writeln!(s, "  {:<14} {:>9.4} {:>9.4}", "mean", p.float.mean_nme, p.int8.mean_nme);
    let _ = writeln!(
        s,
        "  mean attribute accuracy {:.2} % vs {:.2} % (drop {:.2} points)",
        100.0 * p.float.mean_attribute_accuracy,
        100.0 * p.int8.mean_attribute_accuracy,
        p.accuracy_drop_points
    );
    let _ = writeln!(
        s,
        "  mean NME rise {:+.2} %; {} of {} attribute decisions flip; landmarks move {:.3} px on average",
        100.0 * p.nme_rise_relative,
        p.flipped_decisions,
        p.decisions,
        p.mean_landmark_shift_px
    );
    s
}

/// Evaluates the models of `args` and the `--int8` blob (already read) on
/// `data` (loaded at their input size).
pub fn evaluate_all(args: &EvalArgs, blob: Option<&[u8]>, data: &Dataset) -> Result<Evaluation> {
    let backend = super::values::backend(&args.backend)?;
    let device = backend.device();
    let mut models = Vec::new();
    for run in &args.models {
        let (model, info) = load_model(run, &device)?;
        if info.arch.input_size != data.size {
            bail!(
                "{}: the model takes {}×{} images; all models compared must share one input size ({})",
                run.display(),
                info.arch.input_size,
                info.arch.input_size,
                data.size
            );
        }
        let predictions = float_predictions(&model, data, &device, 64);
        models.push(Evaluated {
            name: format!("{} ({})", run_name(run), info.variant.name()),
            source: run.clone(),
            metrics: metrics_of(&predictions, data),
            predictions,
        });
    }
    let mut par = None;
    if let (Some(blob_path), Some(blob)) = (&args.int8, blob) {
        let predictions = int8_predictions(blob, data).with_context(|| blob_path.display().to_string())?;
        let metrics = metrics_of(&predictions, data);
        if let [float] = models.as_slice() {
            par = Some(parity(
                (&float.predictions, &float.metrics),
                (&predictions, &metrics),
                data,
            ));
        }
        models.push(Evaluated {
            name: format!("int8 {}", run_name(blob_path)),
            source: blob_path.clone(),
            metrics,
            predictions,
        });
    }
    Ok(Evaluation { models, parity: par })
}

/// The model input size of the first run or the blob (validated by `read_blob`).
fn input_size(args: &EvalArgs, blob: Option<&[u8]>) -> Result<usize> {
    if let Some(run) = args.models.first() {
        return Ok(crate::train::trainer::read_model_info(run)?.arch.input_size);
    }
    if let Some(blob) = blob {
        let model =
            smn_firmware_core::Model::from_bytes(blob).map_err(|e| anyhow::anyhow!("invalid model blob: {e}"))?;
        return Ok(model.input_height());
    }
    bail!("give --model RUN (repeatable) and/or --int8 BLOB")
}

/// Markdown report of an evaluation.
pub fn markdown_report(eval: &Evaluation, data_label: &str) -> String {
    let mut s = format!("# Evaluation\n\nData: {data_label}\n\n");
    let rows: Vec<(&str, &Metrics)> = eval.models.iter().map(|m| (m.name.as_str(), &m.metrics)).collect();
    s.push_str(&comparison_table(&rows));
    if let Some(p) = &eval.parity {
        let _ = write!(s, "\n## Float vs int8\n\n```text\n{}```\n", format_parity(p));
    }
    s
}

/// Runs `smn eval`.
pub fn run(args: &EvalArgs) -> Result<String> {
    let blob = args.int8.as_deref().map(crate::device_tools::read_blob).transpose()?;
    let size = input_size(args, blob.as_deref())?;
    let spec = args.data.spec(Partition::Test, args.seed + SYNTHETIC_TEST_SEED)?;
    let data = load_dataset(&spec, size, args.data.cache.as_deref())?;
    if data.samples.is_empty() {
        bail!("the data selection is empty");
    }
    let eval = evaluate_all(args, blob.as_deref(), &data)?;
    if let Some(path) = &args.json {
        write_json(path, &eval)?;
    }
    if let Some(path) = &args.report {
        let text = markdown_report(&eval, &spec.to_string());
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &args.figures {
        super::figures::write_eval_figures(dir, args, &eval, &data)?;
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
