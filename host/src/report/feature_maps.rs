//! Feature-map grids (the paper's Fig. 5): one row per layer, one tile per
//! channel, each channel stretched to its own min–max range.
use super::font::{ensure_font, FAMILY};
use super::overlay::enlarge;
use super::png::write_rgb_png;
use crate::data::Rgb;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// Width of the label column left of the tiles, in pixels (none without a font).
const LABEL_PX: usize = 190;

/// One layer's activations for one image: `channels × height × width`.
#[derive(Clone, Debug)]
pub struct FeatureMap {
    /// Layer name (for the report).
    pub name: String,
    /// Channels.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels × height × width` values.
    pub values: Vec<f32>,
}

/// A grey tile of one channel, stretched to 0–255.
fn tile(map: &FeatureMap, channel: usize) -> Rgb {
    let plane = map.height * map.width;
    let values = map.values.get(channel * plane..(channel + 1) * plane).unwrap_or(&[]);
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut out = Rgb::new(map.width, map.height);
    for (i, &v) in values.iter().enumerate() {
        let g = (255.0 * (v - lo) / span).round().clamp(0.0, 255.0) as u8;
        out.put(i % map.width, i / map.width, [g, g, g]);
    }
    out
}

/// Writes the first `max_channels` channels of each layer as one row, its
/// name on the left (when a font is found); every tile is enlarged to at
/// least `tile_px` pixels wide.
pub fn write_feature_grid(path: &Path, layers: &[FeatureMap], max_channels: usize, tile_px: usize) -> Result<()> {
    let gap = 2;
    let label_px = if ensure_font().is_some() { LABEL_PX } else { 0 };
    let zoom_of = |m: &FeatureMap| tile_px.div_ceil(m.width.max(1)).max(1);
    let row_h: Vec<usize> = layers.iter().map(|m| m.height * zoom_of(m)).collect();
    let row_w: Vec<usize> = layers
        .iter()
        .map(|m| m.channels.min(max_channels) * (m.width * zoom_of(m) + gap))
        .collect();
    let width = row_w.iter().copied().max().unwrap_or(0) + gap + label_px;
    let height = row_h.iter().map(|h| h + 3 * gap).sum::<usize>() + gap;
    if width <= gap + label_px || height <= gap {
        anyhow::bail!("{}: no feature maps to draw", path.display());
    }
    let mut sheet = Rgb::new(width, height);
    sheet.pixels.fill(255);
    let mut y = gap;
    for (m, h) in layers.iter().zip(&row_h) {
        let zoom = zoom_of(m);
        for c in 0..m.channels.min(max_channels) {
            sheet.blit(
                &enlarge(&tile(m, c), zoom),
                label_px + gap + c * (m.width * zoom + gap),
                y,
            );
        }
        y += h + 3 * gap;
    }
    if label_px > 0 {
        draw_labels(&mut sheet, layers, &row_h, gap)?;
    }
    write_rgb_png(path, sheet.width, sheet.height, &sheet.pixels)
}

/// Writes each layer's name in the label column, centred on its row.
fn draw_labels(sheet: &mut Rgb, layers: &[FeatureMap], row_h: &[usize], gap: usize) -> Result<()> {
    let (w, h) = (sheet.width as u32, sheet.height as u32);
    let root = BitMapBackend::with_buffer(&mut sheet.pixels, (w, h)).into_drawing_area();
    let mut y = gap;
    for (m, rh) in layers.iter().zip(row_h) {
        let centre = (y + rh / 2) as i32;
        root.draw(&Text::new(
            m.name.clone(),
            (6, centre - 7),
            (FAMILY, 14).into_font().color(&BLACK),
        ))
        .map_err(|e| anyhow!("drawing feature-map labels: {e:?}"))?;
        y += rh + 3 * gap;
    }
    root.present().map_err(|e| anyhow!("drawing feature-map labels: {e:?}"))
}
