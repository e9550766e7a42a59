//! A trained model on disk: the weights (`model.bpk`) and what they are
//! (`model.json`: format, architecture, variant, input normalisation), in a
//! run directory or its `best/` folder.
use super::{Arch, SmnNet, Variant};
use crate::files::read_json;
use anyhow::{bail, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The weights' file name inside a model folder.
pub const MODEL_WEIGHTS_FILE: &str = "model.bpk";
/// The description's file name inside a model folder.
pub const MODEL_INFO_FILE: &str = "model.json";

/// `ModelInfo::format` of models this version writes and reads (`/2`: heads
/// carry their fixed output maps).
pub const MODEL_FORMAT: &str = "smn-model/2";

/// What `model.json` records next to the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Format of this file.
    pub format: String,
    /// The architecture.
    pub arch: Arch,
    /// `mtl` for stage 1, otherwise the stage-2 variant.
    pub variant: Variant,
    /// Input normalisation `(pixel − mean) / std`.
    pub pixel_mean: f32,
    /// See `pixel_mean`.
    pub pixel_std: f32,
}

/// Reads the architecture and variant of the model in folder `dir`.
pub fn read_model_info(dir: &Path) -> Result<ModelInfo> {
    read_json(&dir.join(MODEL_INFO_FILE))
}

/// Builds the network structure of `variant` (random weights).
pub fn structure(arch: &Arch, variant: Variant, device: &Device) -> SmnNet {
    let net = SmnNet::stage1(arch, device);
    match variant {
        Variant::Mtl => net,
        v => SmnNet::stage2(net, arch, v, device),
    }
}

/// Loads the model in folder `dir` (a run directory's final model, or its
/// `best/`) on `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<(SmnNet, ModelInfo)> {
    let info = read_model_info(dir)?;
    if info.format != MODEL_FORMAT {
        bail!(
            "{}: model format '{}', this smn reads '{MODEL_FORMAT}' (retrain, or use the smn version that wrote it)",
            dir.join(MODEL_INFO_FILE).display(),
            info.format
        );
    }
    let weights = dir.join(MODEL_WEIGHTS_FILE);
    let net = structure(&info.arch, info.variant, device)
        .try_load_file(&weights)
        .map_err(|e| anyhow::anyhow!("{}: cannot load weights: {e:?}", weights.display()))?;
    Ok((net, info))
}

/// Saves a model's weights to `path`, naming the file in errors.
pub fn save_weights(model: &SmnNet, path: &Path) -> Result<()> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot save the model: {e:?}", path.display()))
}
