//! `smn demo`: from nothing to a face model on a (simulated) microcontroller.
//!
//! Synthetic faces (or `--data DIR`) → stage 1 (`mtl`) → stage 2
//! (`smn-1x1-ft`) → float evaluation → export → int8 quantisation of both →
//! int8 evaluation through firmware-core → simulated Cortex-M4 → figures and
//! a report in `--out` (default `runs/demo`). Every number printed comes from
//! this run.
use super::arch_args::ArchArgs;
use super::augment_args::AugmentArgs;
use super::data_args::SplitArgs;
use super::options::{self, Calibration};
use crate::data::dataset::{load_dataset, DataSpec, Dataset, SYNTHETIC_CALIBRATION_SEED, SYNTHETIC_TEST_SEED};
use crate::evaluation::baselines::trivial_predictions;
use crate::evaluation::float::float_predictions;
use crate::evaluation::int8::int8_predictions;
use crate::evaluation::metrics::Metrics;
use crate::evaluation::metrics_of;
use crate::evaluation::models::{Evaluated, Evaluation};
use crate::evaluation::parity::{parity, Parity};
use crate::files::write_json;
use crate::model::backend::BackendKind;
use crate::model::export::float_model;
use crate::model::store::load_model;
use crate::model::{Arch, Variant};
use crate::report::figures::{caption, write_eval_figures};
use crate::report::markdown::comparison_table;
use crate::report::text::format_parity;
use crate::train::config::{OptimizerKind, TrainConfig};
use crate::train::trainer::train;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use smn_firmware_core::sim::{SimulatedDevice, CORTEX_M4};
use smn_quantize::emit_rust::emit_rust;
use smn_quantize::quantize::{quantize, QuantReport, QuantizeOptions};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `smn demo` options.
#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct DemoArgs {
    /// Options from a TOML file whose keys are these long flags; flags given here win.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Data: CelebA ids or synthetic faces.
    #[command(flatten)]
    pub split: SplitArgs,
    /// Synthetic training faces (evaluation: a fifth of this, other seed).
    #[arg(long, default_value_t = 3000, value_parser = options::batch_size)]
    pub synthetic: usize,
    /// Architecture: preset and overrides.
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Backend: flex, ndarray, wgpu.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Epochs of stage 2 (and of stage 1 unless --stage1-epochs is given).
    #[arg(long, default_value_t = 6, value_parser = options::at_least_one)]
    pub epochs: usize,
    /// Epochs of stage 1 (default: twice --epochs; a stage-1 epoch costs about a third of a stage-2 one).
    #[arg(long, value_parser = options::at_least_one)]
    pub stage1_epochs: Option<usize>,
    /// Optimiser (the demo defaults to Adam lr 0.001 to converge in minutes; the paper: sgd).
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = 0.001, value_parser = options::positive)]
    pub lr: f64,
    /// Augmentation.
    #[command(flatten)]
    pub augment: AugmentArgs,
    /// Calibration images for int8.
    #[arg(long, default_value_t = 200, value_parser = options::at_least_one)]
    pub calib_count: usize,
    /// Calibration method: minmax, percentile, mse.
    #[arg(long, value_enum, default_value_t = Calibration::Percentile)]
    pub calibration: Calibration,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
}

/// One model's row of the final table.
#[derive(Clone, Debug, Serialize)]
pub struct DemoModel {
    /// `mtl` or `smn-1x1-ft`.
    pub variant: String,
    /// Float vs int8 on the evaluation set.
    pub parity: Parity,
    /// Blob bytes (flash).
    pub flash_bytes: usize,
    /// Arena bytes.
    pub arena_bytes: usize,
    /// RAM the simulated Cortex-M4 needs (arena, input image, model struct).
    pub ram_bytes: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Estimated Cortex-M4 latency in milliseconds.
    pub latency_ms: f64,
    /// Quantisation report.
    pub quantization: QuantReport,
}

/// What `metrics.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct DemoResult {
    /// Data description.
    pub data: String,
    /// Training and evaluation images.
    pub train_images: usize,
    /// Evaluation images.
    pub eval_images: usize,
    /// Stage 1, stage 2.
    pub models: Vec<DemoModel>,
    /// Trivial baselines on the evaluation set: mean training landmarks, per-attribute majority class.
    pub baseline: Metrics,
    /// Seconds per phase.
    pub seconds: Vec<(String, f64)>,
}

fn data_specs(args: &DemoArgs) -> (DataSpec, DataSpec) {
    args.split.specs((
        DataSpec::Synthetic {
            count: args.synthetic,
            seed: args.seed,
        },
        DataSpec::Synthetic {
            count: (args.synthetic / 5).max(50),
            seed: args.seed + SYNTHETIC_TEST_SEED,
        },
    ))
}

