//! `smn study`: does SMN help, and which variant should ship? Per seed:
//! stage 1 `mtl`; from it `smn`, `smn-1x1` and `smn-1x1-ft`; and the fair
//! control `mtl-control` (`mtl` trained on for as many epochs as stage 2,
//! from its own checkpoint). Every run is evaluated on the validation set
//! (the shipped `smn-1x1-ft` also in int8 through firmware-core), and
//! `report.md`, `study.json` and figures summarise the seeds: mean ± std,
//! paired differences with 95 % intervals, a verdict per paper claim.
//!
//! Resumable: a finished run (its `study-eval.json`) is reused, a run with a
//! checkpoint continues from it, and `--max-runs N` stops after training N
//! runs (run the same command again to go on).
use super::arch_args::ArchArgs;
use super::augment_args::AugmentArgs;
use super::data_args::SplitArgs;
use super::options::{self, Calibration};
use crate::data::dataset::{load_dataset, DataSpec, Dataset, SYNTHETIC_VALIDATION_SEED};
use crate::evaluation::float::float_predictions;
use crate::evaluation::int8::int8_predictions;
use crate::evaluation::metrics_of;
use crate::files::{read_json, write_json};
use crate::model::backend::BackendKind;
use crate::model::export::float_model;
use crate::model::store::{load_model, MODEL_INFO_FILE};
use crate::model::{Arch, Variant};
use crate::report::charts::{ced_figure, training_figure, TrainingCurve};
use crate::report::study::{labels, study_markdown, Protocol, StudyResult, StudyRun, MTL, MTL_CONTROL, SHIPPED};
use crate::train::best::{BestBy, BestEpoch};
use crate::train::config::{LrSchedule, OptimizerKind, TrainConfig};
use crate::train::history::EpochLog;
use crate::train::run_dir::RunDir;
use crate::train::trainer::train;
use anyhow::{bail, Context, Result};
use clap::Args;
use smn_quantize::quantize::{quantize, QuantizeOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `smn study` options. The defaults are the recipe tuned on celeba-14k
/// (docs/results.md): the `micro-wide` preset, AdamW (decay 0.2), cosine
/// schedule, flip + colour augmentation, 20 + 4 epochs; `--preset micro
/// --optimizer sgd --schedule constant --augment off` is the paper's
/// protocol on the Cortex-M4 net.
#[derive(Args, Debug, Clone)]
#[command(mut_arg("augment", |a| a.default_value("flip")))]
#[command(mut_arg("preset", |a| a.default_value("micro-wide")))]
pub struct StudyArgs {
    /// Data: CelebA ids (e.g. --train-ids 1-18000 --val-ids 18001-20000) or synthetic faces.
    #[command(flatten)]
    pub split: SplitArgs,
    /// Synthetic training faces without --data (validation: a fifth, another seed).
    #[arg(long, default_value_t = 2000, value_parser = options::batch_size)]
    pub synthetic: usize,
    /// Seeds (1, 2, …): each trains every run anew.
    #[arg(long, default_value_t = 3, value_parser = options::at_least_one)]
    pub seeds: usize,
    /// Architecture: preset and overrides.
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Backend: flex, ndarray, wgpu.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Stage-1 epochs.
    #[arg(long, default_value_t = 20, value_parser = options::at_least_one)]
    pub stage1_epochs: usize,
    /// Stage-2 epochs (the control trains as many more).
    #[arg(long, default_value_t = 4, value_parser = options::at_least_one)]
    pub epochs: usize,
    /// Optimiser: adamw (decoupled weight decay), adam, or sgd (the paper's: momentum 0.9, no dampening).
    #[arg(long, value_enum, default_value_t = OptimizerKind::AdamW)]
    pub optimizer: OptimizerKind,
    /// Learning rate (the paper: 0.001).
    #[arg(long, default_value_t = 0.001, value_parser = options::positive)]
    pub lr: f64,
    /// Learning rate of the stage-2 variants (default: --lr, as in the
    /// paper). Stage 2 starts from a trained stage 1, so a lower rate
    /// fine-tunes instead of restarting; the control keeps --lr's schedule.
    #[arg(long, value_parser = options::positive)]
    pub stage2_lr: Option<f64>,
    /// Weight decay of every run: an L2 term with sgd and adam (default none), decoupled with adamw (default 0.2).
    #[arg(long, value_parser = options::non_negative)]
    pub weight_decay: Option<f32>,
    /// Dropout probability on each head's input features while training, in [0, 1).
    #[arg(long, default_value_t = 0.0, value_parser = options::dropout)]
    pub dropout: f64,
    /// Batch size (the paper: 32).
    #[arg(long, default_value_t = 32, value_parser = options::batch_size)]
    pub batch_size: usize,
    /// LR schedule of every run: cosine, constant (the paper), step:EVERY:GAMMA.
    #[arg(long, default_value = "cosine", value_parser = options::schedule)]
    pub schedule: LrSchedule,
    /// Augmentation.
    #[command(flatten)]
    pub augment: AugmentArgs,
    /// Early stopping: evaluate each run's best validation epoch by nme or accuracy.
    #[arg(long, value_enum)]
    pub keep_best: Option<BestBy>,
    /// With --keep-best: stop a run after this many epochs without a better one.
    #[arg(long, value_parser = options::at_least_one, requires = "keep_best")]
    pub patience: Option<usize>,
    /// Calibration images for the int8 model.
    #[arg(long, default_value_t = 200, value_parser = options::at_least_one)]
    pub calib_count: usize,
    /// Calibration method: minmax, percentile, mse.
    #[arg(long, value_enum, default_value_t = Calibration::Percentile)]
    pub calibration: Calibration,
    /// Stop after training this many runs (run the command again to continue).
    #[arg(long, value_parser = options::at_least_one)]
    pub max_runs: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "runs/study")]
    pub out: PathBuf,
}

