//! Reading what the device tools take: an int8 model blob file (validated,
//! the file named in every error) and a raw RGB input image.
use anyhow::{bail, Context, Result};
use smn_firmware_core::builder::synthetic_test_image;
use smn_firmware_core::Model;
use std::path::Path;

/// Reads a blob file and validates it, naming the file in any error.
pub fn read_blob(path: &Path) -> Result<Vec<u8>> {
    let blob = std::fs::read(path).with_context(|| format!("cannot read model blob {}", path.display()))?;
    Model::from_bytes(&blob).map_err(|e| anyhow::anyhow!("{}: invalid model blob: {e}", path.display()))?;
    Ok(blob)
}

/// Loads the input image: a raw RGB file of exactly `h × w × 3` bytes, or
/// the built-in synthetic test image when `path` is `None`.
pub fn read_image(path: Option<&Path>, model: &Model<'_>) -> Result<Vec<u8>> {
    let Some(path) = path else {
        return Ok(synthetic_test_image(model.input_height(), model.input_width(), 1));
    };
    let bytes = std::fs::read(path).with_context(|| format!("cannot read image {}", path.display()))?;
    if bytes.len() != model.input_len() {
        bail!(
            "{}: {} bytes, but the model needs a raw RGB image of {}×{}×3 = {} bytes",
            path.display(),
            bytes.len(),
            model.input_width(),
            model.input_height(),
            model.input_len()
        );
    }
    Ok(bytes)
}
