//! Helpers shared by the integration tests (each test crate uses some).
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the `smn` binary: (success, stdout, stderr).
pub fn smn(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smn")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The real CelebA sample (`../shared/data/celeba-sample` beside the
/// checkout), or `None` with a SKIPPED message where it is absent (a user's
/// clone; CI always has it).
pub fn celeba_sample() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/celeba-sample");
    if dir.join("list_attr_celeba.txt").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: the CelebA sample is not at {} (only CI and developer machines have it)",
            dir.display()
        );
        None
    }
}