/// One run of the plan.
#[derive(Clone, Debug)]
struct Planned {
    seed: u64,
    label: &'static str,
    variant: Variant,
    dir: PathBuf,
    /// Epochs it trains (the control: its extra epochs).
    epochs: usize,
}

fn plan(args: &StudyArgs) -> Vec<Planned> {
    let mut runs = Vec::new();
    for seed in 1..=args.seeds as u64 {
        let dir = args.out.join(format!("seed-{seed}"));
        let run = |label: &'static str, variant, epochs| Planned {
            seed,
            label,
            variant,
            dir: dir.join(label),
            epochs,
        };
        runs.push(run(MTL, Variant::Mtl, args.stage1_epochs));
        runs.push(run(MTL_CONTROL, Variant::Mtl, args.epochs));
        for v in [Variant::Smn, Variant::Smn1x1, Variant::Smn1x1Ft] {
            runs.push(run(v.name(), v, args.epochs));
        }
    }
    runs
}

/// The training configuration of `run`.
fn config(args: &StudyArgs, arch: &Arch, run: &Planned) -> TrainConfig {
    let mut cfg = TrainConfig::paper(run.variant, arch.clone());
    cfg.epochs = match run.label {
        MTL => args.stage1_epochs,
        MTL_CONTROL => args.stage1_epochs + args.epochs,
        _ => args.epochs,
    };
    cfg.batch_size = args.batch_size;
    cfg.optimizer = args.optimizer;
    cfg.lr = if run.variant.is_stage2() {
        args.stage2_lr.unwrap_or(args.lr)
    } else {
        args.lr
    };
    cfg.weight_decay = args.optimizer.weight_decay(args.weight_decay);
    cfg.dropout = args.dropout;
    cfg.schedule = args.schedule;
    cfg.seed = run.seed;
    cfg.augment = args.augment.config();
    cfg.backend = args.backend;
    cfg.keep_best = args.keep_best;
    cfg.patience = args.patience;
    if run.variant.is_stage2() {
        cfg.init = run.dir.parent().map(|d| d.join(MTL));
    }
    cfg
}

fn data_specs(args: &StudyArgs) -> (DataSpec, DataSpec) {
    args.split.specs((
        DataSpec::Synthetic {
            count: args.synthetic,
            seed: 1,
        },
        DataSpec::Synthetic {
            count: (args.synthetic / 5).max(50),
            seed: SYNTHETIC_VALIDATION_SEED,
        },
    ))
}

