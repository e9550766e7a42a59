//! Two-stage training: stage 1 trains the multi-task net; stage 2 loads it,
//! freezes the shared layers and trains the task branches of a variant.
use super::backend::BackendKind;
use super::batch::{make_batch, Batch};
use super::best::BestEpoch;
use super::dataset::Dataset;
use super::loss::{losses, LossConfig, Losses};
use super::metrics::Metrics;
use super::run_dir::{read_json, replace_dir, write_json, ModelInfo, RunDir, MODEL_FORMAT};
use super::target_stats::output_affines;
use crate::data::transform::{jitter_colors, transform_sample, Affine, Augment};
use crate::data::FaceSample;
use crate::evaluation::float::float_predictions;
use crate::evaluation::metrics_of;
use crate::model::{ArchConfig, SmnNet, Variant};
use anyhow::{bail, Context, Result};
use burn::module::{ModuleVisitor, Param};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use super::config::{AugmentConfig, LrSchedule, OptimizerKind, TrainConfig};
use smn_firmware_core::builder::Rng;
use std::path::Path;
use std::time::Instant;

/// One epoch's log line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean total training loss.
    pub loss: f64,
    /// Mean landmark loss.
    pub landmark_loss: f64,
    /// Mean attribute loss.
    pub attribute_loss: f64,
    /// Validation mean NME, if a validation set was given.
    pub val_mean_nme: Option<f64>,
    /// Validation mean attribute accuracy.
    pub val_mean_accuracy: Option<f64>,
    /// Wall time of the epoch.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// Training state saved with each checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed epochs.
    pub epochs_done: usize,
    /// Their logs.
    pub history: Vec<EpochLog>,
    /// The epoch kept in `best/` (`--keep-best`).
    #[serde(default)]
    pub best: Option<BestEpoch>,
}

/// Touches every parameter once, in module order, so lazy initialisation
/// draws from the seeded generator in a fixed order.
struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Reads the architecture and variant of a trained run.
pub fn read_model_info(run: &Path) -> Result<ModelInfo> {
    read_json(&RunDir::new(run).model_info())
}

/// Builds the network structure of `variant` (random weights).
fn structure(arch: &ArchConfig, variant: Variant, device: &Device) -> SmnNet {
    let net = SmnNet::stage1(arch, device);
    match variant {
        Variant::Mtl => net,
        v => SmnNet::stage2(net, arch, v, device),
    }
}

/// Loads a trained model (final `model.bpk`) for inference on `device`.
pub fn load_model(run: &Path, device: &Device) -> Result<(SmnNet, ModelInfo)> {
    let info = read_model_info(run)?;
    if info.format != MODEL_FORMAT {
        bail!(
            "{}: model format '{}', this smn reads '{MODEL_FORMAT}' (retrain, or use the smn version that wrote it)",
            RunDir::new(run).model_info().display(),
            info.format
        );
    }
    let weights = RunDir::new(run).model();
    let net = structure(&info.arch, info.variant, device)
        .try_load_file(&weights)
        .map_err(|e| anyhow::anyhow!("{}: cannot load weights: {e:?}", weights.display()))?;
    Ok((net, info))
}

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
) -> (SmnNet, Losses) {
    let out = model.forward(batch.images.clone());
    let l = losses(&out, batch, loss);
    let grads = GradientsParams::from_grads(l.total.backward(), &model);
    (optim.step(lr, model, grads), l)
}

/// The initial network of a run: stage 1 from the seed, stage 2 from the
/// stage-1 run's final model.
fn initial_model(cfg: &TrainConfig, data: &Dataset, device: &Device) -> Result<SmnNet> {
    device.seed(cfg.seed);
    let net = match cfg.stage {
        1 => {
            let mut net = SmnNet::stage1(&cfg.arch, device);
            if cfg.standardise_targets {
                net.set_output_affines(&output_affines(data), device)
                    .map_err(anyhow::Error::msg)?;
            }
            net
        }
        2 => {
            let Some(init) = &cfg.init else {
                bail!("stage 2 needs --init RUN1 (a finished stage-1 run)")
            };
            let (stage1, info) = load_model(init, device)?;
            if info.variant != Variant::Mtl {
                bail!(
                    "{}: --init must be a stage-1 (mtl) run, found variant {}",
                    init.display(),
                    info.variant.name()
                );
            }
            if info.arch != cfg.arch {
                bail!(
                    "{}: stage-1 architecture {:?} differs from this run's {:?}",
                    init.display(),
                    info.arch,
                    cfg.arch
                );
            }
            SmnNet::stage2(stage1, &cfg.arch, cfg.variant, device)
        }
        s => bail!("stage must be 1 or 2, got {s}"),
    };
    net.visit(&mut Materialise);
    Ok(net)
}

