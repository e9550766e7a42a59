//! `smn train`.
use super::arch_args::ArchArgs;
use super::augment_args::AugmentArgs;
use super::data_args::DataArgs;
use super::options::{self, IdRange, VariantArg};
use crate::data::celeba::{Partition, Selection};
use crate::data::dataset::{load_dataset, DataSpec, SYNTHETIC_VALIDATION_SEED};
use crate::model::backend::BackendKind;
use crate::model::Variant;
use crate::train::best::BestBy;
use crate::train::config::{LrSchedule, OptimizerKind, TrainConfig};
use crate::train::loss::{LandmarkLoss, LossConfig};
use crate::train::run_dir::RunDir;
use crate::train::trainer::train;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// `smn train` options (paper defaults).
#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct TrainArgs {
    /// Options from a TOML file whose keys are these long flags (a run's
    /// `config.toml` reproduces it); flags given here win.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// 1: multi-task net (MTL); 2: SMN branches on a frozen stage-1 net.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub stage: u8,
    /// Variant: stage 1 is mtl; stage 2 takes smn, smn-1x1 or smn-1x1-ft (default).
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,
    /// Architecture: preset and overrides.
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Data selection.
    #[command(flatten)]
    pub data: DataArgs,
    /// Validation image ids (with --data), e.g. 3001-3329; default: the val partition.
    #[arg(long)]
    pub val_ids: Option<IdRange>,
    /// Validation partitions (with --data), comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = options::partition)]
    pub val_partition: Vec<Partition>,
    /// Epochs.
    #[arg(long, default_value_t = 100, value_parser = options::at_least_one)]
    pub epochs: usize,
    /// Batch size (≥ 2: batch norm).
    #[arg(long, default_value_t = 32, value_parser = options::batch_size)]
    pub batch_size: usize,
    /// Optimiser: sgd (momentum, dampening 0), adam or adamw.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = 0.001, value_parser = options::positive)]
    pub lr: f64,
    /// SGD momentum, in [0, 1).
    #[arg(long, default_value_t = 0.9, value_parser = options::momentum)]
    pub momentum: f64,
    /// Weight decay: an L2 term in the gradient with sgd and adam; decoupled
    /// (`w -= lr · decay · w`) with adamw, whose default is 0.2.
    #[arg(long, value_parser = options::non_negative)]
    pub weight_decay: Option<f32>,
    /// Dropout probability on each head's input features while training, in [0, 1).
    #[arg(long, default_value_t = 0.0, value_parser = options::dropout)]
    pub dropout: f64,
    /// LR schedule: constant, cosine, step:EVERY:GAMMA.
    #[arg(long, default_value = "constant", value_parser = options::schedule)]
    pub schedule: LrSchedule,
    /// Weight of the landmark loss.
    #[arg(long, default_value_t = 1.0, value_parser = options::non_negative)]
    pub landmark_weight: f32,
    /// Weight of the attribute loss.
    #[arg(long, default_value_t = 1.0, value_parser = options::non_negative)]
    pub attribute_weight: f32,
    /// Landmark loss.
    #[arg(long, value_enum, default_value_t = LandmarkLoss::L2)]
    pub landmark_loss: LandmarkLoss,
    /// Augmentation.
    #[command(flatten)]
    pub augment: AugmentArgs,
    /// Stage 1: train the heads on raw targets instead of targets
    /// standardised by the training set's mean and spread (the default).
    #[arg(long)]
    pub raw_targets: bool,
    /// Also keep the best validation epoch's model in OUT/best/ (by `nme`
    /// or `accuracy`); use it as `--model OUT/best` or `--init OUT/best`.
    #[arg(long, value_enum)]
    pub keep_best: Option<BestBy>,
    /// With --keep-best: stop early once N epochs pass without a better one.
    #[arg(long, value_name = "N", value_parser = options::at_least_one)]
    pub patience: Option<usize>,
    /// Seed (initialisation, data order, augmentation, synthetic data).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Backend: flex (CPU, default), ndarray (CPU), wgpu (GPU).
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
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

