//! The figures of an evaluation (`smn eval --figures DIR`, `smn demo`).
//!
//! ```text
//! DIR/ced.png              cumulative error distribution per landmark, one line per model (Fig. 3)
//! DIR/training.png         loss and validation curves of each run with a log
//! DIR/overlays-K.png       8 faces: ground truth red, model K's prediction green (Fig. 4)
//! DIR/feature-maps.png     first stage-2 model (else the first), first image: one row per level,
//!                          shared then each branch (Fig. 5)
//! ```
use super::charts::{ced_figure, training_figure, TrainingCurve};
use super::feature_maps::{write_feature_grid, FeatureMap};
use super::overlay::{write_overlays, OverlayFace};
use crate::data::dataset::Dataset;
use crate::evaluation::models::{short_name, Evaluation};
use crate::files::read_json;
use crate::model::batch::make_batch;
use crate::model::store::{load_model, read_model_info};
use crate::model::Variant;
use crate::train::config::TrainConfig;
use crate::train::history::EpochLog;
use crate::train::run_dir::RunDir;
use anyhow::{Context, Result};
use burn::prelude::*;
use std::path::{Path, PathBuf};

/// What a figure file shows (for reports).
pub fn caption(file_name: &str) -> &'static str {
    match file_name {
        "ced.png" => "cumulative error distribution of each landmark's NME, one line per model (the paper's Fig. 3)",
        "training.png" => "training losses per epoch and validation metrics of each run",
        "feature-maps.png" => {
            "feature maps of the first evaluation image (first 16 channels per level), each row labelled: the shared \
             levels, then the landmark branch's, then the attribute branch's (the paper's Fig. 5)"
        }
        _ if file_name.starts_with("overlays-") => {
            "ground truth (red) and prediction (green) on the model input, one sheet per model in table order (Fig. 4)"
        }
        _ => "",
    }
}

/// Faces per overlay sheet.
const OVERLAY_FACES: usize = 8;

/// Writes every figure for `eval` of the trained `runs` (their logs and
/// feature maps, computed on `device`) on `data` into `dir`; returns the
/// files written.
pub fn write_eval_figures(
    dir: &Path,
    runs: &[PathBuf],
    eval: &Evaluation,
    data: &Dataset,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let ced = dir.join("ced.png");
    ced_figure(&ced, &eval.rows())?;
    written.push(ced);
    let logs: Vec<(String, usize, Vec<EpochLog>)> = runs
        .iter()
        .filter_map(|run| {
            let history: Vec<EpochLog> = read_json(&RunDir::new(run).log_json()).ok()?;
            Some((short_name(run), stage1_epochs(run), history))
        })
        .collect();
    if !logs.is_empty() {
        let curves: Vec<TrainingCurve<'_>> = logs
            .iter()
            .map(|(label, epoch_offset, history)| TrainingCurve {
                label,
                epoch_offset: *epoch_offset,
                history,
            })
            .collect();
        let path = dir.join("training.png");
        training_figure(&path, &curves)?;
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
    let stage2 = runs
        .iter()
        .find(|run| read_model_info(run).is_ok_and(|i| i.variant != Variant::Mtl));
    if let Some(run) = stage2.or(runs.first()) {
        let path = dir.join("feature-maps.png");
        write_feature_maps(&path, run, data, device)?;
        written.push(path);
    }
    Ok(written)
}

/// Epochs of the stage-1 run a stage-2 `run` started from (its `--init`,
/// read from `RUN/config.json` and that run's log), so that its curves
/// continue the stage-1 epoch axis; 0 for a stage-1 run or when unknown.
fn stage1_epochs(run: &Path) -> usize {
    let Ok(config) = read_json::<TrainConfig>(&RunDir::new(run).config()) else {
        return 0;
    };
    let Some(init) = config.init.filter(|_| config.variant.is_stage2()) else {
        return 0;
    };
    // `--init RUN/best` names the kept epoch's folder: its run is the parent.
    let logged = |dir: &Path| read_json::<Vec<EpochLog>>(&RunDir::new(dir).log_json()).ok();
    let history = logged(&init).or_else(|| init.parent().and_then(logged));
    history.and_then(|h| h.last().map(|l| l.epoch)).unwrap_or(0)
}

/// A person's name for a feature-map level: `shared.0` → `shared, level 1`,
/// `branches.1.2` → `attribute branch, level 3`.
fn level_label(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    let level = |l: &str| {
        l.parse::<usize>()
            .map_or_else(|_| l.to_string(), |l| (l + 1).to_string())
    };
    match parts.as_slice() {
        ["shared", l] => format!("shared, level {}", level(l)),
        ["branches", t, l] => {
            let task = match *t {
                "0" => "landmark",
                "1" => "attribute",
                other => other,
            };
            format!("{task} branch, level {}", level(l))
        }
        _ => name.to_string(),
    }
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
                name: level_label(&name),
                channels,
                height,
                width,
                values: t.into_data().try_into_vec::<f32>().unwrap_or_default(),
            }
        })
        .collect();
    write_feature_grid(path, &maps, 16, 48)
}

#[cfg(test)]
mod tests {
    use super::level_label;

    #[test]
    fn feature_map_rows_get_task_and_level_names() {
        assert_eq!(level_label("shared.0"), "shared, level 1");
        assert_eq!(level_label("branches.0.3"), "landmark branch, level 4");
        assert_eq!(level_label("branches.1.0"), "attribute branch, level 1");
        assert_eq!(level_label("other"), "other");
    }
}
