//! Helpers shared by the integration tests.
use std::path::{Path, PathBuf};

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