/// A permutation of `0..n` for `epoch`, from the run seed.
fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed ^ (0x5EED_0000 + epoch as u64));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// Sample `index` of `epoch`, augmented deterministically from the seed.
fn training_sample(data: &Dataset, index: usize, cfg: &TrainConfig, epoch: usize) -> Option<FaceSample> {
    let sample = data.samples.get(index)?;
    let Some(aug) = cfg.augment else { return Some(sample) };
    let aug: Augment = aug.into();
    let mut rng = Rng::new(cfg.seed ^ ((epoch as u64) << 32) ^ index as u64 ^ 0xA06);
    let (map, mirrored) = aug.draw(&Affine::IDENTITY, data.size, || rng.unit());
    let mut out = transform_sample(&sample, &map, data.size, data.size, mirrored);
    if aug.color_jitter > 0.0 {
        let brightness = 255.0 * aug.color_jitter * (2.0 * rng.unit() - 1.0) * 0.5;
        let contrast = 1.0 + aug.color_jitter * (2.0 * rng.unit() - 1.0);
        jitter_colors(&mut out.image, brightness, contrast);
    }
    Some(out)
}

/// Evaluates `model` (inference mode) on `data`.
pub fn evaluate(model: &SmnNet, data: &Dataset, device: &Device, batch_size: usize) -> Metrics {
    metrics_of(&float_predictions(model, data, device, batch_size), data)
}

/// What a finished run reports.
pub struct TrainSummary {
    /// All epoch logs (resumed runs include the earlier ones).
    pub history: Vec<EpochLog>,
    /// Final validation metrics, if a validation set was given.
    pub validation: Option<Metrics>,
    /// The epoch kept in `best/` (`--keep-best`).
    pub best: Option<BestEpoch>,
}

/// Trains `cfg` into `run`, resuming from its checkpoint when `resume`.
pub fn train(
    cfg: &TrainConfig,
    data: &Dataset,
    val: Option<&Dataset>,
    run: &Path,
    resume: bool,
) -> Result<TrainSummary> {
    check_inputs(cfg, data, val)?;
    let dir = RunDir::new(run);
    std::fs::create_dir_all(run).with_context(|| format!("cannot create run directory {}", run.display()))?;
    let device = cfg.backend.device().autodiff();
    let mut model = initial_model(cfg, data, &device)?;
    let mut optim = optimizer(cfg);
    let mut state = TrainState::default();
    if resume {
        (model, optim, state) = resume_from(&dir, cfg, model, optim)?;
    } else {
        write_json(&dir.config(), cfg)?;
    }
    for epoch in state.epochs_done..cfg.epochs {
        if out_of_patience(cfg, &state) {
            break;
        }
        let started = Instant::now();
        let (trained, sums) = train_epoch(model, &mut optim, data, cfg, epoch, &device).map_err(|e| {
            anyhow::anyhow!(
                "{e}: stopping; the last good checkpoint ({} epochs) is kept in {}",
                state.epochs_done,
                dir.checkpoint().display()
            )
        })?;
        model = trained;
        let seconds = started.elapsed().as_secs_f64();
        let val_metrics = val.map(|v| evaluate(&model, v, &device, cfg.batch_size.max(32)));
        let log = sums.log(
            epoch,
            cfg.schedule.rate(cfg.lr, epoch, cfg.epochs),
            seconds,
            val_metrics.as_ref(),
        );
        print_epoch(&log, cfg.epochs);
        state.epochs_done = epoch + 1;
        let snapshot = model.valid();
        keep_if_best(&dir, cfg, &snapshot, &log, &mut state)?;
        state.history.push(log);
        dir.write_checkpoint(|tmp| {
            save_model(&snapshot, &tmp.join("model.bpk"))?;
            optim
                .save(tmp.join("optimizer.bpk"))
                .map_err(|e| anyhow::anyhow!("cannot save the optimizer state: {e:?}"))?;
            write_json(&tmp.join("state.json"), &state)
        })?;
        write_logs(&dir, &state.history)?;
    }
    save_model(&model.valid(), &dir.model())?;
    write_json(&dir.model_info(), &model_info(cfg))?;
    let validation = val.map(|v| evaluate(&model, v, &device, cfg.batch_size.max(32)));
    Ok(TrainSummary {
        history: state.history,
        validation,
        best: state.best,
    })
}

