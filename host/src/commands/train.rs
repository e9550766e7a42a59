//! `smn train`.
use super::data_args::{parse_ids, parse_partitions, DataArgs};
use super::values;
use crate::data::celeba::{Partition, Selection};
use crate::model::Variant;
use crate::train::best::BestBy;
use crate::train::dataset::{load_dataset, DataSpec};
use crate::train::loss::{LandmarkLoss, LossConfig};
use crate::train::run_dir::RunDir;
use crate::train::trainer::{train, AugmentConfig, LrSchedule, TrainConfig};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Seed offset of the synthetic validation set (disjoint from training).
pub const SYNTHETIC_VALIDATION_SEED: u64 = 1_000_003;
/// Seed offset of the synthetic evaluation set.
pub const SYNTHETIC_TEST_SEED: u64 = 2_000_003;

/// `smn train` options (paper defaults).
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// 1: multi-task net (MTL); 2: SMN branches on a frozen stage-1 net.
    #[arg(long)]
    pub stage: u8,
    /// Stage-2 variant: smn, smn-1x1, smn-1x1-ft (stage 1 is always mtl).
    #[arg(long, default_value = "smn-1x1-ft")]
    pub variant: String,
    /// Architecture preset: paper (128×128), micro (64×64, Cortex-M4), tiny (tests).
    #[arg(long, default_value = "micro")]
    pub preset: String,
    /// Data selection.
    #[command(flatten)]
    pub data: DataArgs,
    /// Validation image ids (with --data), e.g. 3001-3329; default: the val partition.
    #[arg(long)]
    pub val_ids: Option<String>,
    /// Validation partitions (with --data).
    #[arg(long)]
    pub val_partition: Option<String>,
    /// Epochs.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Optimiser: sgd (momentum, dampening 0) or adam.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// Learning rate.
    #[arg(long, default_value_t = 0.001)]
    pub lr: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// L2 weight decay.
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// LR schedule: constant, cosine, step:EVERY:GAMMA.
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    /// Weight of the landmark loss.
    #[arg(long, default_value_t = 1.0)]
    pub landmark_weight: f32,
    /// Weight of the attribute loss.
    #[arg(long, default_value_t = 1.0)]
    pub attribute_weight: f32,
    /// Landmark loss: l2 or smooth-l1.
    #[arg(long, default_value = "l2")]
    pub landmark_loss: String,
    /// Augment (flip, shift/scale/rotation, colour jitter).
    #[arg(long)]
    pub augment: bool,
    /// Stage 1: train the heads on raw targets instead of targets
    /// standardised by the training set's mean and spread (the default).
    #[arg(long)]
    pub raw_targets: bool,
    /// Also keep the best validation epoch's model in OUT/best/ (by `nme`
    /// or `accuracy`); use it as `--model OUT/best` or `--init OUT/best`.
    #[arg(long)]
    pub keep_best: Option<String>,
    /// With --keep-best: stop early once N epochs pass without a better one.
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Seed (initialisation, data order, augmentation, synthetic data).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Backend: flex (CPU, default), ndarray (CPU), wgpu (GPU).
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Stage-1 run directory (stage 2).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Run directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

fn parse_schedule(text: &str) -> Result<LrSchedule> {
    match text.split(':').collect::<Vec<_>>().as_slice() {
        ["constant"] => Ok(LrSchedule::Constant),
        ["cosine"] => Ok(LrSchedule::Cosine),
        ["step", every, gamma] => Ok(LrSchedule::Step {
            every: every
                .parse()
                .with_context(|| format!("--schedule {text}: bad epoch count"))?,
            gamma: gamma
                .parse()
                .with_context(|| format!("--schedule {text}: bad factor"))?,
        }),
        _ => bail!("--schedule '{text}': expected constant, cosine or step:EVERY:GAMMA"),
    }
}

