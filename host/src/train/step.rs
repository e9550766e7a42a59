//! One optimisation step: the optimiser a configuration asks for, and
//! forward → loss → backward → update on one batch.
use super::config::{OptimizerKind, TrainConfig};
use super::loss::{losses, LossConfig, Losses};
use crate::model::batch::Batch;
use crate::model::SmnNet;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};

/// The optimiser of `cfg` (momentum SGD with its dampening, or Adam), with
/// its weight decay.
pub(crate) fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let decay = cfg.weight_decay.map(burn::optim::decay::WeightDecayConfig::new);
    match cfg.optimizer {
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(MomentumConfig {
                momentum: cfg.momentum,
                dampening: cfg.dampening,
                nesterov: false,
            }))
            .with_weight_decay(decay)
            .init(),
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).with_weight_decay(decay).init(),
    }
}

/// One optimiser step on `batch`: forward, loss, backward, update. Returns
/// the updated network and the batch's losses (computed before the update).
pub(crate) fn training_step(
    model: SmnNet,
    optim: &mut ModuleOptimizer,
    batch: &Batch,
    loss: &LossConfig,
    lr: f64,
) -> anyhow::Result<(SmnNet, Losses)> {
    let out = model.forward(batch.images.clone()).map_err(anyhow::Error::msg)?;
    let l = losses(&out, batch, loss);
    let grads = GradientsParams::from_grads(l.total.backward(), &model);
    Ok((optim.step(lr, model, grads), l))
}
