//! The multi-task loss `E_all = w_l · E_landmarks + w_a · E_attributes`
//! (paper eq. 1 with `w_l = w_a = 1` by default).
//!
//! * `E_landmarks`: per image, the sum over the 10 normalised coordinates of
//!   the squared error (L2), or of smooth-L1 (β = 0.01) — averaged over the batch.
//! * `E_attributes`: binary cross-entropy with logits averaged over the known
//!   (mask = 1) attribute labels.
use crate::model::batch::Batch;
use crate::model::net::Outputs;
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use serde::{Deserialize, Serialize};

/// Landmark regression loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LandmarkLoss {
    /// Squared error.
    L2,
    /// Smooth L1 with β = 0.01 (normalised units).
    SmoothL1,
}

/// Loss weights and kind.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossConfig {
    /// Weight of the landmark loss.
    pub landmark_weight: f32,
    /// Weight of the attribute loss.
    pub attribute_weight: f32,
    /// Landmark loss kind.
    pub landmark_loss: LandmarkLoss,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            landmark_weight: 1.0,
            attribute_weight: 1.0,
            landmark_loss: LandmarkLoss::L2,
        }
    }
}

/// The total loss (for backward) and its two parts.
pub struct Losses {
    /// `w_l · E_landmarks + w_a · E_attributes`, shape `[1]`.
    pub total: Tensor<1>,
    /// `E_landmarks`, shape `[1]`.
    pub landmarks: Tensor<1>,
    /// `E_attributes`, shape `[1]`.
    pub attributes: Tensor<1>,
}

/// Computes the losses of `out` against `batch`.
pub fn losses(out: &Outputs, batch: &Batch, cfg: &LossConfig) -> Losses {
    let diff = out.landmarks.clone() - batch.landmarks.clone();
    let per_coord = match cfg.landmark_loss {
        LandmarkLoss::L2 => diff.clone() * diff,
        LandmarkLoss::SmoothL1 => {
            let beta = 0.01f32;
            let a = diff.abs();
            let quadratic = a.clone() * a.clone() * (0.5 / beta);
            let linear = a.clone() - 0.5 * beta;
            quadratic.mask_where(a.greater_elem(beta), linear)
        }
    };
    let e_landmarks = per_coord.sum_dim(1).mean();
    let x = out.attributes.clone();
    let t = batch.attributes.clone();
    // BCE with logits: −[t·log σ(x) + (1 − t)·log σ(−x)]
    let bce = (t.clone() * log_sigmoid(x.clone()) + (t.neg() + 1.0) * log_sigmoid(x.neg())).neg();
    let known = batch.mask.clone().sum().clamp_min(1.0);
    let e_attributes = (bce * batch.mask.clone()).sum() / known;
    let total = e_landmarks.clone() * cfg.landmark_weight + e_attributes.clone() * cfg.attribute_weight;
    Losses {
        total,
        landmarks: e_landmarks,
        attributes: e_attributes,
    }
}
