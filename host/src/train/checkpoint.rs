//! Checkpoints: after each epoch the model, the optimiser state and the
//! progress go to `RUN/checkpoint/` (replaced by renames), and `--resume`
//! reads them back after checking the configuration.
use super::config::TrainConfig;
use super::history::TrainState;
use super::run_dir::RunDir;
use crate::files::{read_json, write_json};
use crate::model::store::{save_weights, MODEL_WEIGHTS_FILE};
use crate::model::SmnNet;
use anyhow::{bail, Context, Result};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

/// The optimiser state's file name in a checkpoint.
const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// The progress's file name in a checkpoint.
const STATE_FILE: &str = "state.json";

/// Replaces the run's checkpoint with `model`, `optim` and `state`.
pub(crate) fn write_checkpoint(
    dir: &RunDir,
    model: &SmnNet,
    optim: &ModuleOptimizer,
    state: &TrainState,
) -> Result<()> {
    dir.write_checkpoint(|tmp| {
        save_weights(model, &tmp.join(MODEL_WEIGHTS_FILE))?;
        optim
            .save(tmp.join(OPTIMIZER_FILE))
            .map_err(|e| anyhow::anyhow!("cannot save the optimizer state: {e:?}"))?;
        write_json(&tmp.join(STATE_FILE), state)
    })
}

/// Model, optimiser state and progress from the run's last checkpoint,
/// after checking that the run was started with the same configuration
/// (the epoch count may grow).
pub(crate) fn resume_from(
    dir: &RunDir,
    cfg: &TrainConfig,
    model: SmnNet,
    optim: ModuleOptimizer,
) -> Result<(SmnNet, ModuleOptimizer, TrainState)> {
    // burn 0.22's `ModuleOptimizer::load` takes no device: it materialises
    // the state on `Device::default()` and moves it to each parameter's
    // device on the next step. The `smn` binary pins that default to the
    // CPU (`BURN_DEVICE`, set once at start-up) so a CPU-only machine never
    // has to open a GPU here.
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
        .try_load_file(ckpt.join(MODEL_WEIGHTS_FILE))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", ckpt.join(MODEL_WEIGHTS_FILE).display()))?;
    let optim = optim
        .load(ckpt.join(OPTIMIZER_FILE))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", ckpt.join(OPTIMIZER_FILE).display()))?;
    let state = read_json(&ckpt.join(STATE_FILE))?;
    Ok((model, optim, state))
}
