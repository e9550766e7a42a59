//! `smn study`'s results (`study.json`) and its Markdown report: the
//! paper's Table 1 (per-attribute accuracy) and per-landmark NME as
//! mean ± std over seeds, paired differences of every stage-2 variant
//! against both `mtl` baselines with 95 % intervals, a verdict per paper
//! claim, int8 beside float, and time.
use super::text::augmentation_text;
use crate::data::attributes::{ATTRIBUTE_NAMES, LANDMARK_NAMES};
use crate::data::transform::Augment;
use crate::evaluation::metrics::Metrics;
use crate::evaluation::stats::{mean_std, MeanStd, PairedDifference};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The stage-1 baseline's label.
pub const MTL: &str = "mtl";
/// The fair control: `mtl` trained on for as many epochs as stage 2.
pub const MTL_CONTROL: &str = "mtl-control";
/// The stage-2 variants, in report order.
pub const STAGE2: [&str; 3] = ["smn", "smn-1x1", "smn-1x1-ft"];
/// The variant shipped to the device (int8 beside float).
pub const SHIPPED: &str = "smn-1x1-ft";

/// How the study was run (the report states it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// Training data.
    pub train_data: String,
    /// Validation data.
    pub val_data: String,
    /// Training images.
    pub train_images: usize,
    /// Validation images.
    pub val_images: usize,
    /// Architecture preset.
    pub preset: String,
    /// Model input side.
    pub input_size: usize,
    /// Optimiser recipe and LR schedule, e.g. `adam lr 0.001, constant schedule`.
    pub optimizer: String,
    /// Stage-1 epochs.
    pub stage1_epochs: usize,
    /// Stage-2 epochs (and the control's extra epochs).
    pub stage2_epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Augmentation of the training images (`None`: off).
    pub augmentation: Option<Augment>,
    /// Early stopping (`--keep-best` / `--patience`), if any.
    pub early_stopping: Option<String>,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Backend.
    pub backend: String,
}

/// One trained and evaluated run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRun {
    /// Seed.
    pub seed: u64,
    /// `mtl`, `mtl-control` or a stage-2 variant.
    pub label: String,
    /// Float metrics on the validation set.
    pub metrics: Metrics,
    /// Int8 metrics (the shipped variant only).
    pub int8: Option<Metrics>,
    /// Epochs this run trained (the control: its extra epochs).
    pub epochs: usize,
    /// The epoch evaluated when early stopping kept one.
    pub best_epoch: Option<usize>,
    /// Training seconds (the control: its extra epochs).
    pub seconds: f64,
    /// Mean training images per second.
    pub images_per_second: f64,
}

/// Everything `study.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyResult {
    /// How it was run.
    pub protocol: Protocol,
    /// Every run, seed by seed.
    pub runs: Vec<StudyRun>,
    /// Wall-clock seconds of the whole study (this invocation and earlier ones).
    pub wall_seconds: f64,
}

/// Labels in report order.
pub fn labels() -> Vec<&'static str> {
    [MTL, MTL_CONTROL].into_iter().chain(STAGE2).collect()
}

impl StudyResult {
    /// Runs of `label`, in seed order.
    fn of(&self, label: &str) -> Vec<&StudyRun> {
        let mut runs: Vec<&StudyRun> = self.runs.iter().filter(|r| r.label == label).collect();
        runs.sort_by_key(|r| r.seed);
        runs
    }

    /// `value` of each run of `label`, in seed order.
    pub fn values(&self, label: &str, value: impl Fn(&StudyRun) -> f64) -> Vec<f64> {
        self.of(label).into_iter().map(value).collect()
    }

    /// Mean ± std of `value` over the seeds of `label`.
    pub fn summary(&self, label: &str, value: impl Fn(&StudyRun) -> f64) -> MeanStd {
        mean_std(&self.values(label, value))
    }

