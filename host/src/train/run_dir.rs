//! A run directory: configuration, checkpoints, logs and the final model.
//!
//! ```text
//! RUN/config.json            the TrainConfig
//! RUN/checkpoint/            last completed epoch: model.bpk, optimizer.bpk, state.json
//! RUN/model.bpk, model.json  the final model (weights; architecture + variant)
//! RUN/log.csv, log.json      per-epoch metrics
//! RUN/best/                  with --keep-best: model.bpk, model.json, best.json of the best epoch
//! ```
//! A checkpoint is written to `checkpoint.tmp/` and swapped in by renames, so
//! a crash at any point leaves the previous complete checkpoint.
use crate::model::{ArchConfig, Variant};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `ModelInfo::format` of models this version writes and reads (`/2`: heads
/// carry their fixed output maps).
pub const MODEL_FORMAT: &str = "smn-model/2";

/// What `model.json` records next to the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Format of this file.
    pub format: String,
    /// The architecture.
    pub arch: ArchConfig,
    /// `mtl` for stage 1, otherwise the stage-2 variant.
    pub variant: Variant,
    /// Input normalisation `(pixel − mean) / std`.
    pub pixel_mean: f32,
    /// See `pixel_mean`.
    pub pixel_std: f32,
}

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
        self.root.join("model.bpk")
    }

    /// The final model description.
    pub fn model_info(&self) -> PathBuf {
        self.root.join("model.json")
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

/// Replaces folder `target` with what `write` puts into `target.tmp`: the
/// old folder moves to `target.old` and the new one into place by renames,
/// so a crash leaves `target` or `target.old` complete.
pub fn replace_dir(target: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let sibling = |suffix: &str| PathBuf::from(format!("{}.{suffix}", target.display()));
    let (tmp, old) = (sibling("tmp"), sibling("old"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    write(&tmp)?;
    let _ = std::fs::remove_dir_all(&old);
    if target.exists() {
        std::fs::rename(target, &old).with_context(|| format!("cannot move {}", target.display()))?;
    }
    std::fs::rename(&tmp, target).with_context(|| format!("cannot move {}", tmp.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Writes JSON atomically (temp file + rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads JSON, naming the file in errors.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}
