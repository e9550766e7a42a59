//! train → export → quantize → eval --int8 → demo, through the library and
//! the `smn` binary (tiny preset, synthetic faces, CPU).
use smn_host::data::dataset::{load_dataset, DataSpec};
use smn_host::evaluation::float::float_predictions;
use smn_host::model::backend::BackendKind;
use smn_host::model::export::float_model;
use smn_host::model::store::load_model;
use smn_host::model::{Arch, Variant};
use smn_host::train::config::TrainConfig;
use smn_host::train::trainer::train;
use smn_quantize::float_model::FloatModel;
use std::path::{Path, PathBuf};

mod common;

use common::smn;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smn-pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tiny(variant: Variant, init: Option<PathBuf>) -> TrainConfig {
    let mut cfg = TrainConfig::paper(variant, Arch::tiny());
    cfg.epochs = 1;
    cfg.batch_size = 16;
    cfg.lr = 0.01;
    cfg.init = init;
    cfg
}

/// The exported file, run by smn-quantize's independent f32 forward, gives
/// the burn network's outputs for every variant (layouts, transposes, BN and
/// the concat/1×1 order all agree).
#[test]
fn exported_models_match_burn_for_every_variant() {
    let dir = temp("export");
    let data = load_dataset(&DataSpec::Synthetic { count: 32, seed: 9 }, 32, None).unwrap();
    let run1 = dir.join("mtl");
    train(&tiny(Variant::Mtl, None), &data, None, &run1, false).unwrap();
    let device = BackendKind::Flex.device();
    for variant in [Variant::Mtl, Variant::Smn, Variant::Smn1x1, Variant::Smn1x1Ft] {
        let run = if variant == Variant::Mtl {
            run1.clone()
        } else {
            let run = dir.join(variant.name());
            train(&tiny(variant, Some(run1.clone())), &data, None, &run, false).unwrap();
            run
        };
        let (net, info) = load_model(&run, &device).unwrap();
        let file = dir.join(format!("{}.safetensors", variant.name()));
        float_model(&net, &info).unwrap().write(&file).unwrap();
        let model = FloatModel::read(&file).unwrap();
        assert_eq!(model.variant.name(), variant.name());
        let burn = float_predictions(&net, &data, &device, 8).unwrap();
        let mut worst = 0f32;
        for (i, p) in burn.iter().enumerate().take(8) {
            let sample = data.samples.get(i).unwrap();
            let y = model.forward(&sample.image.pixels).unwrap();
            for (k, &u) in y.landmarks.iter().enumerate() {
                let px = u * 32.0 - 0.5;
                worst = worst.max((px - p.landmarks[k]).abs() / 32.0);
            }
            for (a, b) in y.logits.iter().zip(&p.logits) {
                worst = worst.max((a - b).abs() / (1.0 + b.abs()));
            }
        }
        assert!(
            worst < 1e-4,
            "{}: burn vs exported forward differ by {worst}",
            variant.name()
        );
    }
}

