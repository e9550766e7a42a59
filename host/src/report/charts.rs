//! Line charts as PNG: cumulative error distributions (the paper's Fig. 3)
//! and training curves.
use super::font::{ensure_font, FAMILY};
use super::png::write_rgb_png;
use crate::data::LANDMARK_NAMES;
use crate::evaluation::metrics::{ced_thresholds, Metrics};
use crate::train::history::EpochLog;
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One named line.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, y)` points in order.
    pub points: Vec<(f64, f64)>,
}

/// Axis texts and ranges of one panel.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// Lines (the colour of a line is that of its label in the figure's
    /// shared legend).
    pub series: Vec<Series>,
    /// Fixed y range (e.g. `0..1` for fractions); `None` fits the data.
    pub y_range: Option<(f64, f64)>,
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing chart: {e:?}")
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// The figure's line labels in first-seen order: one colour each, the same
/// in every panel.
fn legend_labels(panels: &[Panel]) -> Vec<&str> {
    let mut labels: Vec<&str> = Vec::new();
    for s in panels.iter().flat_map(|p| &p.series) {
        if !labels.contains(&s.label.as_str()) {
            labels.push(&s.label);
        }
    }
    labels
}

/// Lines with at most this many points get a marker on each.
const MARKED_POINTS: usize = 40;

/// Height of one legend line, in pixels.
const LEGEND_ROW_PX: u32 = 24;
/// Width of one legend entry, in pixels.
const LEGEND_ENTRY_PX: u32 = 300;

fn draw_panel(area: &DrawingArea<BitMapBackend<'_>, Shift>, panel: &Panel, labels: &[&str], text: bool) -> Result<()> {
    let points = || panel.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = range(points().map(|p| p.0));
    let (y0, y1) = panel.y_range.unwrap_or_else(|| range(points().map(|p| p.1)));
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if text {
        builder
            .caption(&panel.title, (FAMILY, 18))
            .x_label_area_size(36)
            .y_label_area_size(52);
    }
    let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE.mix(0.0));
    if text {
        mesh.x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .label_style((FAMILY, 13));
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(err)?;
    for s in &panel.series {
        let i = labels.iter().position(|l| *l == s.label).unwrap_or(0);
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(err)?;
        // Few points (epochs): mark each, so a one-epoch run is visible too.
        if s.points.len() <= MARKED_POINTS {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The shared legend, below the panels (outside every plotting area): one
/// entry per label, wrapped into rows.
fn draw_legend(area: &DrawingArea<BitMapBackend<'_>, Shift>, labels: &[&str], per_row: usize) -> Result<()> {
    for (i, label) in labels.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let x = 12 + (i % per_row) as i32 * LEGEND_ENTRY_PX as i32;
        let y = 6 + (i / per_row) as i32 * LEGEND_ROW_PX as i32 + LEGEND_ROW_PX as i32 / 2;
        area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)))
            .map_err(err)?;
        area.draw(&Text::new(
            (*label).to_string(),
            (x + 32, y - 7),
            (FAMILY, 13).into_font().color(&BLACK),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Draws `panels` side by side (`columns` per row) into a PNG, with one
/// legend for all of them below the panels when there are several lines.
pub fn draw_panels(path: &Path, panels: &[Panel], columns: usize, panel_size: (u32, u32)) -> Result<()> {
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let text = ensure_font().is_some();
    let labels = legend_labels(panels);
    let w = panel_size.0 * columns as u32;
    let per_row = (w / LEGEND_ENTRY_PX).max(1) as usize;
    let legend_h = if text && labels.len() > 1 {
        LEGEND_ROW_PX * labels.len().div_ceil(per_row) as u32 + 12
    } else {
        0
    };
    let h = panel_size.1 * rows as u32 + legend_h;
    let mut buffer = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (charts, legend) = root.split_vertically(h - legend_h);
        for (area, panel) in charts.split_evenly((rows, columns)).iter().zip(panels) {
            draw_panel(area, panel, &labels, text)?;
        }
        if legend_h > 0 {
            draw_legend(&legend, &labels, per_row)?;
        }
        root.present().map_err(err)?;
    }
    write_rgb_png(path, w as usize, h as usize, &buffer)
}

/// The cumulative error distribution of each landmark (one panel per
/// landmark, one line per model), as in the paper's Fig. 3.
pub fn ced_figure(path: &Path, models: &[(&str, &Metrics)]) -> Result<()> {
    let thresholds = ced_thresholds();
    let panels: Vec<Panel> = LANDMARK_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| Panel {
            title: format!("CED: {name}"),
            x_label: "NME".into(),
            y_label: "fraction of images".into(),
            y_range: Some((0.0, 1.0)),
            series: models
                .iter()
                .map(|(label, m)| Series {
                    label: (*label).to_string(),
                    points: thresholds
                        .iter()
                        .zip(m.ced.get(i).map(Vec::as_slice).unwrap_or(&[]))
                        .map(|(&t, &f)| (t, f))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    draw_panels(path, &panels, 5, (360, 300))
}

/// One run's curve in the training figure.
#[derive(Clone, Copy, Debug)]
pub struct TrainingCurve<'a> {
    /// Legend text.
    pub label: &'a str,
    /// Epochs before this run's first (a stage-2 run continues its stage-1
    /// run's epoch axis).
    pub epoch_offset: usize,
    /// Its epoch logs.
    pub history: &'a [EpochLog],
}

/// Training curves of one or more runs: loss per epoch, and the validation
/// metrics when the runs logged them.
pub fn training_figure(path: &Path, runs: &[TrainingCurve<'_>]) -> Result<()> {
    let series = |f: &dyn Fn(&EpochLog) -> Option<f64>| -> Vec<Series> {
        runs.iter()
            .map(|run| Series {
                label: run.label.to_string(),
                points: run
                    .history
                    .iter()
                    .filter_map(|l| Some(((l.epoch + run.epoch_offset) as f64, f(l)?)))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let mut panels = vec![
        Panel {
            title: "training loss E_all".into(),
            x_label: "epoch (stage 2 continues stage 1)".into(),
            y_label: "loss".into(),
            series: series(&|l| Some(l.loss)),
            y_range: None,
        },
        Panel {
            title: "landmark loss".into(),
            x_label: "epoch (stage 2 continues stage 1)".into(),
            y_label: "loss".into(),
            series: series(&|l| Some(l.landmark_loss)),
            y_range: None,
        },
        Panel {
            title: "attribute loss".into(),
            x_label: "epoch (stage 2 continues stage 1)".into(),
            y_label: "loss".into(),
            series: series(&|l| Some(l.attribute_loss)),
            y_range: None,
        },
    ];
    let nme = series(&|l| l.val_mean_nme);
    if !nme.is_empty() {
        panels.push(Panel {
            title: "validation mean NME".into(),
            x_label: "epoch (stage 2 continues stage 1)".into(),
            y_label: "NME".into(),
            series: nme,
            y_range: None,
        });
        panels.push(Panel {
            title: "validation mean accuracy".into(),
            x_label: "epoch (stage 2 continues stage 1)".into(),
            y_label: "accuracy".into(),
            series: series(&|l| l.val_mean_accuracy),
            y_range: None,
        });
    }
    draw_panels(path, &panels, 3, (400, 300))
}
