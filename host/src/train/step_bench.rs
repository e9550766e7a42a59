//! Training-step throughput of one backend on the real network, loss and
//! optimiser (for `smn bench-train` and the PyTorch peer script
//! `benches/torch_train_step.py`).
use super::config::TrainConfig;
use super::loss::LossConfig;
use super::step::{optimizer, training_step};
use crate::data::dataset::{load_dataset, DataSpec};
use crate::model::backend::BackendKind;
use crate::model::batch::make_batch;
use crate::model::{Arch, SmnNet, Variant};
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

/// Measured training-step rate.
#[derive(Clone, Debug, Serialize)]
pub struct StepRate {
    /// Backend name.
    pub backend: String,
    /// Variant trained (`mtl` = stage 1).
    pub variant: String,
    /// Input side.
    pub input_size: usize,
    /// Batch size.
    pub batch: usize,
    /// Timed steps (after warm-up).
    pub steps: usize,
    /// Mean seconds per step (forward, backward, SGD update).
    pub seconds_per_step: f64,
    /// Images per second.
    pub images_per_second: f64,
}

/// Times `steps` SGD steps (after `warmup`) of `variant` on one fixed batch
/// of synthetic faces.
pub fn step_rate(
    backend: BackendKind,
    arch: &Arch,
    variant: Variant,
    batch: usize,
    warmup: usize,
    steps: usize,
) -> Result<StepRate> {
    let device = backend.device().autodiff();
    device.seed(7);
    let stage1 = SmnNet::stage1(arch, &device);
    let mut model = match variant {
        Variant::Mtl => stage1,
        v => SmnNet::stage2(stage1, arch, v, &device),
    };
    let cfg = TrainConfig::paper(variant, arch.clone());
    let mut optim = optimizer(&cfg);
    let data = load_dataset(&DataSpec::Synthetic { count: batch, seed: 5 }, arch.input_size, None)?;
    let samples: Vec<_> = (0..batch).filter_map(|i| data.samples.get(i)).collect();
    let refs: Vec<_> = samples.iter().collect();
    let b = make_batch(&refs, arch.input_size, &device);
    let mut step = |model: SmnNet| -> Result<SmnNet> {
        let (model, l) = training_step(model, &mut optim, &b, &LossConfig::default(), cfg.lr, cfg.dropout)?;
        // Wait for the device: read one value back.
        let _ = l.total.into_scalar::<f32>();
        Ok(model)
    };
    for _ in 0..warmup {
        model = step(model)?;
    }
    let start = Instant::now();
    for _ in 0..steps.max(1) {
        model = step(model)?;
    }
    let seconds = start.elapsed().as_secs_f64() / steps.max(1) as f64;
    Ok(StepRate {
        backend: backend.name().to_string(),
        variant: variant.name().to_string(),
        input_size: arch.input_size,
        batch,
        steps: steps.max(1),
        seconds_per_step: seconds,
        images_per_second: batch as f64 / seconds,
    })
}