impl TrainArgs {
    /// The training configuration these options describe.
    pub fn config(&self) -> Result<TrainConfig> {
        let arch = values::preset(&self.preset)?;
        let variant = match self.stage {
            1 => Variant::Mtl,
            2 => match Variant::parse(&self.variant) {
                Some(Variant::Mtl) | None => {
                    bail!("--variant '{}': stage 2 takes smn, smn-1x1 or smn-1x1-ft", self.variant)
                }
                Some(v) => v,
            },
            s => bail!("--stage {s}: must be 1 or 2"),
        };
        if self.stage == 2 && self.init.is_none() {
            bail!("stage 2 needs --init RUN1 (a finished stage-1 run directory)");
        }
        let mut cfg = TrainConfig::paper(self.stage, variant, arch);
        cfg.epochs = self.epochs;
        cfg.batch_size = self.batch_size.max(2);
        cfg.optimizer = values::optimizer(&self.optimizer)?;
        cfg.lr = self.lr;
        cfg.momentum = self.momentum;
        cfg.weight_decay = self.weight_decay;
        cfg.schedule = parse_schedule(&self.schedule)?;
        cfg.loss = LossConfig {
            landmark_weight: self.landmark_weight,
            attribute_weight: self.attribute_weight,
            landmark_loss: match self.landmark_loss.as_str() {
                "l2" => LandmarkLoss::L2,
                "smooth-l1" => LandmarkLoss::SmoothL1,
                o => bail!("--landmark-loss '{o}': l2 or smooth-l1"),
            },
        };
        cfg.augment = self.augment.then(AugmentConfig::default);
        cfg.standardise_targets = !self.raw_targets;
        cfg.keep_best = self
            .keep_best
            .as_deref()
            .map(|b| BestBy::parse(b).with_context(|| format!("--keep-best '{b}': nme or accuracy")))
            .transpose()?;
        cfg.patience = self.patience;
        cfg.seed = self.seed;
        cfg.backend = values::backend(&self.backend)?;
        cfg.init = self.init.clone();
        Ok(cfg)
    }

    /// The validation data spec, if any.
    fn validation(&self) -> Result<Option<DataSpec>> {
        match (&self.data.data, &self.data.synthetic) {
            (Some(dir), _) => {
                let partitions = match (&self.val_partition, &self.val_ids) {
                    (Some(p), _) => parse_partitions(p)?,
                    (None, Some(_)) => Vec::new(),
                    (None, None) => vec![Partition::Val],
                };
                let ids = self.val_ids.as_deref().map(parse_ids).transpose()?;
                Ok(Some(DataSpec::Celeba {
                    dir: dir.clone(),
                    selection: Selection {
                        partitions,
                        ids,
                        fraction: None,
                    },
                    skip_bad: self.data.skip_bad,
                }))
            }
            (None, count) => {
                let n = (count.unwrap_or(2000) / 10).max(16);
                Ok(Some(DataSpec::Synthetic {
                    count: n,
                    seed: self.seed + SYNTHETIC_VALIDATION_SEED,
                }))
            }
        }
    }
}

/// Runs `smn train`; returns the report printed at the end.
pub fn run(args: &TrainArgs) -> Result<String> {
    let cfg = args.config()?;
    let size = cfg.arch.input_size;
    let data = load_dataset(
        &args.data.spec(Partition::Train, cfg.seed)?,
        size,
        args.data.cache.as_deref(),
    )?;
    if !data.skipped.is_empty() {
        eprintln!("--skip-bad: skipped {} bad rows/images:", data.skipped.len());
        for s in data.skipped.iter().take(20) {
            eprintln!("  {}", s.error);
        }
    }
    let val = match args.validation()? {
        Some(spec) => {
            let v = load_dataset(&spec, size, None)?;
            if v.samples.is_empty() {
                eprintln!("note: the validation selection is empty; training without validation");
                None
            } else {
                Some(v)
            }
        }
        None => None,
    };
    eprintln!(
        "training stage {} ({}) on {} images, {} validation, preset {}×{}, backend {}, {} epochs",
        cfg.stage,
        cfg.variant.name(),
        data.samples.len(),
        val.as_ref().map_or(0, |v| v.samples.len()),
        size,
        size,
        cfg.backend.name(),
        cfg.epochs
    );
    let summary = train(&cfg, &data, val.as_ref(), &args.out, args.resume)?;
    let mut report = format!(
        "run {} finished: {} epochs\n",
        args.out.display(),
        summary.history.len()
    );
    if let Some(last) = summary.history.last() {
        report.push_str(&format!("final training loss {:.4}\n", last.loss));
    }
    if let Some(m) = &summary.validation {
        report.push_str(&format!(
            "validation: mean NME {:.4}, mean attribute accuracy {:.2} %\n",
            m.mean_nme,
            100.0 * m.mean_attribute_accuracy
        ));
    }
    if let Some(b) = &summary.best {
        report.push_str(&format!(
            "best epoch {} (validation {} {:.4}) kept in {}\n",
            b.epoch,
            match b.by {
                BestBy::Nme => "mean NME",
                BestBy::Accuracy => "mean attribute accuracy",
            },
            b.value,
            RunDir::new(&args.out).best().display()
        ));
    }
    Ok(report)
}
