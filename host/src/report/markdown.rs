//! Markdown metric reports: one model's metrics, or several side by side
//! (like the paper's Table 1).
use super::text::format_parity;
use crate::data::{ATTRIBUTE_NAMES, LANDMARK_NAMES};
use crate::evaluation::metrics::Metrics;
use crate::evaluation::models::Evaluation;
use std::fmt::Write as _;

/// NME normaliser statement used in every report.
pub const NME_NOTE: &str = "NME = ‖t_i − y_i‖₂ / max(‖t_le − t_re‖₂, 1), in pixels of the original 178×218 image \
(model coordinates mapped back through the inverse of the centre-crop/resize).";

/// A Markdown table comparing `models` (name, metrics): per-landmark and
/// mean NME, then per-attribute and mean accuracy over attributes any model
/// has labels for.
pub fn comparison_table(models: &[(&str, &Metrics)]) -> String {
    let mut s = String::new();
    let header = |s: &mut String, first: &str| {
        let _ = write!(s, "| {first} |");
        for (name, _) in models {
            let _ = write!(s, " {name} |");
        }
        let _ = write!(s, "\n|---|");
        for _ in models {
            s.push_str("---:|");
        }
        s.push('\n');
    };
    let row = |s: &mut String, label: &str, cells: &mut dyn Iterator<Item = String>| {
        let _ = write!(s, "| {label} |");
        for c in cells {
            let _ = write!(s, " {c} |");
        }
        s.push('\n');
    };
    let _ = writeln!(s, "{NME_NOTE}\n");
    header(&mut s, "NME (lower is better)");
    for (i, name) in LANDMARK_NAMES.iter().enumerate() {
        row(
            &mut s,
            name,
            &mut models.iter().map(|(_, m)| format!("{:.4}", m.nme[i])),
        );
    }
    row(
        &mut s,
        "**mean**",
        &mut models.iter().map(|(_, m)| format!("**{:.4}**", m.mean_nme)),
    );
    s.push('\n');
    header(&mut s, "attribute accuracy %");
    for (a, name) in ATTRIBUTE_NAMES.iter().enumerate() {
        let known = models
            .iter()
            .any(|(_, m)| m.attribute_accuracy.get(a).copied().flatten().is_some());
        if known {
            let cells = &mut models
                .iter()
                .map(|(_, m)| match m.attribute_accuracy.get(a).copied().flatten() {
                    Some(v) => format!("{:.2}", 100.0 * v),
                    None => "–".into(),
                });
            row(&mut s, name, cells);
        }
    }
    let cells = &mut models
        .iter()
        .map(|(_, m)| format!("**{:.2}**", 100.0 * m.mean_attribute_accuracy));
    row(&mut s, "**mean**", cells);
    let cells = &mut models.iter().map(|(_, m)| m.images.to_string());
    row(&mut s, "images", cells);
    s
}

/// Markdown report of an evaluation.
pub fn evaluation_report(eval: &Evaluation, data_label: &str) -> String {
    let mut s = format!("# Evaluation\n\nData: {data_label}\n\n");
    s.push_str(&comparison_table(&eval.rows()));
    if let Some(p) = &eval.parity {
        let _ = write!(s, "\n## Float vs int8\n\n```text\n{}```\n", format_parity(p));
    }
    s
}
