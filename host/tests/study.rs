//! `smn study` on a tiny synthetic set: two seeds, one epoch per stage,
//! interrupted with `--max-runs` and resumed; the report has every table.
mod common;

use common::smn;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smn-study-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn study(out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "study",
        "--preset",
        "tiny",
        "--synthetic",
        "96",
        "--seeds",
        "2",
        "--stage1-epochs",
        "1",
        "--epochs",
        "1",
        "--calib-count",
        "16",
        "--schedule",
        "cosine",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    smn(&args)
}

fn modified(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn a_study_interrupted_and_resumed_reports_every_table() {
    let out = temp("resume").join("study");
    // Interrupted after three trained runs: seed 1's mtl, control and smn.
    let (ok, stdout, err) = study(&out, &["--max-runs", "3"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("stopped after training 3 run(s)"), "{stdout}");
    assert!(!out.join("report.md").exists());
    let first = out.join("seed-1/mtl/study-eval.json");
    assert!(first.is_file() && out.join("seed-1/smn/study-eval.json").is_file());
    assert!(!out.join("seed-1/smn-1x1/model.json").exists());
    let stamp = modified(&first);

    // Resumed: the finished runs are reused, the rest trained.
    let (ok, stdout, err) = study(&out, &[]);
    assert!(ok, "{err}");
    assert!(stdout.contains("SMN+1×1+fine-tune"), "{stdout}");
    assert_eq!(modified(&first), stamp, "a finished run was redone");
    assert!(
        err.contains("run 4/10: seed 1 smn-1x1") && !err.contains("run 1/10"),
        "{err}"
    );

    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for part in [
        "## Protocol",
        "## Verdict per paper claim",
        "## Landmarks: NME per landmark",
        "## Differences against both baselines",
        "| smn-1x1-ft − mtl-control |",
        "## Table 1: attribute accuracy (%)",
        "| Smiling |",
        "## Int8 on the device engine",
        "| int8 (firmware-core) |",
        "## Time",
        "figures/ced.png",
        "cosine schedule",
    ] {
        assert!(report.contains(part), "{part} missing from the report:\n{report}");
    }
    assert!(out.join("figures/ced.png").is_file());
    assert!(out.join("figures/training-seed-1.png").is_file());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("study.json")).unwrap()).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 10);
    // The control trained one epoch more than its stage-1 run, from its checkpoint.
    let control: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("seed-2/mtl-control/log.json")).unwrap()).unwrap();
    assert_eq!(control.as_array().unwrap().len(), 2);
    assert!(runs
        .iter()
        .any(|r| r["label"] == "smn-1x1-ft" && r["int8"]["mean_nme"].as_f64().is_some()));
    assert!(runs.iter().filter(|r| r["label"] != "mtl").all(|r| r["epochs"] == 1));
    assert_eq!(v["protocol"]["seeds"], serde_json::json!([1, 2]));

    // Running again reuses everything and still writes the report.
    let (ok, _, err) = study(&out, &[]);
    assert!(ok, "{err}");
    assert!(!err.contains("study: run "), "{err}");

    // Changed settings on the same folder are refused, naming the run.
    let (ok, _, err) = study(&out, &["--lr", "0.01"]);
    assert!(
        !ok && err.contains("seed-1/mtl was trained with other settings"),
        "{err}"
    );
    let (ok, _, err) = study(&out, &["--dropout", "0.3"]);
    assert!(
        !ok && err.contains("seed-1/mtl was trained with other settings"),
        "{err}"
    );
    // --stage2-lr changes the stage-2 runs only: stage 1 and the control
    // are reused, the first stage-2 run is refused.
    let (ok, _, err) = study(&out, &["--stage2-lr", "0.0002"]);
    assert!(
        !ok && err.contains("seed-1/smn was trained with other settings"),
        "{err}"
    );
}