fn stage_config(args: &DemoArgs, arch: &Arch, variant: Variant, init: Option<PathBuf>) -> TrainConfig {
    let mut cfg = TrainConfig::paper(variant, arch.clone());
    cfg.epochs = if variant.is_stage2() {
        args.epochs
    } else {
        stage1_epochs(args)
    };
    cfg.optimizer = args.optimizer;
    cfg.weight_decay = args.optimizer.weight_decay(None);
    cfg.lr = args.lr;
    cfg.seed = args.seed;
    cfg.augment = args.augment.config();
    cfg.backend = args.backend;
    cfg.init = init;
    cfg
}

fn stage1_epochs(args: &DemoArgs) -> usize {
    args.stage1_epochs.unwrap_or(2 * args.epochs)
}

struct Timer {
    start: Instant,
    phases: Vec<(String, f64)>,
}

impl Timer {
    fn phase(&mut self, name: &str) {
        let now = Instant::now();
        self.phases.push((name.to_string(), (now - self.start).as_secs_f64()));
        self.start = now;
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Quantises, evaluates and simulates one trained run.
fn deploy(
    args: &DemoArgs,
    run: &Path,
    name: &str,
    calib: &[Vec<u8>],
    eval: &Dataset,
) -> Result<(DemoModel, Evaluated, Evaluated)> {
    let device = args.backend.device();
    let (net, info) = load_model(run, &device)?;
    let float = float_model(&net, &info)?;
    float
        .write(args.out.join(format!("{name}.safetensors")))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = QuantizeOptions {
        calibration: args.calibration.method(),
        ..QuantizeOptions::default()
    };
    let q = quantize(&float, calib, &options).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    write_file(&args.out.join(format!("{name}.smnq")), &q.blob)?;
    write_file(
        &args.out.join(format!("{name}.rs")),
        emit_rust(&q.blob, "SMN_MODEL").as_bytes(),
    )?;
    write_file(
        &args.out.join(format!("{name}-quantization.md")),
        q.report.to_markdown().as_bytes(),
    )?;
    let fp = float_predictions(&net, eval, &device, 64)?;
    let qp = int8_predictions(&q.blob, eval)?;
    let (fm, qm) = (metrics_of(&fp, eval), metrics_of(&qp, eval));
    let par = parity((&fp, &fm), (&qp, &qm), eval);
    let mut dev = SimulatedDevice::new(CORTEX_M4);
    dev.flash(&q.blob)
        .map_err(|e| anyhow::anyhow!("{name} on {}: {e}", CORTEX_M4.name))?;
    let image = eval.samples.get(0).map(|s| s.image.pixels).unwrap_or_default();
    let sim = dev
        .infer(&image)
        .map_err(|e| anyhow::anyhow!("{name} on {}: {e}", CORTEX_M4.name))?;
    let model = DemoModel {
        variant: info.variant.name().to_string(),
        flash_bytes: sim.flash_used,
        arena_bytes: sim.arena_bytes,
        ram_bytes: sim.ram_used,
        macs: sim.macs,
        latency_ms: sim.estimated_seconds * 1e3,
        parity: par,
        quantization: q.report,
    };
    let float_eval = Evaluated {
        name: format!("{} float", info.variant.name()),
        source: run.to_path_buf(),
        metrics: fm,
        predictions: fp,
    };
    let int8_eval = Evaluated {
        name: format!("{} int8", info.variant.name()),
        source: args.out.join(format!("{name}.smnq")),
        metrics: qm,
        predictions: qp,
    };
    Ok((model, float_eval, int8_eval))
}

/// The final table: float vs int8, MTL vs SMN, flash, RAM, latency.
pub fn final_table(models: &[DemoModel], baseline: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| model | NME float | NME int8 | attr. acc. float | attr. acc. int8 | flips | flash | RAM (arena) | MACs | Cortex-M4 @168 MHz (est.) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in models {
        let p = &m.parity;
        let _ = writeln!(
            s,
            "| {} | {:.4} | {:.4} | {:.2} % | {:.2} % | {}/{} | {:.1} KiB | {:.1} KiB ({:.1} KiB) | {:.1} M | {:.0} ms |",
            m.variant,
            p.float.mean_nme,
            p.int8.mean_nme,
            100.0 * p.float.mean_attribute_accuracy,
            100.0 * p.int8.mean_attribute_accuracy,
            p.flipped_decisions,
            p.decisions,
            m.flash_bytes as f64 / 1024.0,
            m.ram_bytes as f64 / 1024.0,
            m.arena_bytes as f64 / 1024.0,
            m.macs as f64 / 1e6,
            m.latency_ms
        );
    }
    let _ = writeln!(
        s,
        "| trivial baseline | {:.4} | | {:.2} % | | | | | | |",
        baseline.mean_nme,
        100.0 * baseline.mean_attribute_accuracy
    );
    s
}

/// Runs `smn demo`.
pub fn run(args: &DemoArgs) -> Result<String> {
    let arch = args.arch.arch()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut timer = Timer {
        start: Instant::now(),
        phases: Vec::new(),
    };
    let started = Instant::now();
    let (train_spec, eval_spec) = data_specs(args);
    eprintln!("[1/6] data: {train_spec}");
    let train_data = load_dataset(&train_spec, arch.input_size, None)?;
    let eval_data = load_dataset(&eval_spec, arch.input_size, None)?;
    if train_data.samples.is_empty() || eval_data.samples.is_empty() {
        bail!("empty training or evaluation selection (use --train-ids / --val-ids with --data)");
    }
    timer.phase("data");
    let run1 = args.out.join("stage1-mtl");
    let run2 = args.out.join("stage2-smn-1x1-ft");
    eprintln!(
        "[2/6] stage 1 (mtl), {} images, {} epochs",
        train_data.samples.len(),
        stage1_epochs(args)
    );
    train(
        &stage_config(args, &arch, Variant::Mtl, None),
        &train_data,
        Some(&eval_data),
        &run1,
        false,
    )?;
    timer.phase("stage 1");
    eprintln!(
        "[3/6] stage 2 (smn-1x1-ft), shared layers frozen, {} epochs",
        args.epochs
    );
    train(
        &stage_config(args, &arch, Variant::Smn1x1Ft, Some(run1.clone())),
        &train_data,
        Some(&eval_data),
        &run2,
        false,
    )?;
    timer.phase("stage 2");
    eprintln!(
        "[4/6] export, calibrate ({} images), quantise, int8 evaluation",
        args.calib_count
    );
    // Calibration: evenly spaced training images; synthetic faces get their own set.
    let calib = match &args.split.data {
        None => load_dataset(
            &DataSpec::Synthetic {
                count: args.calib_count,
                seed: SYNTHETIC_CALIBRATION_SEED,
            },
            arch.input_size,
            None,
        )?
        .evenly_spaced_images(args.calib_count),
        Some(_) => train_data.evenly_spaced_images(args.calib_count),
    };
    let (mtl, mtl_f, mtl_q) = deploy(args, &run1, "mtl", &calib, &eval_data)?;
    let (smn, smn_f, smn_q) = deploy(args, &run2, "smn-1x1-ft", &calib, &eval_data)?;
    timer.phase("quantise + int8 eval");
    eprintln!("[5/6] figures");
    let baseline_predictions = trivial_predictions(&train_data, &eval_data);
    let baseline = Evaluated {
        name: "baseline (mean landmarks, majority class)".into(),
        source: PathBuf::new(),
        metrics: metrics_of(&baseline_predictions, &eval_data),
        predictions: baseline_predictions,
    };
    let eval = Evaluation {
        models: vec![mtl_f, mtl_q, smn_f, smn_q, baseline],
        parity: None,
    };
    let figures = args.out.join("figures");
    let runs = [run1.clone(), run2.clone()];
    let written = write_eval_figures(&figures, &runs, &eval, &eval_data, &args.backend.device())?;
    timer.phase("figures");
    eprintln!("[6/6] report");
    let models = vec![mtl, smn];
    let result = DemoResult {
        data: format!("training: {train_spec}; evaluation: {eval_spec}"),
        train_images: train_data.samples.len(),
        eval_images: eval_data.samples.len(),
        models,
        baseline: eval
            .models
            .last()
            .map(|m| m.metrics.clone())
            .unwrap_or_else(|| metrics_of(&[], &eval_data)),
        seconds: timer.phases.clone(),
    };
    write_json(&args.out.join("metrics.json"), &result)?;
    let table = final_table(&result.models, &result.baseline);
    let mut md = format!(
        "# SMN demo\n\nData: {}\n\nTraining images {}, evaluation images {}, input {}², backend {}, {} + {} epochs (stage 1 + stage 2), optimiser {} lr {}, augmentation {}.\n\n## Result\n\n{table}\n",
        result.data,
        result.train_images,
        result.eval_images,
        arch.input_size,
        args.backend.name(),
        stage1_epochs(args),
        args.epochs,
        args.optimizer.name(),
        args.lr,
        args.augment.describe()
    );
    let _ = write!(
        md,
        "\n## Metrics (Table 1 style)\n\n{}\n",
        comparison_table(&eval.rows())
    );
    for m in &result.models {
        let _ = write!(
            md,
            "\n### {} float vs int8\n\n```text\n{}```\n",
            m.variant,
            format_parity(&m.parity)
        );
    }
    md.push_str("\n## Figures\n\n");
    for f in &written {
        if let Some(name) = f.file_name() {
            let name = name.to_string_lossy();
            let _ = writeln!(md, "![{name}](figures/{name})\n\n*{}*\n", caption(&name));
        }
    }
    md.push_str("\n## Time\n\n");
    for (phase, s) in &result.seconds {
        let _ = writeln!(md, "- {phase}: {s:.1} s");
    }
    let total = started.elapsed().as_secs_f64();
    let _ = writeln!(md, "- total: {total:.1} s");
    write_file(&args.out.join("report.md"), md.as_bytes())?;
    Ok(format!(
        "\n{table}\nwall time {total:.0} s; report {}\n",
        args.out.join("report.md").display()
    ))
}