impl TrainArgs {
    /// The variant these options train.
    pub fn variant(&self) -> Result<Variant> {
        match (self.stage, self.variant.map(|v| v.0)) {
            (1, None | Some(Variant::Mtl)) => Ok(Variant::Mtl),
            (1, Some(v)) => bail!(
                "--variant {}: a stage-2 variant; stage 1 trains mtl (give --stage 2 --init RUN1)",
                v.name()
            ),
            (_, None) => Ok(Variant::Smn1x1Ft),
            (_, Some(Variant::Mtl)) => bail!("--variant mtl: stage 2 takes smn, smn-1x1 or smn-1x1-ft"),
            (_, Some(v)) => Ok(v),
        }
    }

    /// The training configuration these options describe.
    pub fn config(&self) -> Result<TrainConfig> {
        let variant = self.variant()?;
        if variant.is_stage2() && self.init.is_none() {
            bail!("stage 2 needs --init RUN1 (a finished stage-1 run directory)");
        }
        let mut cfg = TrainConfig::paper(variant, self.arch.arch()?);
        cfg.epochs = self.epochs;
        cfg.batch_size = self.batch_size;
        cfg.optimizer = self.optimizer;
        cfg.lr = self.lr;
        cfg.momentum = self.momentum;
        cfg.weight_decay = self.optimizer.weight_decay(self.weight_decay);
        cfg.dropout = self.dropout;
        cfg.schedule = self.schedule;
        cfg.loss = LossConfig {
            landmark_weight: self.landmark_weight,
            attribute_weight: self.attribute_weight,
            landmark_loss: self.landmark_loss,
        };
        cfg.augment = self.augment.config();
        cfg.standardise_targets = !self.raw_targets;
        cfg.keep_best = self.keep_best;
        cfg.patience = self.patience;
        cfg.seed = self.seed;
        cfg.backend = self.backend;
        cfg.init = self.init.clone();
        Ok(cfg)
    }

    /// The validation data spec: `--val-ids`/`--val-partition` of `--data`
    /// (default: its val partition), or a tenth as many synthetic faces.
    fn validation(&self) -> DataSpec {
        match &self.data.data {
            Some(dir) => {
                let partitions = match (self.val_partition.is_empty(), &self.val_ids) {
                    (false, _) => self.val_partition.clone(),
                    (true, Some(_)) => Vec::new(),
                    (true, None) => vec![Partition::Val],
                };
                DataSpec::Celeba {
                    dir: dir.clone(),
                    selection: Selection {
                        partitions,
                        ids: self.val_ids.as_ref().map(|r| r.0.clone()),
                        fraction: None,
                    },
                    skip_bad: self.data.skip_bad,
                }
            }
            None => DataSpec::Synthetic {
                count: (self.data.synthetic.unwrap_or(2000) / 10).max(16),
                seed: self.seed + SYNTHETIC_VALIDATION_SEED,
            },
        }
    }
}

/// Runs `smn train`; returns the report printed at the end. `config_toml`
/// (the options as a `--config` file) is saved as `OUT/config.toml`.
pub fn run(args: &TrainArgs, config_toml: &str) -> Result<String> {
    let cfg = args.config()?;
    let size = cfg.arch.input_size;
    let data = load_dataset(
        &args.data.spec(Partition::Train, cfg.seed),
        size,
        args.data.cache.as_deref(),
    )?;
    if !data.skipped.is_empty() {
        eprintln!("--skip-bad: skipped {} bad rows/images:", data.skipped.len());
        for s in data.skipped.iter().take(20) {
            eprintln!("  {}", s.error);
        }
    }
    let val = load_dataset(&args.validation(), size, None)?;
    let val = if val.samples.is_empty() {
        eprintln!("note: the validation selection is empty; training without validation");
        None
    } else {
        Some(val)
    };
    eprintln!(
        "training stage {} ({}) on {} images, {} validation, preset {}×{}, backend {}, {} epochs",
        cfg.stage(),
        cfg.variant.name(),
        data.samples.len(),
        val.as_ref().map_or(0, |v| v.samples.len()),
        size,
        size,
        cfg.backend.name(),
        cfg.epochs
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create run directory {}", args.out.display()))?;
    let config_file = RunDir::new(&args.out).config_toml();
    std::fs::write(&config_file, config_toml).with_context(|| format!("cannot write {}", config_file.display()))?;
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
