//! Files that must never be left half-written: JSON written by rename, and
//! folders replaced by renames (checkpoints, `best/`).
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