/// The control starts from its stage-1 run's checkpoint: copies
/// `config.json` and `checkpoint/` (not the final model) into `dir`.
fn seed_control(stage1: &Path, dir: &Path) -> Result<()> {
    let (from, to) = (RunDir::new(stage1), RunDir::new(dir));
    let ckpt = from
        .resumable_checkpoint()
        .with_context(|| format!("{} has no checkpoint to continue as the control", stage1.display()))?;
    let tmp = dir.with_extension("copying");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    let tmp_dir = RunDir::new(&tmp);
    std::fs::create_dir_all(tmp_dir.checkpoint()).with_context(|| format!("creating {}", tmp.display()))?;
    std::fs::copy(from.config(), tmp_dir.config()).with_context(|| format!("copying {}", from.config().display()))?;
    copy_flat(&ckpt, &tmp_dir.checkpoint())?;
    if from.best().is_dir() {
        copy_flat(&from.best(), &tmp_dir.best())?;
    }
    std::fs::rename(&tmp, dir).with_context(|| format!("renaming {} to {}", tmp.display(), to.root.display()))
}

/// Copies the files directly in `from` into `to` (created).
fn copy_flat(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, to.join(name)).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// Fails when `run` exists and was started with another configuration.
fn check_settings(cfg: &TrainConfig, run: &Planned) -> Result<()> {
    let config = RunDir::new(&run.dir).config();
    if !config.is_file() {
        return Ok(());
    }
    let mut saved: TrainConfig = read_json(&config)?;
    if run.label == MTL_CONTROL && saved.epochs == cfg.epochs - run.epochs {
        saved.epochs = cfg.epochs; // copied from stage 1, not resumed yet
    }
    if &saved != cfg {
        bail!(
            "{} was trained with other settings than this study's; use another --out or delete it",
            run.dir.display()
        );
    }
    Ok(())
}

/// Trains `run` unless it finished before; true when it trained now.
fn ensure_trained(cfg: &TrainConfig, run: &Planned, data: &Dataset, val: &Dataset) -> Result<bool> {
    let dir = RunDir::new(&run.dir);
    if run.dir.join(MODEL_INFO_FILE).is_file() {
        return Ok(false);
    }
    if run.label == MTL_CONTROL && !run.dir.exists() {
        let stage1 = run.dir.with_file_name(MTL);
        seed_control(&stage1, &run.dir)?;
    }
    let resume = dir.resumable_checkpoint().is_some();
    train(cfg, data, Some(val), &run.dir, resume)?;
    Ok(true)
}

/// Evaluates a trained run (its best epoch with early stopping); the
/// shipped variant also in int8 with `calib`.
fn evaluate_run(args: &StudyArgs, run: &Planned, val: &Dataset, calib: &[Vec<u8>]) -> Result<StudyRun> {
    let dir = RunDir::new(&run.dir);
    let best = dir.best();
    let use_best = args.keep_best.is_some() && best.join(MODEL_INFO_FILE).is_file();
    let model_dir = if use_best { best.clone() } else { run.dir.clone() };
    let device = args.backend.device();
    let (net, info) = load_model(&model_dir, &device)?;
    let metrics = metrics_of(&float_predictions(&net, val, &device, 64)?, val);
    let int8 = if run.label == SHIPPED {
        let float = float_model(&net, &info)?;
        let options = QuantizeOptions {
            calibration: args.calibration.method(),
            ..QuantizeOptions::default()
        };
        let q = quantize(&float, calib, &options).map_err(|e| anyhow::anyhow!("{}: {e}", run.dir.display()))?;
        std::fs::write(run.dir.join("model.smnq"), &q.blob)
            .with_context(|| format!("writing {}", run.dir.join("model.smnq").display()))?;
        Some(metrics_of(&int8_predictions(&q.blob, val)?, val))
    } else {
        None
    };
    let history: Vec<EpochLog> = read_json(&dir.log_json())?;
    // Epochs are logged from 1; the control's own are those after stage 1's.
    let before = if run.label == MTL_CONTROL {
        args.stage1_epochs
    } else {
        0
    };
    let own: Vec<&EpochLog> = history.iter().filter(|l| l.epoch > before).collect();
    let best_epoch = if use_best {
        Some(read_json::<BestEpoch>(&best.join("best.json"))?.epoch)
    } else {
        None
    };
    Ok(StudyRun {
        seed: run.seed,
        label: run.label.to_string(),
        metrics,
        int8,
        epochs: own.len(),
        best_epoch,
        seconds: own.iter().map(|l| l.seconds).sum(),
        images_per_second: own.iter().map(|l| l.images_per_second).sum::<f64>() / own.len().max(1) as f64,
    })
}

