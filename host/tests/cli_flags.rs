//! Every option rejects values outside its domain before any work starts,
//! with a message naming the option and what it accepts; `--config` files
//! go through the same checks; a run's `config.toml` reproduces it.
mod common;

use common::smn;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("smn-flags-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `smn ARGS` fails without panicking, and stderr names `option` and contains `says`.
fn rejects(args: &[&str], option: &str, says: &str) {
    let (ok, out, err) = smn(args);
    assert!(!ok, "{args:?} was accepted: {out}");
    assert!(err.contains(option) && err.contains(says), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const TRAIN: [&str; 5] = ["train", "--stage", "1", "--out", "/nonexistent/never-written"];

fn train_with(extra: &[&str]) -> Vec<String> {
    TRAIN.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn rejects_train(extra: &[&str], option: &str, says: &str) {
    let args = train_with(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rejects(&args, option, says);
}

#[test]
fn numbers_outside_their_domain() {
    rejects_train(&["--lr=-5"], "--lr", "> 0");
    rejects_train(&["--lr", "0"], "--lr", "> 0");
    rejects_train(&["--batch-size", "0"], "--batch-size", "≥ 2");
    rejects_train(&["--batch-size", "1"], "--batch-size", "≥ 2");
    rejects_train(&["--epochs", "0"], "--epochs", "≥ 1");
    rejects_train(&["--momentum", "1.5"], "--momentum", "[0, 1)");
    rejects_train(&["--weight-decay=-1"], "--weight-decay", "≥ 0");
    rejects_train(&["--landmark-weight", "x"], "--landmark-weight", "≥ 0");
    rejects_train(&["--patience", "0"], "--patience", "≥ 1");
    rejects_train(&["--fraction", "1.5"], "--fraction", "(0, 1]");
    rejects_train(&["--synthetic", "0"], "--synthetic", "≥ 1");
    rejects(&["demo", "--epochs", "0"], "--epochs", "≥ 1");
    rejects(&["demo", "--calib-count", "0"], "--calib-count", "≥ 1");
    rejects(
        &["quantize", "--model", "m", "--out", "o", "--calib-count", "0"],
        "--calib-count",
        "≥ 1",
    );
    rejects(&["bench-train", "--steps", "0"], "--steps", "≥ 1");
    rejects(&["synthesize", "--out", "x", "--count", "0"], "--count", "≥ 1");
}

#[test]
fn choices_list_what_is_accepted() {
    rejects_train(&["--backend", "cuda"], "--backend", "flex");
    rejects_train(&["--preset", "huge"], "--preset", "micro");
    rejects_train(&["--optimizer", "rmsprop"], "--optimizer", "sgd");
    rejects_train(&["--landmark-loss", "l1"], "--landmark-loss", "smooth-l1");
    rejects_train(&["--keep-best", "loss"], "--keep-best", "accuracy");
    rejects_train(&["--variant", "smn-2x2"], "--variant", "smn-1x1-ft");
    rejects_train(&["--partition", "dev"], "--partition", "train, val or test");
    rejects(&["train", "--stage", "3", "--out", "x"], "--stage", "1..=2");
    rejects(&["demo", "--calibration", "kl"], "--calibration", "percentile");
    rejects(&["random-model", "--shape", "huge", "--out", "x"], "--shape", "micro");
    rejects(&["bench-train", "--backends", "flex,tpu"], "--backends", "ndarray");
}

#[test]
fn ranges_and_schedules() {
    rejects_train(&["--ids", "5-1"], "--ids", "empty range");
    rejects_train(&["--ids", "a-3"], "--ids", "not an image id");
    rejects_train(&["--val-ids", "12"], "--val-ids", "expected A-B");
    rejects_train(&["--schedule", "step:x:0.5"], "--schedule", "EVERY");
    rejects_train(&["--schedule", "linear"], "--schedule", "step:EVERY:GAMMA");
    rejects(&["demo", "--train-ids", "9-3"], "--train-ids", "empty range");
}

#[test]
fn stage_and_variant_must_agree() {
    rejects_train(&["--variant", "smn"], "--variant smn", "stage 1 trains mtl");
    rejects(
        &["train", "--stage", "2", "--variant", "mtl", "--out", "x", "--init", "y"],
        "--variant mtl",
        "stage 2 takes",
    );
    rejects(&["train", "--stage", "2", "--out", "x"], "--init", "stage 2 needs");
}

#[test]
fn config_files_are_checked_like_flags() {
    let dir = temp_dir("config");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "lr = -5\n").unwrap();
    rejects_train(&["--config", file.to_str().unwrap()], "--lr", "> 0");
    std::fs::write(&file, "learning-rate = 0.1\n").unwrap();
    rejects_train(
        &["--config", file.to_str().unwrap()],
        "bad.toml",
        "unknown key 'learning-rate'",
    );
}

#[test]
fn a_runs_config_toml_reproduces_it() {
    let dir = temp_dir("reproduce");
    let run = dir.join("run");
    let train = format!(
        "train --stage 1 --preset tiny --synthetic 40 --epochs 1 --batch-size 8 --lr 0.01 --out {}",
        run.display()
    );
    let (ok, _, err) = smn(&train.split(' ').collect::<Vec<_>>());
    assert!(ok, "{err}");
    let toml = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        toml.contains("lr = \"0.01\"") && toml.contains("preset = \"tiny\""),
        "{toml}"
    );
    let again = dir.join("again");
    let (ok, _, err) = smn(&[
        "train",
        "--config",
        run.join("config.toml").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let config = |d: &std::path::Path| std::fs::read_to_string(d.join("config.json")).unwrap();
    assert_eq!(config(&run), config(&again));
}
