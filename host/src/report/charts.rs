//! Line charts as PNG: cumulative error distributions (the paper's Fig. 3)
//! and training curves.
use super::font::{ensure_font, FAMILY};
use super::png::write_rgb_png;
use crate::data::LANDMARK_NAMES;
use crate::train::metrics::{ced_thresholds, Metrics};
use crate::train::trainer::EpochLog;
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
    /// Lines.
    pub series: Vec<Series>,
    /// Where the legend goes (away from where the lines end up).
    pub legend: SeriesLabelPosition,
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

fn draw_panel(area: &DrawingArea<BitMapBackend<'_>, Shift>, panel: &Panel, text: bool) -> Result<()> {
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
    for (i, s) in panel.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line = chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(err)?;
        if text {
            line.label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
    }
    if text && panel.series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 11))
            .position(panel.legend.clone())
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// Draws `panels` side by side (`columns` per row) into a PNG.
pub fn draw_panels(path: &Path, panels: &[Panel], columns: usize, panel_size: (u32, u32)) -> Result<()> {
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let (w, h) = (panel_size.0 as usize * columns, panel_size.1 as usize * rows);
    let mut buffer = vec![0u8; w * h * 3];
    let text = ensure_font().is_some();
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        for (area, panel) in root.split_evenly((rows, columns)).iter().zip(panels) {
            draw_panel(area, panel, text)?;
        }
        root.present().map_err(err)?;
    }
    write_rgb_png(path, w, h, &buffer)
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
            legend: SeriesLabelPosition::LowerRight,
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

/// Training curves of one or more runs: loss per epoch, and the validation
/// metrics when the runs logged them.
pub fn training_figure(path: &Path, runs: &[(&str, &[EpochLog])]) -> Result<()> {
    let series = |f: &dyn Fn(&EpochLog) -> Option<f64>| -> Vec<Series> {
        runs.iter()
            .map(|(label, logs)| Series {
                label: (*label).to_string(),
                points: logs.iter().filter_map(|l| Some((l.epoch as f64, f(l)?))).collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let mut panels = vec![
        Panel {
            title: "training loss E_all".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: series(&|l| Some(l.loss)),
            legend: SeriesLabelPosition::UpperRight,
            y_range: None,
        },
        Panel {
            title: "landmark loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: series(&|l| Some(l.landmark_loss)),
            legend: SeriesLabelPosition::UpperRight,
            y_range: None,
        },
        Panel {
            title: "attribute loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: series(&|l| Some(l.attribute_loss)),
            legend: SeriesLabelPosition::UpperRight,
            y_range: None,
        },
    ];
    let nme = series(&|l| l.val_mean_nme);
    if !nme.is_empty() {
        panels.push(Panel {
            title: "validation mean NME".into(),
            x_label: "epoch".into(),
            y_label: "NME".into(),
            series: nme,
            legend: SeriesLabelPosition::UpperRight,
            y_range: None,
        });
        panels.push(Panel {
            title: "validation mean accuracy".into(),
            x_label: "epoch".into(),
            y_label: "accuracy".into(),
            series: series(&|l| l.val_mean_accuracy),
            legend: SeriesLabelPosition::LowerRight,
            y_range: None,
        });
    }
    draw_panels(path, &panels, 3, (400, 300))
}