/// Rejects a configuration that cannot train on `data`.
fn check_inputs(cfg: &TrainConfig, data: &Dataset, val: Option<&Dataset>) -> Result<()> {
    cfg.arch.check().map_err(anyhow::Error::msg)?;
    if data.size != cfg.arch.input_size {
        bail!(
            "data is {}×{}, the model input is {}",
            data.size,
            data.size,
            cfg.arch.input_size
        );
    }
    if data.samples.len() < 2 {
        bail!("need at least 2 training images, got {}", data.samples.len());
    }
    if cfg.keep_best.is_some() && val.is_none() {
        bail!("--keep-best needs a validation set");
    }
    if cfg.patience.is_some() && cfg.keep_best.is_none() {
        bail!("--patience needs --keep-best (it counts epochs without a better one)");
    }
    Ok(())
}

/// Model, optimiser state and progress from the run's last checkpoint,
/// after checking that the run was started with the same configuration
/// (the epoch count may grow).
fn resume_from(
    dir: &RunDir,
    cfg: &TrainConfig,
    model: SmnNet,
    optim: ModuleOptimizer,
) -> Result<(SmnNet, ModuleOptimizer, TrainState)> {
    // burn materialises loaded optimizer state on `Device::default()`,
    // which is wgpu whenever wgpu is compiled in — and may not exist on a
    // CPU-only machine. Point it at the CPU backend of this run.
    if cfg.backend != BackendKind::Wgpu && std::env::var_os("BURN_DEVICE").is_none() {
        std::env::set_var("BURN_DEVICE", cfg.backend.name());
    }
    let ckpt = dir
        .resumable_checkpoint()
        .with_context(|| format!("--resume: {} has no checkpoint", dir.root.display()))?;
    let mut saved: TrainConfig = read_json(&dir.config())?;
    saved.epochs = cfg.epochs; // a resumed run may be extended
    if &saved != cfg {
        bail!(
            "--resume: {} was started with a different configuration",
            dir.config().display()
        );
    }
    write_json(&dir.config(), cfg)?;
    let model = model
        .try_load_file(ckpt.join("model.bpk"))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", ckpt.join("model.bpk").display()))?;
    let optim = optim
        .load(ckpt.join("optimizer.bpk"))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", ckpt.join("optimizer.bpk").display()))?;
    let state = read_json(&ckpt.join("state.json"))?;
    Ok((model, optim, state))
}

/// Loss sums over one epoch's steps.
#[derive(Default)]
struct EpochSums {
    total: f64,
    landmarks: f64,
    attributes: f64,
    batches: usize,
    images: usize,
}

impl EpochSums {
    fn mean(&self, sum: f64) -> f64 {
        sum / self.batches.max(1) as f64
    }

    /// The epoch's log line (`epoch` 0-based).
    fn log(&self, epoch: usize, lr: f64, seconds: f64, val: Option<&Metrics>) -> EpochLog {
        EpochLog {
            epoch: epoch + 1,
            lr,
            loss: self.mean(self.total),
            landmark_loss: self.mean(self.landmarks),
            attribute_loss: self.mean(self.attributes),
            val_mean_nme: val.map(|m| m.mean_nme),
            val_mean_accuracy: val.map(|m| m.mean_attribute_accuracy),
            seconds,
            images_per_second: self.images as f64 / seconds.max(1e-9),
        }
    }
}

