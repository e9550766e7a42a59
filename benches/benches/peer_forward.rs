//! Peer benchmark: firmware-core int8 forward vs burn f32 forward of the same
//! network on the same image, in one process (criterion), plus smn-quantize's
//! f32 reference forward.
//!
//! The network is the trained demo model `runs/demo/stage2-smn-1x1-ft` when
//! it exists (or `SMN_BENCH_RUN=DIR`), else a randomly initialised `micro`
//! `smn-1x1-ft` stage-2 net (speed does not depend on the weight values).
//! At the end the ratios are printed from a same-process timing of each.
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use burn::prelude::*;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use smn_firmware_core::Model;
use smn_host::data::dataset::{load_dataset, DataSpec};
use smn_host::model::batch::make_batch;
use smn_host::model::export::float_model;
use smn_host::model::store::load_model;
use smn_host::model::store::ModelInfo;
use smn_host::model::{Arch, SmnNet, Variant};
use smn_quantize::{quantize, FloatGraph, QuantizeOptions};
use std::path::PathBuf;
use std::time::Instant;

struct Peers {
    net: SmnNet,
    info: ModelInfo,
    source: String,
}

fn network(device: &Device) -> Peers {
    let run = std::env::var_os("SMN_BENCH_RUN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../runs/demo/stage2-smn-1x1-ft"));
    if let Ok((net, info)) = load_model(&run, device) {
        return Peers {
            net,
            info,
            source: run.display().to_string(),
        };
    }
    let arch = Arch::micro();
    device.seed(1);
    let net = SmnNet::stage2(SmnNet::stage1(&arch, device), &arch, Variant::Smn1x1Ft, device);
    let info = ModelInfo {
        format: smn_host::model::store::MODEL_FORMAT.into(),
        arch,
        variant: Variant::Smn1x1Ft,
        pixel_mean: 127.5,
        pixel_std: 127.5,
    };
    Peers {
        net,
        info,
        source: "random micro smn-1x1-ft".into(),
    }
}

fn median_seconds(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn peers(c: &mut Criterion) {
    let flex = smn_host::model::backend::BackendKind::Flex.device();
    let p = network(&flex);
    let size = p.info.arch.input_size;
    let data = load_dataset(&DataSpec::Synthetic { count: 64, seed: 11 }, size, None).unwrap();
    let calib: Vec<Vec<u8>> = (0..64).map(|i| data.samples.get(i).unwrap().image.pixels).collect();
    let float = float_model(&p.net, &p.info).unwrap();
    let q = quantize(&float, &calib, &QuantizeOptions::default()).unwrap();
    let model = Model::from_bytes(&q.blob).unwrap();
    let mut arena = vec![0u8; model.arena_bytes()];
    let sample = data.samples.get(0).unwrap();
    let graph = FloatGraph::new(&float).unwrap();
    let net_flex = p.net.valid();
    let ndarray = smn_host::model::backend::BackendKind::Ndarray.device();
    let net_ndarray = network(&ndarray).net.valid();
    let batch_flex = make_batch(&[&sample], size, &flex).images;
    let batch_ndarray = make_batch(&[&sample], size, &ndarray).images;
    eprintln!("network: {} ({} MACs int8)", p.source, model.macs());

    let mut g = c.benchmark_group("forward");
    g.throughput(Throughput::Elements(model.macs()));
    g.sample_size(20);
    g.bench_function("firmware-core int8", |b| {
        b.iter(|| model.run(black_box(&sample.image.pixels), &mut arena).unwrap())
    });
    g.bench_function("burn flex f32", |b| {
        b.iter(|| {
            let y = net_flex.forward(black_box(batch_flex.clone())).unwrap();
            y.landmarks.into_data()
        })
    });
    g.bench_function("burn ndarray f32", |b| {
        b.iter(|| {
            let y = net_ndarray.forward(black_box(batch_ndarray.clone())).unwrap();
            y.landmarks.into_data()
        })
    });
    g.bench_function("smn-quantize f32 reference", |b| {
        b.iter(|| smn_quantize::float_forward::forward(&graph, black_box(&sample.image.pixels)).unwrap())
    });
    g.finish();

    let int8 = median_seconds(
        || {
            let _ = black_box(model.run(&sample.image.pixels, &mut arena));
        },
        51,
    );
    let flex_t = median_seconds(
        || drop(net_flex.forward(batch_flex.clone()).unwrap().landmarks.into_data()),
        51,
    );
    // The same flex forward confined to one thread (firmware-core is single-threaded).
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let flex_1t = one_thread.install(|| {
        median_seconds(
            || drop(net_flex.forward(batch_flex.clone()).unwrap().landmarks.into_data()),
            51,
        )
    });
    let nd_t = median_seconds(
        || {
            drop(
                net_ndarray
                    .forward(batch_ndarray.clone())
                    .unwrap()
                    .landmarks
                    .into_data(),
            )
        },
        21,
    );
    eprintln!(
        "ratio (median of repeated runs, same process): burn flex f32 / firmware-core int8 = {:.2} with flex on {} threads, {:.2} with flex on 1 thread; burn ndarray f32 / int8 = {:.2} (int8 {:.3} ms on 1 thread, flex {:.3} ms / {:.3} ms, ndarray {:.3} ms)",
        flex_t / int8,
        rayon::current_num_threads(),
        flex_1t / int8,
        nd_t / int8,
        int8 * 1e3,
        flex_t * 1e3,
        flex_1t * 1e3,
        nd_t * 1e3
    );
}

criterion_group!(benches, peers);
criterion_main!(benches);
