//! One tiny training epoch on burn's wgpu backend. On machines without a GPU
//! it runs on Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`);
//! `cargo xtask test` installs it and sets `SMN_REQUIRE_WGPU=1`, so in CI this
//! test cannot skip.
use burn::prelude::*;
use smn_host::data::dataset::{load_dataset, DataSpec};
use smn_host::evaluation::float::evaluate;
use smn_host::model::backend::BackendKind;
use smn_host::model::store::load_model;
use smn_host::model::{Arch, Variant};
use smn_host::train::config::TrainConfig;
use smn_host::train::trainer::train;
use std::path::Path;

#[test]
fn one_tiny_epoch_on_wgpu_gives_a_model_the_cpu_can_load() {
    let has_vulkan = Path::new("/usr/share/vulkan/icd.d")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if !has_vulkan && std::env::var_os("SMN_REQUIRE_WGPU").is_none() {
        eprintln!("SKIPPED: no Vulkan driver (apt-get install mesa-vulkan-drivers)");
        return;
    }
    let data = load_dataset(&DataSpec::Synthetic { count: 32, seed: 9 }, 32, None).unwrap();
    let run = std::env::temp_dir().join(format!("smn-wgpu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run);
    let mut cfg = TrainConfig::paper(Variant::Mtl, Arch::tiny());
    cfg.epochs = 1;
    cfg.batch_size = 16;
    cfg.lr = 0.01;
    cfg.backend = BackendKind::Wgpu;
    let summary = train(&cfg, &data, None, &run, false).unwrap();
    assert!(summary.history[0].loss.is_finite());
    // Weights trained on the GPU backend load and evaluate on the CPU backend.
    let device = Device::flex();
    let (model, info) = load_model(&run, &device).unwrap();
    assert_eq!(info.variant, Variant::Mtl);
    let m = evaluate(&model, &data, &device, 16).unwrap();
    assert!(m.mean_nme.is_finite());
}
