//! Fault test: `smn train` killed with SIGKILL mid-run, then `--resume`,
//! ends with exactly the weights of an uninterrupted run (CPU, same seed).
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use smn_host::model::store::load_model;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Snapshot(Vec<Vec<f32>>);

impl ModuleVisitor for Snapshot {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().into_data().try_into_vec::<f32>().unwrap());
    }
}

fn weights(run: &Path) -> Vec<Vec<f32>> {
    let (model, _) = load_model(run, &Device::flex()).unwrap();
    let mut s = Snapshot::default();
    model.visit(&mut s);
    s.0
}

fn train_args(out: &Path) -> Vec<String> {
    [
        "train",
        "--stage",
        "1",
        "--preset",
        "tiny",
        "--synthetic",
        "256",
        "--epochs",
        "12",
        "--batch-size",
        "16",
        "--lr",
        "0.01",
        "--seed",
        "5",
        "--augment",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smn-kill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn sigkill_mid_training_then_resume_matches_an_uninterrupted_run() {
    let smn = env!("CARGO_BIN_EXE_smn");
    let straight = temp("straight");
    let status = Command::new(smn)
        .args(train_args(&straight))
        .env("BURN_DEVICE", "flex")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));

    let killed = temp("killed");
    let mut child = Command::new(smn)
        .args(train_args(&killed))
        .env("BURN_DEVICE", "flex")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first epoch's checkpoint exists: well before the end.
    let started = Instant::now();
    while !killed.join("checkpoint/state.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run must have been killed, not finished");
    assert!(!killed.join("model.bpk").exists(), "a killed run has no final model");

    let resumed = Command::new(smn)
        .args(train_args(&killed))
        .arg("--resume")
        .env("BURN_DEVICE", "flex")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(weights(&killed), weights(&straight));
}
