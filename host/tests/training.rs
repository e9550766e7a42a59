//! Training behaviour on the CPU (flex): the stage-2 freeze, the fine-tuning
//! initialisation, end-to-end runs and exact resume.
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use smn_host::data::dataset::{load_dataset, DataSpec};
use smn_host::model::backend::BackendKind;
use smn_host::model::batch::make_batch;
use smn_host::model::net::OutputAffine;
use smn_host::model::store::load_model;
use smn_host::model::{Arch, SmnNet, Variant};
use smn_host::train::best::{BestBy, BestEpoch};
use smn_host::train::config::{LrSchedule, TrainConfig};
use smn_host::train::loss::{losses, LossConfig};
use smn_host::train::target_stats::output_affines;
use smn_host::train::trainer::train;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Every float parameter and running statistic, flattened, in module order.
#[derive(Default)]
struct Snapshot(Vec<Vec<f32>>);

impl ModuleVisitor for Snapshot {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().into_data().try_into_vec::<f32>().unwrap());
    }
}

fn snapshot<M: Module>(m: &M) -> Vec<Vec<f32>> {
    let mut s = Snapshot::default();
    m.visit(&mut s);
    s.0
}

/// burn's random generator is global to the process, and `train` seeds it
/// and draws the initial weights from it: every test here that seeds or
/// trains holds this lock, so that a test running in parallel cannot reseed
/// it or draw from it in the middle of another's run (that made the
/// exact-resume test fail once in CI).
static GLOBAL_RNG: Mutex<()> = Mutex::new(());

fn exclusive() -> MutexGuard<'static, ()> {
    GLOBAL_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smn-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn stage2_steps_leave_shared_weights_and_bn_statistics_bit_identical() {
    let _rng = exclusive();
    let arch = Arch::tiny();
    let device = Device::flex().autodiff();
    device.seed(3);
    let stage1 = SmnNet::stage1(&arch, &device);
    let mut net = SmnNet::stage2(stage1, &arch, Variant::Smn1x1Ft, &device);
    let data = load_dataset(&DataSpec::Synthetic { count: 16, seed: 5 }, arch.input_size, None).unwrap();
    let samples: Vec<_> = (0..16).map(|i| data.samples.get(i).unwrap()).collect();
    let refs: Vec<_> = samples.iter().collect();
    let shared_before = snapshot(net.shared());
    let branches_before = snapshot(net.branches());
    assert!(
        shared_before.len() >= 8,
        "conv weight/bias + BN gamma/beta/mean/var per level"
    );
    let mut optim = SgdConfig::new().init();
    for _ in 0..3 {
        let batch = make_batch(&refs, arch.input_size, &device);
        let out = net.forward(batch.images.clone()).unwrap();
        let l = losses(&out, &batch, &LossConfig::default());
        let grads = GradientsParams::from_grads(l.total.backward(), &net);
        net = optim.step(0.05, net, grads);
    }
    let net = net.valid();
    assert_eq!(
        snapshot(net.shared()),
        shared_before,
        "shared layers must not change in stage 2"
    );
    assert_ne!(snapshot(net.branches()), branches_before, "the branches must train");
}