    /// `a − b` of `value`, paired by seed (seeds both have).
    pub fn difference(&self, a: &str, b: &str, value: impl Fn(&StudyRun) -> f64) -> PairedDifference {
        let (ra, rb) = (self.of(a), self.of(b));
        let pairs: Vec<(f64, f64)> = ra
            .iter()
            .filter_map(|x| rb.iter().find(|y| y.seed == x.seed).map(|y| (value(x), value(y))))
            .collect();
        let (xa, xb): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        PairedDifference::of(&xa, &xb)
    }

    /// The CED of each landmark averaged over the seeds of `label`, as a
    /// `Metrics` for the CED figure (other fields: seed means).
    pub fn mean_metrics(&self, label: &str) -> Option<Metrics> {
        let runs = self.of(label);
        let first = runs.first()?;
        let n = runs.len() as f64;
        let mut m = first.metrics.clone();
        for (i, curve) in m.ced.iter_mut().enumerate() {
            for (k, v) in curve.iter_mut().enumerate() {
                *v = runs
                    .iter()
                    .map(|r| r.metrics.ced.get(i).and_then(|c| c.get(k)).copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / n;
            }
        }
        for (i, v) in m.nme.iter_mut().enumerate() {
            *v = runs.iter().map(|r| r.metrics.nme[i]).sum::<f64>() / n;
        }
        m.mean_nme = runs.iter().map(|r| r.metrics.mean_nme).sum::<f64>() / n;
        m.mean_attribute_accuracy = runs.iter().map(|r| r.metrics.mean_attribute_accuracy).sum::<f64>() / n;
        Some(m)
    }
}

fn pm(s: MeanStd, scale: f64, digits: usize) -> String {
    if s.n == 0 || s.mean.is_nan() {
        return "–".into();
    }
    format!("{:.*} ± {:.*}", digits, s.mean * scale, digits, s.std * scale)
}

fn diff(d: PairedDifference, scale: f64, digits: usize) -> String {
    if d.n == 0 || d.mean.is_nan() {
        return "–".into();
    }
    let ci = if d.ci95.is_finite() {
        format!(" ± {:.*}", digits, d.ci95 * scale)
    } else {
        String::new()
    };
    format!(
        "{:+.*}{ci}{}",
        digits,
        d.mean * scale,
        if d.significant() { " *" } else { "" }
    )
}

fn accuracy(r: &StudyRun, i: usize) -> f64 {
    r.metrics
        .attribute_accuracy
        .get(i)
        .copied()
        .flatten()
        .unwrap_or(f64::NAN)
}

/// A table of one figure per row and variant, mean ± std over seeds times
/// `scale`: row `i` of `names` shows `per_row(run, i)`, the last row `mean`.
fn per_variant_table(
    result: &StudyResult,
    corner: &str,
    names: &[&str],
    per_row: impl Fn(&StudyRun, usize) -> f64,
    mean: impl Fn(&StudyRun) -> f64,
    (scale, digits): (f64, usize),
) -> String {
    let labels = labels();
    let mut s = format!(
        "| {corner} | {} |\n|---|{}\n",
        labels.join(" | "),
        "---:|".repeat(labels.len())
    );
    let row = |s: &mut String, name: &str, value: &dyn Fn(&StudyRun) -> f64| {
        let cells: Vec<String> = labels
            .iter()
            .map(|l| pm(result.summary(l, value), scale, digits))
            .collect();
        let _ = writeln!(s, "| {name} | {} |", cells.join(" | "));
    };
    for (i, name) in names.iter().enumerate() {
        row(&mut s, name, &|r| per_row(r, i));
    }
    row(&mut s, "**mean**", &mean);
    s
}

/// Table 1: per-attribute accuracy (%) per variant, mean ± std over seeds.
pub fn attribute_table(result: &StudyResult) -> String {
    per_variant_table(
        result,
        "attribute",
        &ATTRIBUTE_NAMES,
        accuracy,
        |r| r.metrics.mean_attribute_accuracy,
        (100.0, 2),
    )
}

/// Per-landmark NME (×100) per variant, mean ± std over seeds.
pub fn landmark_table(result: &StudyResult) -> String {
    per_variant_table(
        result,
        "NME ×100",
        &LANDMARK_NAMES,
        |r, i| r.metrics.nme.get(i).copied().unwrap_or(f64::NAN),
        |r| r.metrics.mean_nme,
        (100.0, 3),
    )
}

/// Paired differences of every stage-2 variant against both baselines.
pub fn difference_table(result: &StudyResult) -> String {
    let mut s = String::from(
        "| variant − baseline | Δ mean NME ×100 | Δ mean accuracy (pp) | per seed: Δ NME ×100 / Δ acc. (pp) |\n|---|---:|---:|---|\n",
    );
    for v in STAGE2 {
        for base in [MTL, MTL_CONTROL] {
            let d_nme = result.difference(v, base, |r| r.metrics.mean_nme);
            let d_acc = result.difference(v, base, |r| r.metrics.mean_attribute_accuracy);
            let (a, b) = (result.of(v), result.of(base));
            let per_seed: Vec<String> = a
                .iter()
                .filter_map(|x| {
                    let y = b.iter().find(|y| y.seed == x.seed)?;
                    Some(format!(
                        "{:+.3} / {:+.2}",
                        100.0 * (x.metrics.mean_nme - y.metrics.mean_nme),
                        100.0 * (x.metrics.mean_attribute_accuracy - y.metrics.mean_attribute_accuracy)
                    ))
                })
                .collect();
            let _ = writeln!(
                s,
                "| {v} − {base} | {} | {} | {} |",
                diff(d_nme, 100.0, 3),
                diff(d_acc, 100.0, 2),
                per_seed.join("; ")
            );
        }
    }
    s.push_str("\n± is the half-width of the 95 % confidence interval of the paired mean (Student's t over seeds); * marks an interval that excludes 0.\n");
    s
}

/// How one claim fared: `holds`, `reversed` or `not resolved`.
fn verdict(d: PairedDifference, better_when_negative: bool) -> &'static str {
    let good = if better_when_negative {
        d.mean < 0.0
    } else {
        d.mean > 0.0
    };
    match (d.significant(), good) {
        (true, true) => "holds",
        (true, false) => "reversed",
        (false, true) => "same direction, not significant",
        (false, false) => "opposite direction, not significant",
    }
}