#[test]
fn cli_train_export_quantize_eval_int8() {
    let dir = temp("cli");
    let (run1, run2) = (dir.join("mtl"), dir.join("smn"));
    let common = [
        "--preset",
        "tiny",
        "--synthetic",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "16",
    ];
    let mut a = vec!["train", "--stage", "1", "--out", s(&run1)];
    a.extend(common);
    let (ok, _, err) = smn(&a);
    assert!(ok, "{err}");
    let mut a = vec![
        "train",
        "--stage",
        "2",
        "--variant",
        "smn-1x1-ft",
        "--init",
        s(&run1),
        "--out",
        s(&run2),
    ];
    a.extend(common);
    let (ok, _, err) = smn(&a);
    assert!(ok, "{err}");
    let file = dir.join("smn.safetensors");
    let (ok, out, err) = smn(&["export", "--model", s(&run2), "--out", s(&file)]);
    assert!(ok && out.contains("smn-1x1-ft"), "{out}{err}");
    let (blob, rs, report) = (dir.join("smn.smnq"), dir.join("smn.rs"), dir.join("q.md"));
    let (ok, out, err) = smn(&[
        "quantize",
        "--model",
        s(&file),
        "--calib-count",
        "32",
        "--out",
        s(&blob),
        "--emit-rust",
        s(&rs),
        "--report",
        s(&report),
    ]);
    assert!(ok, "{out}{err}");
    assert!(std::fs::read_to_string(&rs).unwrap().contains("static"));
    assert!(std::fs::read_to_string(&report).unwrap().contains("SQNR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.with_extension("json")).unwrap()).unwrap();
    assert!(json.is_object());
    let eval_json = dir.join("eval.json");
    let (ok, out, err) = smn(&[
        "eval",
        "--model",
        s(&run2),
        "--int8",
        s(&blob),
        "--synthetic",
        "48",
        "--json",
        s(&eval_json),
        "--figures",
        s(&dir.join("fig")),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("float vs int8"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&eval_json).unwrap()).unwrap();
    let parity = &v["parity"];
    assert_eq!(parity["float"]["images"], 48);
    assert!(parity["flipped_decisions"].as_u64().unwrap() <= parity["decisions"].as_u64().unwrap());
    assert!(parity["int8"]["mean_nme"].as_f64().unwrap().is_finite());
    for f in [
        "ced.png",
        "training.png",
        "overlays-0.png",
        "overlays-1.png",
        "feature-maps.png",
    ] {
        let bytes = std::fs::read(dir.join("fig").join(f)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{f}");
    }
}

#[test]
fn quantize_rejects_a_corrupt_float_model_naming_the_file() {
    let dir = temp("corrupt");
    let model = FloatModel::random(
        &smn_quantize::float_model::Arch::tiny(),
        smn_quantize::float_model::Variant::Mtl,
        1,
    );
    let file = dir.join("m.safetensors");
    model.write(&file).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&file, &bytes).unwrap();
    let (ok, _, err) = smn(&["quantize", "--model", s(&file), "--out", s(&dir.join("x.smnq"))]);
    assert!(!ok);
    assert!(err.contains("m.safetensors"), "{err}");
}

#[test]
fn demo_runs_end_to_end_on_the_tiny_preset() {
    let dir = temp("demo");
    let out = dir.join("demo");
    let (ok, stdout, err) = smn(&[
        "demo",
        "--preset",
        "tiny",
        "--synthetic",
        "128",
        "--epochs",
        "1",
        "--calib-count",
        "32",
        "--out",
        s(&out),
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("| mtl |") && stdout.contains("| smn-1x1-ft |"),
        "{stdout}"
    );
    for f in [
        "report.md",
        "metrics.json",
        "mtl.smnq",
        "smn-1x1-ft.smnq",
        "smn-1x1-ft.rs",
        "figures/ced.png",
        "figures/feature-maps.png",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(v["models"].as_array().unwrap().len(), 2);
    assert!(v["models"][1]["flash_bytes"].as_u64().unwrap() > 0);
}

/// train → export → quantize (calibrated on real images) → eval --int8 on
/// real CelebA images (a small id range, tiny preset).
#[test]
fn cli_pipeline_on_the_real_celeba_sample() {
    let Some(sample) = common::celeba_sample() else { return };
    let dir = temp("celeba");
    let run = dir.join("mtl");
    let (ok, _, err) = smn(&[
        "train",
        "--stage",
        "1",
        "--preset",
        "tiny",
        "--data",
        s(&sample),
        "--ids",
        "1-96",
        "--val-ids",
        "97-128",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--out",
        s(&run),
    ]);
    assert!(ok, "{err}");
    let blob = dir.join("mtl.smnq");
    let (ok, out, err) = smn(&[
        "quantize",
        "--model",
        s(&run),
        "--calib-data",
        s(&sample),
        "--calib-ids",
        "1-96",
        "--calib-count",
        "48",
        "--calibration",
        "minmax",
        "--out",
        s(&blob),
    ]);
    assert!(ok, "{out}{err}");
    let json = dir.join("eval.json");
    let (ok, out, err) = smn(&[
        "eval",
        "--model",
        s(&run),
        "--int8",
        s(&blob),
        "--data",
        s(&sample),
        "--ids",
        "97-128",
        "--json",
        s(&json),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("float vs int8"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["parity"]["int8"]["images"], 32);
    // Real CelebA has labels for all 40 attributes.
    assert_eq!(v["parity"]["decisions"], 32 * 40);
}
