//! Data pipeline throughput on the real CelebA sample: JPEG decode +
//! crop/resize to the model input ("cold", every epoch without a cache)
//! versus reading the memory-mapped preprocessed cache. Skips with a message
//! when `../shared/data/celeba-sample` is absent. Also: synthetic faces per second.
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smn_host::data::cache::{write_cache, Cache};
use smn_host::data::celeba::{load_index, Selection};
use smn_host::data::synthetic::{generate, SyntheticConfig};
use smn_host::data::transform::to_model_input;
use std::path::Path;

const IMAGES: usize = 256;
const SIZE: usize = 128;

fn synthetic(c: &mut Criterion) {
    let config = SyntheticConfig::default();
    let mut g = c.benchmark_group("synthetic");
    g.throughput(Throughput::Elements(1));
    let mut index = 0u64;
    g.bench_function("generate_178x218", |b| {
        b.iter(|| {
            index += 1;
            generate(&config, index)
        })
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/celeba-sample");
    let Ok(index) = load_index(&dir, false) else {
        eprintln!("SKIPPED data_pipeline: no CelebA sample at {}", dir.display());
        return;
    };
    let all = index.select(&Selection::default());
    let picked = &all[..IMAGES.min(all.len())];
    let mut g = c.benchmark_group("data_pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(picked.len() as u64));
    g.bench_function("cold_decode_and_resize_128", |b| {
        b.iter(|| {
            let (faces, _) = index.load(picked, false).unwrap();
            let prepared: Vec<_> = faces.iter().map(|f| to_model_input(f, SIZE)).collect();
            criterion::black_box(prepared)
        })
    });
    let (faces, _) = index.load(picked, false).unwrap();
    let prepared: Vec<_> = faces.iter().map(|f| to_model_input(f, SIZE)).collect();
    let path = std::env::temp_dir().join(format!("smn-bench-cache-{}.bin", std::process::id()));
    write_cache(&path, SIZE, "benchmark sample", &prepared).unwrap();
    let cache = Cache::open(&path).unwrap();
    g.bench_function("cached_mmap_128", |b| {
        b.iter(|| (0..cache.len()).filter_map(|i| cache.get(i)).count())
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, synthetic, pipeline);
criterion_main!(benches);