#[test]
fn fine_tuned_smn_starts_as_an_exact_copy_of_stage1() {
    let _rng = exclusive();
    let arch = Arch::tiny();
    let device = Device::flex();
    device.seed(4);
    let stage1 = SmnNet::stage1(&arch, &device);
    let x = Tensor::<4>::random(
        [3, 3, arch.input_size, arch.input_size],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let a = stage1.valid().forward(x.clone()).unwrap();
    let stage2 = SmnNet::stage2(stage1, &arch, Variant::Smn1x1Ft, &device);
    let b = stage2.valid().forward(x).unwrap();
    let diff = |p: Tensor<2>, q: Tensor<2>| (p - q).abs().max().into_scalar::<f32>();
    assert!(diff(a.landmarks, b.landmarks) < 1e-5);
    assert!(diff(a.attributes, b.attributes) < 1e-5);
}

fn tiny_config(variant: Variant, epochs: usize, init: Option<PathBuf>) -> TrainConfig {
    let mut cfg = TrainConfig::paper(variant, Arch::tiny());
    cfg.epochs = epochs;
    cfg.batch_size = 8;
    cfg.lr = 0.01;
    cfg.seed = 11;
    cfg.backend = BackendKind::Flex;
    cfg.init = init;
    cfg
}

#[test]
fn two_stage_run_writes_models_that_load_and_evaluate() {
    let _rng = exclusive();
    let train_data = load_dataset(&DataSpec::Synthetic { count: 48, seed: 1 }, 32, None).unwrap();
    let val = load_dataset(&DataSpec::Synthetic { count: 16, seed: 2 }, 32, None).unwrap();
    let run1 = temp("stage1");
    let s1 = train(
        &tiny_config(Variant::Mtl, 2, None),
        &train_data,
        Some(&val),
        &run1,
        false,
    )
    .unwrap();
    assert_eq!(s1.history.len(), 2);
    assert!(s1.history.iter().all(|l| l.loss.is_finite()));
    for f in [
        "model.bpk",
        "model.json",
        "config.json",
        "log.csv",
        "log.json",
        "checkpoint/state.json",
    ] {
        assert!(run1.join(f).exists(), "{f}");
    }
    // The heads' fixed output maps are the training targets' statistics and
    // are saved with the weights.
    let expected = output_affines(&train_data);
    let (stage1, _) = load_model(&run1, &Device::flex()).unwrap();
    let stage1_maps: Vec<OutputAffine> = stage1.heads().iter().map(|h| h.output_affine()).collect();
    assert_eq!(stage1_maps, expected.to_vec());
    assert!(
        expected[0].scale.iter().all(|&s| s != 1.0),
        "landmarks are standardised"
    );
    for variant in [Variant::Smn, Variant::Smn1x1, Variant::Smn1x1Ft] {
        let run2 = temp(variant.name());
        let s2 = train(
            &tiny_config(variant, 1, Some(run1.clone())),
            &train_data,
            Some(&val),
            &run2,
            false,
        )
        .unwrap();
        let m = s2.validation.unwrap();
        assert_eq!(m.images, 16);
        assert!(m.mean_nme.is_finite() && m.mean_attribute_accuracy > 0.0);
        let (net, info) = load_model(&run2, &Device::flex()).unwrap();
        assert_eq!(info.variant, variant);
        let maps: Vec<OutputAffine> = net.branches().iter().map(|b| b.head.output_affine()).collect();
        assert_eq!(
            maps,
            stage1_maps,
            "{}: stage 2 keeps stage 1's output maps",
            variant.name()
        );
    }
    // A stage-2 run needs a stage-1 run.
    let err = train(
        &tiny_config(Variant::Smn1x1, 1, None),
        &train_data,
        None,
        &temp("noinit"),
        false,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("--init"), "{err}");
}

/// Resuming is exact: the same weights, bit for bit.
#[test]
fn resuming_gives_the_same_weights_as_an_uninterrupted_run() {
    let _rng = exclusive();
    let data = load_dataset(&DataSpec::Synthetic { count: 32, seed: 7 }, 32, None).unwrap();
    let straight = temp("straight");
    train(&tiny_config(Variant::Mtl, 2, None), &data, None, &straight, false).unwrap();
    let split = temp("split");
    let cfg = tiny_config(Variant::Mtl, 2, None);
    let mut first = cfg.clone();
    first.epochs = 1;
    train(&first, &data, None, &split, false).unwrap();
    // Extend the same run to 2 epochs from its checkpoint.
    train(&cfg, &data, None, &split, true).unwrap();
    let device = Device::flex();
    let (a, _) = load_model(&straight, &device).unwrap();
    let (b, _) = load_model(&split, &device).unwrap();
    assert_eq!(snapshot(&a), snapshot(&b));
}

/// The deprecated-upstream ndarray backend still trains (one tiny epoch, both
/// stages) and its models load and evaluate on flex, the default.
#[test]
fn one_tiny_epoch_per_stage_on_ndarray_loads_on_flex() {
    let _rng = exclusive();
    let data = load_dataset(&DataSpec::Synthetic { count: 32, seed: 3 }, 32, None).unwrap();
    let run1 = temp("ndarray1");
    let mut cfg = tiny_config(Variant::Mtl, 1, None);
    cfg.backend = BackendKind::Ndarray;
    let s1 = train(&cfg, &data, Some(&data), &run1, false).unwrap();
    assert!(s1.history[0].loss.is_finite());
    let run2 = temp("ndarray2");
    let mut cfg = tiny_config(Variant::Smn1x1Ft, 1, Some(run1));
    cfg.backend = BackendKind::Ndarray;
    let s2 = train(&cfg, &data, Some(&data), &run2, false).unwrap();
    assert!(s2.history[0].loss.is_finite());
    let device = BackendKind::Flex.device();
    let (model, info) = load_model(&run2, &device).unwrap();
    assert_eq!(info.variant, Variant::Smn1x1Ft);
    let m = smn_host::evaluation::float::evaluate(&model, &data, &device, 16).unwrap();
    assert!(m.mean_nme.is_finite() && m.images == 32);
}

/// `--keep-best nme`: `best/` holds the epoch with the lowest validation NME,
/// and that model, loaded as a run, scores exactly that NME again.
#[test]
fn keep_best_saves_the_lowest_validation_nme_epoch_as_a_loadable_run() {
    let _rng = exclusive();
    let data = load_dataset(&DataSpec::Synthetic { count: 48, seed: 12 }, 32, None).unwrap();
    let val = load_dataset(&DataSpec::Synthetic { count: 16, seed: 13 }, 32, None).unwrap();
    let run = temp("best");
    let mut cfg = tiny_config(Variant::Mtl, 4, None);
    cfg.lr = 0.05;
    cfg.keep_best = Some(BestBy::Nme);
    let summary = train(&cfg, &data, Some(&val), &run, false).unwrap();
    let nmes: Vec<f64> = summary.history.iter().map(|l| l.val_mean_nme.unwrap()).collect();
    let (mut epoch, mut lowest) = (1, nmes[0]);
    for (i, &v) in nmes.iter().enumerate() {
        if v < lowest {
            (epoch, lowest) = (i + 1, v);
        }
    }
    let best = summary.best.unwrap();
    assert_eq!((best.epoch, best.value), (epoch, lowest), "history {nmes:?}");
    let text = std::fs::read_to_string(run.join("best/best.json")).unwrap();
    // serde_json's default float parsing may differ from the written value in the last bit.
    let saved = serde_json::from_str::<BestEpoch>(&text).unwrap();
    assert_eq!((saved.epoch, saved.by), (best.epoch, best.by));
    assert!(
        (saved.value - best.value).abs() <= 1e-12 * best.value.abs(),
        "{saved:?} vs {best:?}"
    );
    let device = Device::flex();
    let (model, info) = load_model(&run.join("best"), &device).unwrap();
    assert_eq!(info.variant, Variant::Mtl);
    let again = smn_host::evaluation::float::evaluate(&model, &val, &device, 16)
        .unwrap()
        .mean_nme;
    assert!((again - lowest).abs() < 1e-6, "{again} vs {lowest}");
    // Without a validation set there is nothing to pick by.
    let err = train(&cfg, &data, None, &temp("best-noval"), false).err().unwrap();
    assert!(err.to_string().contains("--keep-best"), "{err}");
}

/// A diverging run stops with a message naming the epoch and keeps the
/// checkpoint of the last finished epoch, which still loads.
#[test]
fn a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint() {
    let _rng = exclusive();
    let data = load_dataset(&DataSpec::Synthetic { count: 32, seed: 21 }, 32, None).unwrap();
    let run = temp("diverge");
    let mut cfg = tiny_config(Variant::Mtl, 3, None);
    // Epoch 1 at lr 0.01, then 1e28: the weights overflow f32 in epoch 2.
    cfg.schedule = LrSchedule::Step { every: 1, gamma: 1e30 };
    let err = train(&cfg, &data, None, &run, false).err().unwrap().to_string();
    assert!(err.contains("non-finite loss") && err.contains("in epoch 2"), "{err}");
    assert!(err.contains("last good checkpoint (1 epochs)"), "{err}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap()).unwrap();
    assert_eq!(state["epochs_done"], 1);
    let net = SmnNet::stage1(&cfg.arch, &Device::flex())
        .try_load_file(run.join("checkpoint/model.bpk"))
        .unwrap();
    assert!(snapshot(&net).iter().flatten().all(|v| v.is_finite()));
}

/// `--patience`: a run whose validation never improves (lr 0, no batch norm,
/// so the model cannot change) stops `patience` epochs after its first.
#[test]
fn patience_stops_a_run_that_no_longer_improves() {
    let _rng = exclusive();
    let data = load_dataset(&DataSpec::Synthetic { count: 32, seed: 31 }, 32, None).unwrap();
    let val = load_dataset(&DataSpec::Synthetic { count: 16, seed: 32 }, 32, None).unwrap();
    let mut cfg = tiny_config(Variant::Mtl, 8, None);
    cfg.arch.batch_norm = false;
    cfg.lr = 0.0;
    cfg.keep_best = Some(BestBy::Accuracy);
    cfg.patience = Some(2);
    let summary = train(&cfg, &data, Some(&val), &temp("patience"), false).unwrap();
    assert_eq!(summary.best.map(|b| b.epoch), Some(1));
    assert_eq!(summary.history.len(), 3, "epoch 1 plus 2 without improvement");
    cfg.keep_best = None;
    let err = train(&cfg, &data, Some(&val), &temp("patience-alone"), false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("--patience needs --keep-best"), "{err}");
}