/// One pass over `data` (0-based `epoch`) with a progress bar; fails on a
/// non-finite loss, naming the epoch and step.
fn train_epoch(
    mut model: SmnNet,
    optim: &mut ModuleOptimizer,
    data: &Dataset,
    cfg: &TrainConfig,
    epoch: usize,
    device: &Device,
) -> Result<(SmnNet, EpochSums)> {
    let n = data.samples.len();
    let batch_size = cfg.batch_size.max(1);
    let steps = n / batch_size + usize::from(n % batch_size >= 2);
    let lr = cfg.schedule.rate(cfg.lr, epoch, cfg.epochs);
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix(format!("{}/{}", epoch + 1, cfg.epochs));
    let mut sums = EpochSums::default();
    for chunk in epoch_order(n, cfg.seed, epoch)
        .chunks(batch_size)
        .filter(|c| c.len() >= 2)
    {
        let samples: Vec<FaceSample> = chunk
            .iter()
            .filter_map(|&i| training_sample(data, i, cfg, epoch))
            .collect();
        let refs: Vec<&FaceSample> = samples.iter().collect();
        let batch = make_batch(&refs, data.size, device);
        let (stepped, l) = training_step(model, optim, &batch, &cfg.loss, lr);
        model = stepped;
        let total: f32 = l.total.clone().into_scalar();
        if !total.is_finite() {
            bar.abandon();
            bail!(
                "non-finite loss ({total}) in epoch {} step {}",
                epoch + 1,
                sums.batches + 1
            );
        }
        sums.total += f64::from(total);
        sums.landmarks += f64::from(l.landmarks.clone().into_scalar::<f32>());
        sums.attributes += f64::from(l.attributes.clone().into_scalar::<f32>());
        sums.batches += 1;
        sums.images += chunk.len();
        bar.set_message(format!("loss {:.4}", sums.mean(sums.total)));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((model, sums))
}

fn print_epoch(log: &EpochLog, epochs: usize) {
    eprintln!(
        "epoch {}/{}: loss {:.4} (landmarks {:.4}, attributes {:.4}), {:.1} img/s{}",
        log.epoch,
        epochs,
        log.loss,
        log.landmark_loss,
        log.attribute_loss,
        log.images_per_second,
        match (log.val_mean_nme, log.val_mean_accuracy) {
            (Some(nme), Some(acc)) => format!(", val NME {nme:.4}, val accuracy {:.2} %", 100.0 * acc),
            _ => String::new(),
        }
    );
}

/// With `--patience N`: true once `N` finished epochs came after the kept one.
fn out_of_patience(cfg: &TrainConfig, state: &TrainState) -> bool {
    match (cfg.patience, state.best) {
        (Some(patience), Some(best)) if best.exhausted(patience, state.epochs_done) => {
            eprintln!(
                "stopping early: no better validation epoch in the {} epochs after epoch {}",
                state.epochs_done - best.epoch,
                best.epoch
            );
            true
        }
        _ => false,
    }
}

/// With `--keep-best`, writes `best/` when `log`'s epoch beats the kept one.
/// Called before the checkpoint that records it: a crash in between redoes
/// the epoch, which scores the same and so does not replace it again.
fn keep_if_best(dir: &RunDir, cfg: &TrainConfig, model: &SmnNet, log: &EpochLog, state: &mut TrainState) -> Result<()> {
    let Some(by) = cfg.keep_best else { return Ok(()) };
    let value = by.value(log.val_mean_nme, log.val_mean_accuracy);
    if let Some(best) = BestEpoch::after(state.best, by, log.epoch, value) {
        replace_dir(&dir.best(), |tmp| {
            save_model(model, &tmp.join("model.bpk"))?;
            write_json(&tmp.join("model.json"), &model_info(cfg))?;
            write_json(&tmp.join("best.json"), &best)
        })?;
        state.best = Some(best);
    }
    Ok(())
}

/// What `model.json` says about a model trained with `cfg`.
fn model_info(cfg: &TrainConfig) -> ModelInfo {
    ModelInfo {
        format: MODEL_FORMAT.into(),
        arch: cfg.arch.clone(),
        variant: cfg.variant,
        pixel_mean: super::batch::PIXEL_MEAN,
        pixel_std: super::batch::PIXEL_STD,
    }
}

/// Saves a model's weights, naming the file in errors.
fn save_model(model: &SmnNet, path: &Path) -> Result<()> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot save the model: {e:?}", path.display()))
}

fn write_logs(dir: &RunDir, history: &[EpochLog]) -> Result<()> {
    let mut csv = String::from(
        "epoch,lr,loss,landmark_loss,attribute_loss,val_mean_nme,val_mean_accuracy,seconds,images_per_second\n",
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    for l in history {
        csv.push_str(&format!(
            "{},{},{:.6},{:.6},{:.6},{},{},{:.3},{:.2}\n",
            l.epoch,
            l.lr,
            l.loss,
            l.landmark_loss,
            l.attribute_loss,
            opt(l.val_mean_nme),
            opt(l.val_mean_accuracy),
            l.seconds,
            l.images_per_second
        ));
    }
    std::fs::write(dir.log_csv(), csv).with_context(|| format!("cannot write {}", dir.log_csv().display()))?;
    write_json(&dir.log_json(), &history)
}
