//! `--keep-best` and `--patience` in the epoch loop: write `RUN/best/` when
//! an epoch beats the kept one, and stop once patience runs out.
use super::best::BestEpoch;
use super::config::TrainConfig;
use super::history::{EpochLog, TrainState};
use super::run_dir::RunDir;
use crate::files::{replace_dir, write_json};
use crate::model::store::{save_weights, MODEL_INFO_FILE, MODEL_WEIGHTS_FILE};
use crate::model::SmnNet;
use anyhow::Result;

/// With `--patience N`: true once `N` finished epochs came after the kept one.
pub(crate) fn out_of_patience(cfg: &TrainConfig, state: &TrainState) -> bool {
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
pub(crate) fn keep_if_best(
    dir: &RunDir,
    cfg: &TrainConfig,
    model: &SmnNet,
    log: &EpochLog,
    state: &mut TrainState,
) -> Result<()> {
    let Some(by) = cfg.keep_best else { return Ok(()) };
    let value = by.value(log.val_mean_nme, log.val_mean_accuracy);
    if let Some(best) = BestEpoch::after(state.best, by, log.epoch, value) {
        replace_dir(&dir.best(), |tmp| {
            save_weights(model, &tmp.join(MODEL_WEIGHTS_FILE))?;
            write_json(&tmp.join(MODEL_INFO_FILE), &cfg.model_info())?;
            write_json(&tmp.join("best.json"), &best)
        })?;
        state.best = Some(best);
    }
    Ok(())
}