/// `, weight decay 0.05, head dropout 0.3` (what is set), for the protocol.
fn regularisation_text(args: &StudyArgs) -> String {
    let mut text = String::new();
    if let Some(d) = args.optimizer.weight_decay(args.weight_decay) {
        text += &format!(", weight decay {d}");
    }
    if args.dropout > 0.0 {
        text += &format!(", head dropout {}", args.dropout);
    }
    text
}

fn protocol(args: &StudyArgs, arch: &Arch, specs: &(DataSpec, DataSpec), data: &Dataset, val: &Dataset) -> Protocol {
    Protocol {
        train_data: specs.0.to_string(),
        val_data: specs.1.to_string(),
        train_images: data.samples.len(),
        val_images: val.samples.len(),
        preset: args.arch.name(),
        input_size: arch.input_size,
        optimizer: format!(
            "{}{}, {} schedule",
            match args.optimizer {
                OptimizerKind::Adam | OptimizerKind::AdamW => format!("{} lr {}", args.optimizer.name(), args.lr),
                OptimizerKind::Sgd => format!("sgd lr {} momentum 0.9 dampening 0", args.lr),
            },
            args.stage2_lr
                .map_or(String::new(), |lr| format!(" (stage-2 variants lr {lr})")),
            options::schedule_text(&args.schedule)
        ) + &regularisation_text(args),
        stage1_epochs: args.stage1_epochs,
        stage2_epochs: args.epochs,
        batch_size: args.batch_size,
        augmentation: args.augment.config(),
        early_stopping: args.keep_best.map(|by| {
            let by = match by {
                BestBy::Nme => "lowest validation NME",
                BestBy::Accuracy => "highest validation accuracy",
            };
            match args.patience {
                Some(p) => format!("each run evaluated at its {by} epoch; patience {p}"),
                None => format!("each run evaluated at its {by} epoch"),
            }
        }),
        seeds: (1..=args.seeds as u64).collect(),
        backend: args.backend.name().to_string(),
    }
}

/// Figures: the CED per landmark of every variant (seed means) and the
/// training curves of seed 1.
fn figures(args: &StudyArgs, result: &StudyResult, runs: &[Planned]) -> Result<Vec<(String, String)>> {
    let dir = args.out.join("figures");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let means: Vec<(&str, crate::evaluation::metrics::Metrics)> = labels()
        .into_iter()
        .filter_map(|l| result.mean_metrics(l).map(|m| (l, m)))
        .collect();
    let rows: Vec<(&str, &crate::evaluation::metrics::Metrics)> = means.iter().map(|(l, m)| (*l, m)).collect();
    ced_figure(&dir.join("ced.png"), &rows)?;
    let mut out = vec![(
        "ced.png".to_string(),
        format!(
            "Cumulative error distribution per landmark (paper Fig. 3), mean over {} seed(s), validation set.",
            args.seeds
        ),
    )];
    let histories: Vec<(&str, usize, Vec<EpochLog>)> = runs
        .iter()
        .filter(|r| r.seed == 1)
        .filter_map(|r| {
            let h = read_json(&RunDir::new(&r.dir).log_json()).ok()?;
            let offset = if r.variant.is_stage2() { args.stage1_epochs } else { 0 };
            Some((r.label, offset, h))
        })
        .collect();
    let curves: Vec<TrainingCurve<'_>> = histories
        .iter()
        .map(|(label, offset, h)| TrainingCurve {
            label,
            epoch_offset: *offset,
            history: h,
        })
        .collect();
    if !curves.is_empty() {
        training_figure(&dir.join("training-seed-1.png"), &curves)?;
        out.push((
            "training-seed-1.png".into(),
            "Training loss and validation metrics per epoch, seed 1 (stage-2 runs continue the stage-1 axis).".into(),
        ));
    }
    Ok(out)
}

