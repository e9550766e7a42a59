//! Plain-text tables printed by the CLI: one model's metrics, float vs int8.
use crate::data::transform::Augment;
use crate::data::{ATTRIBUTE_NAMES, LANDMARK_NAMES};
use crate::evaluation::metrics::Metrics;
use crate::evaluation::parity::Parity;
use std::fmt::Write as _;

/// The augmentation of a run in words: `off`, `on` (the defaults,
/// [`Augment::DEFAULT`]), or its ranges.
pub fn augmentation_text(augment: Option<&Augment>) -> String {
    match augment {
        None => "off".into(),
        Some(a) if *a == Augment::DEFAULT => "on".into(),
        Some(a) => format!(
            "flip {}, shift ±{}, scale ±{}, rotation ±{}°, colour ±{}, erase {}",
            a.flip_probability, a.max_shift, a.max_scale, a.max_rotation_degrees, a.color_jitter, a.erase_probability
        ),
    }
}

/// A text table of the metrics.
pub fn format_metrics(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "images {}", m.images);
    let _ = writeln!(s, "NME (normaliser: max(inter-ocular distance, 1) in original pixels)");
    for (name, v) in LANDMARK_NAMES.iter().zip(m.nme) {
        let _ = writeln!(s, "  {name:<12} {v:.4}");
    }
    let _ = writeln!(s, "  mean         {:.4}", m.mean_nme);
    let _ = writeln!(s, "attribute accuracy (known labels)");
    for (name, a) in ATTRIBUTE_NAMES.iter().zip(&m.attribute_accuracy) {
        if let Some(a) = a {
            let _ = writeln!(s, "  {name:<20} {:.2} %", 100.0 * a);
        }
    }
    let _ = writeln!(s, "  mean                 {:.2} %", 100.0 * m.mean_attribute_accuracy);
    s
}

/// Side-by-side text of float vs int8.
pub fn format_parity(p: &Parity) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "float vs int8 ({} images)", p.float.images);
    let _ = writeln!(s, "  {:<14} {:>9} {:>9}", "NME", "float", "int8");
    for (i, name) in LANDMARK_NAMES.iter().enumerate() {
        let _ = writeln!(s, "  {name:<14} {:>9.4} {:>9.4}", p.float.nme[i], p.int8.nme[i]);
    }
    let _ = writeln!(s, "  {:<14} {:>9.4} {:>9.4}", "mean", p.float.mean_nme, p.int8.mean_nme);
    let _ = writeln!(
        s,
        "  mean attribute accuracy {:.2} % vs {:.2} % (drop {:.2} points)",
        100.0 * p.float.mean_attribute_accuracy,
        100.0 * p.int8.mean_attribute_accuracy,
        p.accuracy_drop_points
    );
    let _ = writeln!(
        s,
        "  mean NME rise {:+.2} %; {} of {} attribute decisions flip; landmarks move {:.3} px on average",
        100.0 * p.nme_rise_relative,
        p.flipped_decisions,
        p.decisions,
        p.mean_landmark_shift_px
    );
    s
}
