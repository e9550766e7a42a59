//! A run directory: configuration, checkpoints, logs and the final model.
//!
//! ```text
//! RUN/config.toml            the `smn train` options (`smn train --config` reads it)
//! RUN/config.json            the TrainConfig
//! RUN/checkpoint/            last completed epoch: model.bpk, optimizer.bpk, state.json
//! RUN/model.bpk, model.json  the final model (weights; architecture + variant)
//! RUN/log.csv, log.json      per-epoch metrics
//! RUN/best/                  with --keep-best: model.bpk, model.json, best.json of the best epoch
//! ```
//! A checkpoint is written to `checkpoint.tmp/` and swapped in by renames, so
//! a crash at any point leaves the previous complete checkpoint.
use crate::files::replace_dir;
use crate::model::store::{MODEL_INFO_FILE, MODEL_WEIGHTS_FILE};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Paths inside a run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The directory.
    pub root: PathBuf,
}

impl RunDir {
    /// A run directory at `root` (created on first write).
    pub fn new(root: &Path) -> Self {
        RunDir {
            root: root.to_path_buf(),
        }
    }

    /// `config.toml`: the `smn train` options, a `--config` file.
    pub fn config_toml(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// The checkpoint folder.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// The final weights.
    pub fn model(&self) -> PathBuf {
        self.root.join(MODEL_WEIGHTS_FILE)
    }

    /// The final model description.
    pub fn model_info(&self) -> PathBuf {
        self.root.join(MODEL_INFO_FILE)
    }

    /// Per-epoch CSV log.
    pub fn log_csv(&self) -> PathBuf {
        self.root.join("log.csv")
    }

    /// Per-epoch JSON log.
    pub fn log_json(&self) -> PathBuf {
        self.root.join("log.json")
    }

    /// The best epoch's model (`--keep-best`), itself a run-directory layout.
    pub fn best(&self) -> PathBuf {
        self.root.join("best")
    }

    /// Replaces the checkpoint with what `write` puts into a fresh folder.
    pub fn write_checkpoint(&self, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        replace_dir(&self.checkpoint(), write)
    }

    /// The checkpoint folder to resume from: `checkpoint/`, or
    /// `checkpoint.old/` if a crash happened between the two renames.
    pub fn resumable_checkpoint(&self) -> Option<PathBuf> {
        [self.checkpoint(), self.root.join("checkpoint.old")]
            .into_iter()
            .find(|p| p.join("state.json").exists())
    }
}
