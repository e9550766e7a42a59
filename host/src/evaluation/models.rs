//! Several models on one dataset: float runs through burn and an int8 blob
//! through firmware-core, with float-vs-int8 parity when there is one of
//! each (what `smn eval` and `smn demo` report).
use super::float::float_predictions;
use super::int8::int8_predictions;
use super::metrics::Metrics;
use super::parity::{parity, Parity};
use super::{metrics_of, Prediction};
use crate::data::dataset::Dataset;
use crate::model::store::load_model;
use anyhow::{bail, Context, Result};
use burn::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One evaluated model.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluated {
    /// Display name (`RUN (variant)` or `int8 FILE`).
    pub name: String,
    /// Run directory or blob file.
    pub source: PathBuf,
    /// Its metrics.
    pub metrics: Metrics,
    /// Its predictions in dataset order (not serialised).
    #[serde(skip)]
    pub predictions: Vec<Prediction>,
}

/// Every model evaluated on one dataset.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Float models, then the int8 blob.
    pub models: Vec<Evaluated>,
    /// Float vs int8 when one float model and a blob were given.
    pub parity: Option<Parity>,
}

impl Evaluation {
    /// `(name, metrics)` rows in model order, for tables and figures.
    pub fn rows(&self) -> Vec<(&str, &Metrics)> {
        self.models.iter().map(|m| (m.name.as_str(), &m.metrics)).collect()
    }
}

/// The last path component of `path` (or all of it).
pub fn short_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Evaluates the trained `runs` on `device` and the int8 `blob` (path and
/// bytes, already validated) on `data`, which must be at every model's
/// input size.
pub fn evaluate_models(
    runs: &[PathBuf],
    blob: Option<(&Path, &[u8])>,
    data: &Dataset,
    device: &Device,
) -> Result<Evaluation> {
    let mut models = Vec::new();
    for run in runs {
        let (model, info) = load_model(run, device)?;
        if info.arch.input_size != data.size {
            bail!(
                "{}: the model takes {}×{} images; all models compared must share one input size ({})",
                run.display(),
                info.arch.input_size,
                info.arch.input_size,
                data.size
            );
        }
        let predictions = float_predictions(&model, data, device, 64)?;
        models.push(Evaluated {
            name: format!("{} ({})", short_name(run), info.variant.name()),
            source: run.clone(),
            metrics: metrics_of(&predictions, data),
            predictions,
        });
    }
    let mut par = None;
    if let Some((blob_path, blob)) = blob {
        let predictions = int8_predictions(blob, data).with_context(|| blob_path.display().to_string())?;
        let metrics = metrics_of(&predictions, data);
        if let [float] = models.as_slice() {
            par = Some(parity(
                (&float.predictions, &float.metrics),
                (&predictions, &metrics),
                data,
            ));
        }
        models.push(Evaluated {
            name: format!("int8 {}", short_name(blob_path)),
            source: blob_path.to_path_buf(),
            metrics,
            predictions,
        });
    }
    Ok(Evaluation { models, parity: par })
}
