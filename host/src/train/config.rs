//! What a training run is configured with (`RUN/config.json`): stage,
//! variant, architecture, optimiser, schedule, loss, augmentation, backend.
use super::best::BestBy;
use super::loss::LossConfig;
use crate::data::transform::Augment;
use crate::model::backend::BackendKind;
use crate::model::store::{ModelInfo, MODEL_FORMAT};
use crate::model::{Arch, Variant};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Momentum SGD (the paper: lr 0.001, momentum 0.9, dampening 0).
    Sgd,
    /// Adam (β 0.9/0.999, ε 1e-8).
    Adam,
    /// AdamW: Adam with decoupled weight decay, `w -= lr · decay · w` each
    /// step (β 0.9/0.999, ε 1e-8; decay 0.2 unless given).
    #[serde(rename = "adamw")]
    #[value(name = "adamw")]
    AdamW,
}

/// Decoupled weight decay of AdamW when `--weight-decay` is not given: the
/// best of 0.05, 0.2 on celeba-14k (docs/results.md; burn's default, 1e-4,
/// is too weak to change the net).
pub const ADAMW_DEFAULT_DECAY: f32 = 0.2;

impl OptimizerKind {
    /// The weight decay a run records: `given`, else AdamW's default
    /// ([`ADAMW_DEFAULT_DECAY`]); none for SGD and Adam.
    pub fn weight_decay(self, given: Option<f32>) -> Option<f32> {
        given.or((self == OptimizerKind::AdamW).then_some(ADAMW_DEFAULT_DECAY))
    }

    /// The name on the command line and in reports: `sgd`, `adam`, `adamw`.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

/// Learning-rate schedule over epochs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LrSchedule {
    /// The base rate throughout (the paper).
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine decay to 0 over the run.
    Cosine,
}

impl LrSchedule {
    /// Learning rate of `epoch` (0-based) of `epochs`.
    pub fn rate(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            LrSchedule::Cosine => {
                base * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs.max(1) as f64).cos())
            }
        }
    }
}

/// Everything a training run is configured with (saved as `config.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// `mtl` trains stage 1; a stage-2 variant trains stage 2 (from `init`).
    pub variant: Variant,
    /// Network sizes.
    pub arch: Arch,
    /// Epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD dampening (0 as in the paper; burn's default would be 0.1).
    pub dampening: f64,
    /// Weight decay, if any (L2 for sgd and adam, decoupled for adamw).
    pub weight_decay: Option<f32>,
    /// Dropout probability on each head's input features while training
    /// (0: none, the paper).
    #[serde(default)]
    pub dropout: f64,
    /// Schedule.
    pub schedule: LrSchedule,
    /// Loss weights and kind.
    pub loss: LossConfig,
    /// Seed of initialisation, data order and augmentation.
    pub seed: u64,
    /// Augmentation (flip, shift/scale/rotation, colour); `None` = off.
    pub augment: Option<Augment>,
    /// Backend.
    pub backend: BackendKind,
    /// Stage-1 run directory (stage 2 only).
    pub init: Option<PathBuf>,
    /// Stage 1: heads predict targets standardised by the training set's
    /// statistics (`target_stats`); stage 2 inherits stage 1's maps.
    #[serde(default = "yes")]
    pub standardise_targets: bool,
    /// Keep the best validation epoch's model in `RUN/best/` (needs a validation set).
    #[serde(default)]
    pub keep_best: Option<BestBy>,
    /// With `keep_best`: stop once this many epochs pass without a better one.
    #[serde(default)]
    pub patience: Option<usize>,
}

fn yes() -> bool {
    true
}

impl TrainConfig {
    /// The paper's settings for `arch`: batch 32, 100 epochs, momentum SGD lr 0.001, momentum 0.9, dampening 0
    /// — plus target standardisation, which the paper does not describe (set
    /// `standardise_targets = false` for raw targets).
    pub fn paper(variant: Variant, arch: Arch) -> Self {
        TrainConfig {
            variant,
            arch,
            epochs: 100,
            batch_size: 32,
            optimizer: OptimizerKind::Sgd,
            lr: 0.001,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: None,
            dropout: 0.0,
            schedule: LrSchedule::Constant,
            loss: LossConfig::default(),
            seed: 1,
            augment: None,
            backend: BackendKind::Flex,
            init: None,
            standardise_targets: true,
            keep_best: None,
            patience: None,
        }
    }
}

impl TrainConfig {
    /// 1 for `mtl`, 2 for the stage-2 variants (a stage-1 run cannot have a
    /// stage-2 variant: the stage is what the variant says).
    pub fn stage(&self) -> u8 {
        if self.variant.is_stage2() {
            2
        } else {
            1
        }
    }

    /// What `model.json` says about a model trained with this configuration.
    pub fn model_info(&self) -> ModelInfo {
        ModelInfo {
            format: MODEL_FORMAT.into(),
            arch: self.arch.clone(),
            variant: self.variant,
            pixel_mean: crate::model::batch::PIXEL_MEAN,
            pixel_std: crate::model::batch::PIXEL_STD,
        }
    }
}