/// One line per paper claim, decided from the paired differences.
pub fn verdicts(result: &StudyResult) -> String {
    let mut s = String::new();
    let nme = |a: &str, b: &str| result.difference(a, b, |r| r.metrics.mean_nme);
    let acc = |a: &str, b: &str| result.difference(a, b, |r| r.metrics.mean_attribute_accuracy);
    let every_landmark = (0..5).all(|i| result.difference(SHIPPED, MTL, |r| r.metrics.nme[i]).mean < 0.0);
    let _ = writeln!(
        s,
        "- SMN+1×1+fine-tune has a lower NME than MTL on every landmark (paper, Fig. 3): {} (mean NME vs mtl: {}; vs mtl-control: {})",
        if every_landmark { "yes, on the seed means" } else { "no" },
        verdict(nme(SHIPPED, MTL), true),
        verdict(nme(SHIPPED, MTL_CONTROL), true)
    );
    let _ = writeln!(
        s,
        "- SMN+1×1+fine-tune has a higher mean attribute accuracy than MTL (paper: 90.0 vs 89.9 %): vs mtl {}; vs mtl-control {}",
        verdict(acc(SHIPPED, MTL), false),
        verdict(acc(SHIPPED, MTL_CONTROL), false)
    );
    let _ = writeln!(
        s,
        "- the 1×1 conv helps (smn-1x1-ft vs smn): NME {}, accuracy {}",
        verdict(nme(SHIPPED, "smn"), true),
        verdict(acc(SHIPPED, "smn"), false)
    );
    let _ = writeln!(
        s,
        "- fine-tuning from stage 1 helps (smn-1x1-ft vs smn-1x1, random 1×1): NME {}, accuracy {}",
        verdict(nme(SHIPPED, "smn-1x1"), true),
        verdict(acc(SHIPPED, "smn-1x1"), false)
    );
    s
}

