//! One optimisation step: the optimiser a configuration asks for, and
//! forward → loss → backward → update on one batch.
use super::config::{OptimizerKind, TrainConfig, ADAMW_DEFAULT_DECAY};
use super::loss::{losses, LossConfig, Losses};
use crate::model::batch::Batch;
use crate::model::SmnNet;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};

/// The optimiser of `cfg` (momentum SGD with its dampening, Adam or AdamW),
/// with its weight decay: an L2 term in the gradient for SGD and Adam,
/// decoupled for AdamW.
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
        OptimizerKind::AdamW => AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(cfg.weight_decay.unwrap_or(ADAMW_DEFAULT_DECAY))
            .init(),
    }
}

/// One optimiser step on `batch`: forward (with `dropout` on the heads'
/// features), loss, backward, update. Returns the updated network and the
/// batch's losses (computed before the update).
pub(crate) fn training_step(
    model: SmnNet,
    optim: &mut ModuleOptimizer,
    batch: &Batch,
    loss: &LossConfig,
    lr: f64,
    dropout: f64,
) -> anyhow::Result<(SmnNet, Losses)> {
    let out = model
        .forward_with_dropout(batch.images.clone(), dropout)
        .map_err(anyhow::Error::msg)?;
    let l = losses(&out, batch, loss);
    let grads = GradientsParams::from_grads(l.total.backward(), &model);
    Ok((optim.step(lr, model, grads), l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{load_dataset, DataSpec};
    use crate::model::backend::BackendKind;
    use crate::model::batch::make_batch;
    use crate::model::{Arch, Variant};
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::prelude::*;

    /// Every parameter value, in module order.
    struct Values(Vec<f32>);

    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().into_data().try_to_vec::<f32>().unwrap_or_default());
        }
    }

    fn values(net: &SmnNet) -> Vec<f32> {
        let mut v = Values(Vec::new());
        net.visit(&mut v);
        v.0
    }

    /// The tiny net's parameters before and after one step of `kind`.
    fn one_step(kind: OptimizerKind, decay: Option<f32>, lr: f64) -> (Vec<f32>, Vec<f32>) {
        let arch = Arch::tiny();
        let device = BackendKind::Flex.device().autodiff();
        device.seed(3);
        let net = SmnNet::stage1(&arch, &device);
        let before = values(&net);
        let mut cfg = TrainConfig::paper(Variant::Mtl, arch.clone());
        cfg.optimizer = kind;
        cfg.weight_decay = decay;
        let data = load_dataset(&DataSpec::Synthetic { count: 4, seed: 5 }, arch.input_size, None).unwrap();
        let samples: Vec<_> = (0..4).filter_map(|i| data.samples.get(i)).collect();
        let refs: Vec<_> = samples.iter().collect();
        let batch = make_batch(&refs, arch.input_size, &device);
        let (net, _) = training_step(net, &mut optimizer(&cfg), &batch, &LossConfig::default(), lr, 0.0).unwrap();
        (before, values(&net))
    }

    #[test]
    fn adamw_is_adam_plus_a_decay_proportional_to_lr_times_the_weight() {
        let (lr, decay) = (0.01, 5.0);
        let (w0, adam) = one_step(OptimizerKind::Adam, None, lr);
        let (w0_again, adamw) = one_step(OptimizerKind::AdamW, Some(decay), lr);
        assert_eq!(w0, w0_again);
        assert!(w0.len() > 1000);
        let mut decayed = 0;
        for ((&w, &a), &b) in w0.iter().zip(&adam).zip(&adamw) {
            if a == w {
                // A zero gradient (a dead unit) or no gradient (the heads'
                // output maps): Adam leaves it, nothing to compare.
                continue;
            }
            let expected = lr as f32 * decay * w;
            assert!(
                (a - b - expected).abs() <= 1e-6 + 1e-4 * expected.abs(),
                "{w}: adam {a}, adamw {b}"
            );
            decayed += usize::from(expected.abs() > 1e-4);
        }
        assert!(decayed > w0.len() / 2, "{decayed} of {}", w0.len());
        // Without --weight-decay AdamW still decays, by its default.
        let (_, adam) = one_step(OptimizerKind::Adam, None, 1.0);
        let (_, default) = one_step(OptimizerKind::AdamW, None, 1.0);
        let mut checked = 0;
        for ((&w, &a), &b) in w0
            .iter()
            .zip(&adam)
            .zip(&default)
            .filter(|((w, a), _)| w.abs() > 0.1 && a != w)
        {
            let expected = ADAMW_DEFAULT_DECAY * w;
            assert!(
                (a - b - expected).abs() <= 0.2 * expected.abs(),
                "{w}: {} vs {expected}",
                a - b
            );
            checked += 1;
        }
        assert!(checked > 10, "{checked}");
    }
}
