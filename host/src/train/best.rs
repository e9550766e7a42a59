//! Keeping the best epoch: with `--keep-best nme|accuracy` and a validation
//! set, the run directory's `best/` holds the model of the epoch with the
//! best validation figure (`best/model.bpk`, `best/model.json`,
//! `best/best.json`), a run-directory layout that `smn eval --model RUN/best`
//! and `smn train --init RUN/best` read.
use serde::{Deserialize, Serialize};

/// Which validation figure picks the kept epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BestBy {
    /// Lowest mean NME.
    Nme,
    /// Highest mean attribute accuracy.
    Accuracy,
}

impl BestBy {
    /// The figure this criterion reads from an epoch's validation results.
    pub fn value(&self, val_mean_nme: Option<f64>, val_mean_accuracy: Option<f64>) -> Option<f64> {
        match self {
            BestBy::Nme => val_mean_nme,
            BestBy::Accuracy => val_mean_accuracy,
        }
        .filter(|v| v.is_finite())
    }

    /// True when `value` is strictly better than `than`.
    pub fn better(&self, value: f64, than: f64) -> bool {
        match self {
            BestBy::Nme => value < than,
            BestBy::Accuracy => value > than,
        }
    }
}

/// The kept epoch (`best/best.json`, and in the checkpoint state).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// The criterion.
    pub by: BestBy,
    /// Its validation value at that epoch.
    pub value: f64,
}

impl BestEpoch {
    /// The epoch to keep after `epoch` scored `value`: `epoch` if it beats
    /// `current` (or nothing is kept yet), otherwise `None`.
    pub fn after(current: Option<BestEpoch>, by: BestBy, epoch: usize, value: Option<f64>) -> Option<BestEpoch> {
        let value = value?;
        match current {
            Some(c) if !by.better(value, c.value) => None,
            _ => Some(BestEpoch { epoch, by, value }),
        }
    }
}

impl BestEpoch {
    /// True once `patience` finished epochs (of `epochs_done`) came after this one.
    pub fn exhausted(&self, patience: usize, epochs_done: usize) -> bool {
        epochs_done.saturating_sub(self.epoch) >= patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nme_keeps_the_lowest_and_accuracy_the_highest() {
        let mut kept = None;
        let mut epochs = Vec::new();
        for (epoch, nme) in [(1, 0.3), (2, 0.2), (3, 0.25), (4, 0.2), (5, 0.1)] {
            if let Some(b) = BestEpoch::after(kept, BestBy::Nme, epoch, Some(nme)) {
                kept = Some(b);
                epochs.push(epoch);
            }
        }
        assert_eq!(epochs, [1, 2, 5], "ties keep the earlier epoch");
        let first = BestEpoch::after(None, BestBy::Accuracy, 1, Some(0.8));
        assert!(BestEpoch::after(first, BestBy::Accuracy, 2, Some(0.7)).is_none());
        assert_eq!(
            BestEpoch::after(first, BestBy::Accuracy, 3, Some(0.9)).map(|b| b.epoch),
            Some(3)
        );
    }

    #[test]
    fn patience_counts_finished_epochs_after_the_kept_one() {
        let kept = BestEpoch {
            epoch: 3,
            by: BestBy::Nme,
            value: 0.1,
        };
        assert!(!kept.exhausted(2, 3));
        assert!(!kept.exhausted(2, 4));
        assert!(kept.exhausted(2, 5));
        assert!(kept.exhausted(0, 3));
    }

    #[test]
    fn missing_or_non_finite_figures_never_replace_the_kept_epoch() {
        assert_eq!(BestBy::Nme.value(Some(f64::NAN), Some(0.5)), None);
        assert_eq!(BestBy::Accuracy.value(Some(0.1), None), None);
        assert!(BestEpoch::after(None, BestBy::Nme, 1, None).is_none());
    }
}