/// Float vs int8 of the shipped variant.
pub fn int8_table(result: &StudyResult) -> String {
    let runs = result.of(SHIPPED);
    let q: Vec<&Metrics> = runs.iter().filter_map(|r| r.int8.as_ref()).collect();
    if q.is_empty() {
        return "No int8 results.\n".into();
    }
    let f = |v: Vec<f64>, scale: f64, digits: usize| pm(mean_std(&v), scale, digits);
    let mut s = String::from("| smn-1x1-ft | mean NME ×100 | mean accuracy (%) |\n|---|---:|---:|\n");
    let _ = writeln!(
        s,
        "| float | {} | {} |",
        f(runs.iter().map(|r| r.metrics.mean_nme).collect(), 100.0, 3),
        f(
            runs.iter().map(|r| r.metrics.mean_attribute_accuracy).collect(),
            100.0,
            2
        )
    );
    let _ = writeln!(
        s,
        "| int8 (firmware-core) | {} | {} |",
        f(q.iter().map(|m| m.mean_nme).collect(), 100.0, 3),
        f(q.iter().map(|m| m.mean_attribute_accuracy).collect(), 100.0, 2)
    );
    s
}

/// Training time and speed per variant.
pub fn time_table(result: &StudyResult) -> String {
    let mut s = String::from("| run | epochs | training time per run (s) | images/s |\n|---|---:|---:|---:|\n");
    for l in labels() {
        let _ = writeln!(
            s,
            "| {l} | {} | {} | {} |",
            pm(result.summary(l, |r| r.epochs as f64), 1.0, 1),
            pm(result.summary(l, |r| r.seconds), 1.0, 0),
            pm(result.summary(l, |r| r.images_per_second), 1.0, 0)
        );
    }
    let _ = writeln!(s, "\nWall time of the study: {:.0} s.", result.wall_seconds);
    s
}

