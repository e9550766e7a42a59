//! What a run records per epoch: the log line (`RUN/log.csv`,
//! `RUN/log.json`), the loss sums it is made from, and the progress a
//! checkpoint saves.
use super::best::BestEpoch;
use super::run_dir::RunDir;
use crate::evaluation::metrics::Metrics;
use crate::files::write_json;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

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

/// Loss sums over one epoch's steps.
#[derive(Default)]
pub(crate) struct EpochSums {
    pub(crate) total: f64,
    pub(crate) landmarks: f64,
    pub(crate) attributes: f64,
    pub(crate) batches: usize,
    pub(crate) images: usize,
}

impl EpochSums {
    pub(crate) fn mean(&self, sum: f64) -> f64 {
        sum / self.batches.max(1) as f64
    }

    /// The epoch's log line (`epoch` 0-based).
    pub(crate) fn log(&self, epoch: usize, lr: f64, seconds: f64, val: Option<&Metrics>) -> EpochLog {
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

/// Prints an epoch's log line.
pub(crate) fn print_epoch(log: &EpochLog, epochs: usize) {
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

/// Writes the run's `log.csv` and `log.json`.
pub(crate) fn write_logs(dir: &RunDir, history: &[EpochLog]) -> Result<()> {
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
