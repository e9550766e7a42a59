//! Two-stage training: stage 1 trains the multi-task net; stage 2 loads it,
//! freezes the shared layers and trains the task branches of a variant.
use super::best::BestEpoch;
use super::checkpoint::{resume_from, write_checkpoint};
use super::config::TrainConfig;
use super::early_stopping::{keep_if_best, out_of_patience};
use super::history::{print_epoch, write_logs, EpochLog, EpochSums, TrainState};
use super::run_dir::RunDir;
use super::step::{optimizer, training_step};
use super::target_stats::output_affines;
use crate::data::dataset::Dataset;
use crate::data::transform::{erase, jitter_colors, transform_sample, Affine};
use crate::data::FaceSample;
use crate::evaluation::float::evaluate;
use crate::evaluation::metrics::Metrics;
use crate::files::write_json;
use crate::model::batch::make_batch;
use crate::model::store::{load_model, save_weights};
use crate::model::{SmnNet, Variant};
use anyhow::{bail, Context, Result};
use burn::module::{ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use smn_firmware_core::builder::Rng;
use std::path::Path;
use std::time::Instant;

/// Touches every parameter once, in module order, so lazy initialisation
/// draws from the seeded generator in a fixed order.
struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// The initial network of a run: stage 1 from the seed, stage 2 from the
/// stage-1 run's final model.
fn initial_model(cfg: &TrainConfig, data: &Dataset, device: &Device) -> Result<SmnNet> {
    device.seed(cfg.seed);
    let net = match cfg.variant {
        Variant::Mtl => {
            let mut net = SmnNet::stage1(&cfg.arch, device);
            if cfg.standardise_targets {
                net.set_output_affines(&output_affines(data), device)
                    .map_err(anyhow::Error::msg)?;
            }
            net
        }
        _ => {
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
    let mut rng = Rng::new(cfg.seed ^ ((epoch as u64) << 32) ^ index as u64 ^ 0xA06);
    let (map, mirrored) = aug.draw(&Affine::IDENTITY, data.size, || rng.unit());
    let mut out = transform_sample(&sample, &map, data.size, data.size, mirrored);
    if aug.color_jitter > 0.0 {
        let brightness = 255.0 * aug.color_jitter * (2.0 * rng.unit() - 1.0) * 0.5;
        let contrast = 1.0 + aug.color_jitter * (2.0 * rng.unit() - 1.0);
        jitter_colors(&mut out.image, brightness, contrast);
    }
    if let Some(rect) = aug.draw_erase(data.size, data.size, || rng.unit()) {
        erase(&mut out.image, rect);
    }
    Some(out)
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
        let val_metrics = val
            .map(|v| evaluate(&model, v, &device, cfg.batch_size.max(32)))
            .transpose()?;
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
        write_checkpoint(&dir, &snapshot, &optim, &state)?;
        write_logs(&dir, &state.history)?;
    }
    save_weights(&model.valid(), &dir.model())?;
    write_json(&dir.model_info(), &cfg.model_info())?;
    let validation = val
        .map(|v| evaluate(&model, v, &device, cfg.batch_size.max(32)))
        .transpose()?;
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
        let (stepped, l) = training_step(model, optim, &batch, &cfg.loss, lr, cfg.dropout)?;
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