/// Seconds earlier invocations of this study ran (`OUT/wall-seconds.json`).
fn earlier_seconds(out: &Path) -> f64 {
    read_json::<f64>(&out.join("wall-seconds.json")).unwrap_or(0.0)
}

/// Runs `smn study`.
pub fn run(args: &StudyArgs) -> Result<String> {
    let started = Instant::now();
    let arch = args.arch.arch()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let before = earlier_seconds(&args.out);
    let specs = data_specs(args);
    eprintln!("study: data {} | validation {}", specs.0, specs.1);
    let data = load_dataset(&specs.0, arch.input_size, None)?;
    let val = load_dataset(&specs.1, arch.input_size, None)?;
    if data.samples.len() < 2 || val.samples.is_empty() {
        bail!("empty training or validation selection (use --train-ids / --val-ids with --data)");
    }
    let calib = data.evenly_spaced_images(args.calib_count);
    let runs = plan(args);
    let total_epochs: usize = runs.iter().map(|r| r.epochs).sum();
    let (mut done_epochs, mut trained_epochs, mut trained_seconds, mut trained_runs) = (0usize, 0usize, 0.0f64, 0usize);
    let mut results = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let cfg = config(args, &arch, run);
        check_settings(&cfg, run)?;
        let cache = run.dir.join("study-eval.json");
        if let Ok(done) = read_json::<StudyRun>(&cache) {
            done_epochs += run.epochs;
            results.push(done);
            continue;
        }
        if args.max_runs.is_some_and(|max| trained_runs >= max) {
            write_json(
                &args.out.join("wall-seconds.json"),
                &(before + started.elapsed().as_secs_f64()),
            )?;
            return Ok(format!(
                "study: stopped after training {trained_runs} run(s) (--max-runs); {} of {} runs done; run the same command again to continue\n",
                results.len(),
                runs.len()
            ));
        }
        let eta = if trained_epochs > 0 {
            let left = total_epochs.saturating_sub(done_epochs) as f64;
            format!(", ETA {:.0} min", left * trained_seconds / trained_epochs as f64 / 60.0)
        } else {
            String::new()
        };
        eprintln!(
            "study: run {}/{}: seed {} {} ({} epochs){eta}",
            i + 1,
            runs.len(),
            run.seed,
            run.label,
            run.epochs
        );
        let t = Instant::now();
        if ensure_trained(&cfg, run, &data, &val)? {
            trained_runs += 1;
            trained_epochs += run.epochs;
            trained_seconds += t.elapsed().as_secs_f64();
        }
        done_epochs += run.epochs;
        let evaluated = evaluate_run(args, run, &val, &calib)?;
        write_json(&cache, &evaluated)?;
        results.push(evaluated);
    }
    let wall = before + started.elapsed().as_secs_f64();
    write_json(&args.out.join("wall-seconds.json"), &wall)?;
    let result = StudyResult {
        protocol: protocol(args, &arch, &specs, &data, &val),
        runs: results,
        wall_seconds: wall,
    };
    let figs = figures(args, &result, &runs)?;
    write_json(&args.out.join("study.json"), &result)?;
    let md = study_markdown(&result, &figs);
    let report = args.out.join("report.md");
    std::fs::write(&report, &md).with_context(|| format!("writing {}", report.display()))?;
    Ok(format!(
        "{}\nreport: {}\n",
        crate::report::study::verdicts(&result),
        report.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::options::parse_group;

    fn regularisation(args: &[&str]) -> String {
        regularisation_text(&parse_group::<StudyArgs>(args).unwrap())
    }

    #[test]
    fn the_protocol_names_the_regularisation_that_is_set() {
        assert_eq!(regularisation(&[]), ", weight decay 0.2");
        assert_eq!(regularisation(&["--optimizer", "adam"]), "");
        assert_eq!(
            regularisation(&["--optimizer", "adamw", "--weight-decay", "0.05", "--dropout", "0.3"]),
            ", weight decay 0.05, head dropout 0.3"
        );
        assert_eq!(regularisation(&["--weight-decay", "0.0005"]), ", weight decay 0.0005");
        assert!(parse_group::<StudyArgs>(&["--dropout", "1"]).is_err());
    }
}
