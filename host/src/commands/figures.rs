//! The figures `smn eval --figures DIR` (and `smn demo`) write.
//!
//! ```text
//! DIR/ced.png              cumulative error distribution per landmark, one line per model (Fig. 3)
//! DIR/training.png         loss and validation curves of each run with a log
//! DIR/overlays-K.png       8 faces: ground truth red, model K's prediction green (Fig. 4)
//! DIR/feature-maps.png     first stage-2 model (else the first), first image: one row per level,
//!                          shared then each branch (Fig. 5)
//! ```
use super::eval::{EvalArgs, Evaluation};
use crate::report::charts::{ced_figure, training_figure};
use crate::report::feature_maps::{write_feature_grid, FeatureMap};
use crate::report::overlay::{write_overlays, OverlayFace};
use crate::train::batch::make_batch;
use crate::train::dataset::Dataset;
use crate::train::metrics::Metrics;
use crate::train::run_dir::{read_json, RunDir};
use crate::train::trainer::{load_model, EpochLog};
use anyhow::{Context, Result};
use burn::prelude::*;
use std::path::{Path, PathBuf};

/// What a figure file shows (for reports).
pub fn caption(file_name: &str) -> &'static str {
    match file_name {
        "ced.png" => "cumulative error distribution of each landmark's NME, one line per model (the paper's Fig. 3)",
        "training.png" => "training losses per epoch and validation metrics of each run",
        "feature-maps.png" => {
            "feature maps of the first evaluation image (first 16 channels per level): rows are shared levels 0–3, \
             then the landmark branch's levels, then the attribute branch's (the paper's Fig. 5)"
        }
        _ if file_name.starts_with("overlays-") => {
            "ground truth (red) and prediction (green) on the model input, one sheet per model in table order (Fig. 4)"
        }
        _ => "",
    }
}

/// Faces per overlay sheet.
const OVERLAY_FACES: usize = 8;

/// Writes every figure for `eval` into `dir`; returns the files written.
pub fn write_eval_figures(dir: &Path, args: &EvalArgs, eval: &Evaluation, data: &Dataset) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let rows: Vec<(&str, &Metrics)> = eval.models.iter().map(|m| (m.name.as_str(), &m.metrics)).collect();
    let ced = dir.join("ced.png");
    ced_figure(&ced, &rows)?;
    written.push(ced);
    let logs: Vec<(String, Vec<EpochLog>)> = args
        .models
        .iter()
        .filter_map(|run| {
            let history: Vec<EpochLog> = read_json(&RunDir::new(run).log_json()).ok()?;
            let name = run
                .file_name()
                .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into_owned());
            Some((name, history))
        })
        .collect();
    if !logs.is_empty() {
        let runs: Vec<(&str, &[EpochLog])> = logs.iter().map(|(n, h)| (n.as_str(), h.as_slice())).collect();
        let path = dir.join("training.png");
        training_figure(&path, &runs)?;
        written.push(path);
    }
    for (k, model) in eval.models.iter().enumerate() {
        let faces: Vec<OverlayFace> = model
            .predictions
            .iter()
            .enumerate()
            .take(OVERLAY_FACES)
            .filter_map(|(i, p)| {
                let s = data.samples.get(i)?;
                Some(OverlayFace {
                    image: s.image,
                    truth: s.landmarks,
                    predicted: p.landmarks,
                })
            })
            .collect();
        if !faces.is_empty() {
            let path = dir.join(format!("overlays-{k}.png"));
            write_overlays(&path, &faces, 4, 4)?;
            written.push(path);
        }
    }
    // Fig. 5 contrasts shared and task-specific layers: prefer a stage-2 run.
    let stage2 = args
        .models
        .iter()
        .find(|run| crate::train::trainer::read_model_info(run).is_ok_and(|i| i.variant != crate::model::Variant::Mtl));
    if let Some(run) = stage2.or(args.models.first()) {
        let device = super::values::backend(&args.backend)?.device();
        let path = dir.join("feature-maps.png");
        write_feature_maps(&path, run, data, &device)?;
        written.push(path);
    }
    Ok(written)
}

/// Feature maps of the first image of `data` through the model of `run`.
pub fn write_feature_maps(path: &Path, run: &Path, data: &Dataset, device: &Device) -> Result<()> {
    let (model, _) = load_model(run, device)?;
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let Some(sample) = data.samples.get(0) else {
        anyhow::bail!("no image for the feature maps")
    };
    let batch = make_batch(&[&sample], data.size, &device);
    let maps: Vec<FeatureMap> = model
        .feature_maps(batch.images)
        .into_iter()
        .map(|(name, t)| {
            let [_, channels, height, width] = t.dims();
            FeatureMap {
                name,
                channels,
                height,
                width,
                values: t.into_data().try_into_vec::<f32>().unwrap_or_default(),
            }
        })
        .collect();
    write_feature_grid(path, &maps, 16, 48)
}
