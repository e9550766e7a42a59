//! Writing RGB buffers as PNG files.
use anyhow::{Context, Result};
use std::path::Path;

/// Writes a `width × height` interleaved RGB buffer to `path` as PNG
/// (creating the parent folder).
pub fn write_rgb_png(path: &Path, width: usize, height: usize, rgb: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let (w, h) = (u32::try_from(width)?, u32::try_from(height)?);
    image::save_buffer_with_format(path, rgb, w, h, image::ExtendedColorType::Rgb8, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", path.display()))
}
