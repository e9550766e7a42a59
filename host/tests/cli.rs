//! The `smn` binary: device tools, exit codes and error messages.
mod common;

use common::smn;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("smn-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn random_model_inspect_infer_simulate() {
    let dir = temp_dir("ok");
    let blob = dir.join("m.bin");
    let (ok, out, err) = smn(&[
        "random-model",
        "--shape",
        "micro",
        "--seed",
        "4",
        "--out",
        blob.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("random weights"));
    let (ok, out, err) = smn(&["inspect", blob.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("ConcatConv1x1") && out.contains("LandmarkHead") && out.contains("arena"),
        "{out}"
    );
    let (ok, out, err) = smn(&["infer", blob.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("left_eye") && out.contains("attributes on"), "{out}");
    let (ok, out, err) = smn(&["simulate", blob.to_str().unwrap(), "--device", "cortex-m4"]);
    assert!(ok, "{err}");
    assert!(out.contains("cortex-m4") && out.contains("latency"), "{out}");
}

#[test]
fn corrupt_or_missing_blobs_fail_with_the_file_named() {
    let dir = temp_dir("bad");
    let blob = dir.join("m.bin");
    assert!(smn(&["random-model", "--shape", "tiny", "--out", blob.to_str().unwrap()]).0);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = dir.join("corrupt.bin");
    std::fs::write(&bad, &bytes).unwrap();
    for cmd in ["inspect", "infer", "simulate"] {
        let (ok, _, err) = smn(&[cmd, bad.to_str().unwrap()]);
        assert!(!ok);
        assert!(err.contains("corrupt.bin") && err.contains("CRC"), "{cmd}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (ok, _, err) = smn(&["infer", dir.join("absent.bin").to_str().unwrap()]);
    assert!(!ok && err.contains("absent.bin"), "{err}");
    let short = dir.join("short.bin");
    std::fs::write(&short, &bytes[..10]).unwrap();
    let (ok, _, err) = smn(&["inspect", short.to_str().unwrap()]);
    assert!(!ok && err.contains("too short"), "{err}");
}

#[test]
fn wrong_image_size_and_unknown_device_are_clear_errors() {
    let dir = temp_dir("img");
    let blob = dir.join("m.bin");
    assert!(smn(&["random-model", "--shape", "tiny", "--out", blob.to_str().unwrap()]).0);
    let img = dir.join("img.rgb");
    std::fs::write(&img, [0u8; 100]).unwrap();
    let (ok, _, err) = smn(&["infer", blob.to_str().unwrap(), "--image", img.to_str().unwrap()]);
    assert!(!ok && err.contains("img.rgb") && err.contains("16×16×3"), "{err}");
    let (ok, _, err) = smn(&["simulate", blob.to_str().unwrap(), "--device", "z80"]);
    assert!(!ok && err.contains("z80") && err.contains("cortex-m4"), "{err}");
}

#[test]
fn an_empty_selection_says_what_was_selected_and_what_the_folder_holds() {
    let Some(sample) = common::celeba_sample() else { return };
    let dir = temp_dir("empty");
    let blob = dir.join("m.smnq");
    assert!(smn(&["random-model", "--shape", "micro", "--out", blob.to_str().unwrap()]).0);
    // The sample is all official train split; eval defaults to the test partition.
    let (ok, _, err) = smn(&[
        "eval",
        "--int8",
        blob.to_str().unwrap(),
        "--data",
        sample.to_str().unwrap(),
    ]);
    assert!(!ok);
    for part in [
        "default partition, test",
        "3329 train, 0 val, 0 test rows",
        "--partition",
        "--ids",
    ] {
        assert!(err.contains(part), "missing '{part}': {err}");
    }
}
