//! Landmark overlays (the paper's Fig. 4): ground truth in red, prediction
//! in green, on the model-input image, enlarged, several faces in a row.
use super::png::write_rgb_png;
use crate::data::Rgb;
use crate::data::LANDMARK_OUTPUTS;
use anyhow::Result;
use std::path::Path;

/// Ground truth colour.
pub const TRUTH: [u8; 3] = [230, 30, 30];
/// Prediction colour.
pub const PREDICTION: [u8; 3] = [30, 220, 60];

/// One face: the model-input image and both landmark sets in its pixels.
#[derive(Clone, Debug)]
pub struct OverlayFace {
    /// The image the model saw.
    pub image: Rgb,
    /// Ground truth `x0, y0, …`.
    pub truth: [f32; LANDMARK_OUTPUTS],
    /// Prediction `x0, y0, …`.
    pub predicted: [f32; LANDMARK_OUTPUTS],
}

/// `image` enlarged `zoom` times (nearest neighbour).
pub fn enlarge(image: &Rgb, zoom: usize) -> Rgb {
    let mut out = Rgb::new(image.width * zoom, image.height * zoom);
    for y in 0..out.height {
        for x in 0..out.width {
            if let Some(p) = image.get(x / zoom, y / zoom) {
                out.put(x, y, p);
            }
        }
    }
    out
}

/// Draws a filled disc of `radius` at `(cx, cy)`.
pub fn disc(image: &mut Rgb, cx: f32, cy: f32, radius: f32, color: [u8; 3]) {
    let r = radius.ceil() as i64;
    let (x0, y0) = (cx.round() as i64, cy.round() as i64);
    for dy in -r..=r {
        for dx in -r..=r {
            let (x, y) = (x0 + dx, y0 + dy);
            let (fx, fy) = (x as f32 - cx, y as f32 - cy);
            if fx * fx + fy * fy <= radius * radius && x >= 0 && y >= 0 {
                image.put(x as usize, y as usize, color);
            }
        }
    }
}

/// Marks each point; `zoom` maps model pixels (centres at integers) to the enlarged image.
fn mark(image: &mut Rgb, points: &[f32; LANDMARK_OUTPUTS], zoom: usize, radius: f32, color: [u8; 3]) {
    let z = zoom as f32;
    for xy in points.chunks_exact(2) {
        disc(image, (xy[0] + 0.5) * z - 0.5, (xy[1] + 0.5) * z - 0.5, radius, color);
    }
}

/// Writes the faces side by side (up to `columns` per row), enlarged `zoom` times.
pub fn write_overlays(path: &Path, faces: &[OverlayFace], columns: usize, zoom: usize) -> Result<()> {
    let Some(first) = faces.first() else {
        anyhow::bail!("{}: no faces to draw", path.display())
    };
    let (cw, ch) = (first.image.width * zoom, first.image.height * zoom);
    let columns = columns.clamp(1, faces.len());
    let rows = faces.len().div_ceil(columns);
    let gap = 4;
    let mut sheet = Rgb::new(columns * (cw + gap) + gap, rows * (ch + gap) + gap);
    sheet.pixels.fill(255);
    let radius = (zoom as f32 * 0.9).max(2.0);
    for (i, face) in faces.iter().enumerate() {
        let mut cell = enlarge(&face.image, zoom);
        mark(&mut cell, &face.truth, zoom, radius, TRUTH);
        mark(&mut cell, &face.predicted, zoom, radius * 0.7, PREDICTION);
        let (ox, oy) = (gap + (i % columns) * (cw + gap), gap + (i / columns) * (ch + gap));
        sheet.blit(&cell, ox, oy);
    }
    write_rgb_png(path, sheet.width, sheet.height, &sheet.pixels)
}