/// The whole report; `figures` are `(file name, caption)` under `figures/`.
pub fn study_markdown(result: &StudyResult, figures: &[(String, String)]) -> String {
    let p = &result.protocol;
    let mut s = String::from("# SMN study\n\n## Protocol\n\n");
    let _ = writeln!(
        s,
        "- data: training {} ({} images); validation {} ({} images)",
        p.train_data, p.train_images, p.val_data, p.val_images
    );
    let _ = writeln!(
        s,
        "- preset {} ({}×{} input), backend {}, batch {}, {}, augmentation {}",
        p.preset,
        p.input_size,
        p.input_size,
        p.backend,
        p.batch_size,
        p.optimizer,
        augmentation_text(p.augmentation.as_ref())
    );
    let _ = writeln!(
        s,
        "- per seed ({}): stage 1 `mtl` {} epochs; from it, `smn`, `smn-1x1` (random 1×1) and `smn-1x1-ft` (1×1 from stage 1) {} epochs each with the shared layers frozen; `mtl-control` = `mtl` trained on from its checkpoint for the same {} epochs (optimiser state kept, its schedule run over stage 1 + stage 2 epochs)",
        p.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        p.stage1_epochs,
        p.stage2_epochs,
        p.stage2_epochs
    );
    let _ = writeln!(
        s,
        "- early stopping: {}",
        p.early_stopping
            .as_deref()
            .unwrap_or("none (the last epoch is evaluated)")
    );
    let _ = write!(s, "\n## Verdict per paper claim\n\n{}", verdicts(result));
    let _ = write!(s, "\n## Landmarks: NME per landmark\n\n{}", landmark_table(result));
    let _ = write!(
        s,
        "\n## Differences against both baselines\n\n{}",
        difference_table(result)
    );
    let _ = write!(s, "\n## Table 1: attribute accuracy (%)\n\n{}", attribute_table(result));
    let _ = write!(s, "\n## Int8 on the device engine\n\n{}", int8_table(result));
    let _ = write!(s, "\n## Time\n\n{}", time_table(result));
    if !figures.is_empty() {
        s.push_str("\n## Figures\n\n");
        for (name, caption) in figures {
            let _ = writeln!(s, "![{name}](figures/{name})\n\n*{caption}*\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(nme: f64, acc: f64) -> Metrics {
        Metrics {
            images: 10,
            nme: [nme; 5],
            mean_nme: nme,
            ced: vec![vec![0.5; 51]; 5],
            attribute_accuracy: vec![Some(acc); 40],
            mean_attribute_accuracy: acc,
        }
    }

    fn result() -> StudyResult {
        let mut runs = Vec::new();
        for seed in 1..=3u64 {
            let jitter = seed as f64 * 0.001;
            for (label, nme, acc) in [
                (MTL, 0.060, 0.880),
                (MTL_CONTROL, 0.058, 0.881),
                ("smn", 0.055, 0.879),
                ("smn-1x1", 0.054, 0.882),
                ("smn-1x1-ft", 0.050 + jitter, 0.885),
            ] {
                runs.push(StudyRun {
                    seed,
                    label: label.into(),
                    metrics: metrics(nme, acc),
                    int8: (label == SHIPPED).then(|| metrics(nme + 0.001, acc - 0.002)),
                    epochs: 2,
                    best_epoch: None,
                    seconds: 10.0,
                    images_per_second: 100.0,
                });
            }
        }
        StudyResult {
            protocol: Protocol {
                train_data: "synthetic".into(),
                val_data: "synthetic".into(),
                train_images: 100,
                val_images: 20,
                preset: "tiny".into(),
                input_size: 16,
                optimizer: "adam lr 0.001".into(),
                stage1_epochs: 2,
                stage2_epochs: 1,
                batch_size: 32,
                augmentation: None,
                early_stopping: None,
                seeds: vec![1, 2, 3],
                backend: "flex".into(),
            },
            runs,
            wall_seconds: 12.0,
        }
    }

    #[test]
    fn tables_show_means_stds_and_paired_differences() {
        let r = result();
        let lm = landmark_table(&r);
        assert!(lm.contains("| **mean** | 6.000 ± 0.000 | 5.800 ± 0.000 |"), "{lm}");
        assert!(lm.contains("5.200 ± 0.100"), "{lm}"); // 5.1, 5.2, 5.3
        let t1 = attribute_table(&r);
        assert_eq!(t1.lines().count(), 2 + 40 + 1);
        assert!(t1.contains("| 5_o_Clock_Shadow | 88.00 ± 0.00 |"), "{t1}");
        let d = difference_table(&r);
        // smn-1x1-ft − mtl: NME −0.8 ± t(2)·0.1/√3 ×100 → −0.800 ± 0.248, significant.
        assert!(
            d.contains("| smn-1x1-ft − mtl | -0.800 ± 0.248 * | +0.50 ± 0.00 * |"),
            "{d}"
        );
        let v = verdicts(&r);
        assert!(v.contains("every landmark (paper, Fig. 3): yes"), "{v}");
        assert!(v.contains("vs mtl holds; vs mtl-control holds"), "{v}");
        let q = int8_table(&r);
        assert!(
            q.contains("| int8 (firmware-core) | 5.300 ± 0.100 | 88.30 ± 0.00 |"),
            "{q}"
        );
        let md = study_markdown(&r, &[("ced.png".into(), "CED".into())]);
        for heading in [
            "## Protocol",
            "## Verdict",
            "## Table 1",
            "## Int8",
            "## Time",
            "![ced.png]",
        ] {
            assert!(md.contains(heading), "{heading} missing");
        }
        let mean = r.mean_metrics("smn-1x1-ft").unwrap();
        assert!((mean.mean_nme - 0.052).abs() < 1e-12);
    }
}
