//! firmware-core int8 speed on x86: the full `micro` SMN forward pass and each
//! kernel on a layer shape from that model. Throughput is reported in
//! elements = multiply-accumulates (criterion prints MAC/s as "elem/s";
//! pooling reports input values per second).
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, Rng, SmnShape};
use smn_firmware_core::format::Window;
use smn_firmware_core::kernels::concat_conv1x1::{concat_conv1x1, ConcatConv1x1Args};
use smn_firmware_core::kernels::conv2d::{conv2d, Conv2dArgs};
use smn_firmware_core::kernels::fully_connected::{fully_connected, FullyConnectedArgs};
use smn_firmware_core::kernels::global_avg_pool::{global_avg_pool, GlobalAvgPoolArgs};
use smn_firmware_core::kernels::params::ChannelParams;
use smn_firmware_core::kernels::pool_window::Pool2dArgs;
use smn_firmware_core::kernels::{avg_pool::avg_pool, max_pool::max_pool};
use smn_firmware_core::kernels::{OutputStage, Shape};
use smn_firmware_core::Model;

const STAGE: OutputStage = OutputStage {
    zero_point: -128,
    min: -128,
    max: 127,
};

struct Params {
    bias: Vec<u8>,
    mult: Vec<u8>,
    shift: Vec<u8>,
}

impl Params {
    fn new(channels: usize) -> Self {
        Params {
            bias: (0..channels)
                .flat_map(|i| (i as i32 * 37 - 500).to_le_bytes())
                .collect(),
            mult: (0..channels)
                .flat_map(|i| (1_300_000_000i32 + i as i32 * 1000).to_le_bytes())
                .collect(),
            shift: vec![(-9i8) as u8; channels],
        }
    }

    fn view(&self) -> ChannelParams<'_> {
        ChannelParams {
            bias: &self.bias,
            multipliers: &self.mult,
            shifts: &self.shift,
        }
    }
}

fn random(n: usize, rng: &mut Rng) -> Vec<i8> {
    (0..n).map(|_| rng.range(-127, 127) as i8).collect()
}

fn full_model(c: &mut Criterion) {
    let blob = random_smn_blob(&SmnShape::micro(), 1).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let image = synthetic_test_image(64, 64, 1);
    let mut arena = vec![0u8; model.arena_bytes()];
    let mut g = c.benchmark_group("smn_micro");
    g.throughput(Throughput::Elements(model.macs()));
    g.bench_function("forward", |b| {
        b.iter(|| model.run(black_box(&image), &mut arena).unwrap())
    });
    g.bench_function("from_bytes", |b| {
        b.iter(|| Model::from_bytes(black_box(&blob)).unwrap().macs())
    });
    g.finish();
    println!(
        "smn_micro: {} MACs per forward, blob {} bytes, arena {} bytes",
        model.macs(),
        blob.len(),
        model.arena_bytes()
    );
}

fn kernels(c: &mut Criterion) {
    let mut rng = Rng::new(2);
    let mut g = c.benchmark_group("kernels");

    // Level-2 conv of the micro model: 32×32×16 → 32×32×32, 3×3, pad 1.
    let ins = Shape {
        height: 32,
        width: 32,
        channels: 16,
    };
    let outs = Shape {
        height: 32,
        width: 32,
        channels: 32,
    };
    let x = random(ins.len(), &mut rng);
    let w = random(32 * 9 * 16, &mut rng);
    let p = Params::new(32);
    let win = Window::square(3, 1, 1);
    let args = Conv2dArgs {
        input: &x,
        input_shape: ins,
        input_zero_point: -128,
        window: win,
        weights: &w,
        channels: p.view(),
        output_stage: STAGE,
        pool_2x2: false,
    };
    let mut y = vec![0i8; outs.len()];
    g.throughput(Throughput::Elements((outs.len() * 9 * 16) as u64));
    g.bench_function("conv2d_3x3_32x32x16_to_32", |b| {
        b.iter(|| conv2d(black_box(&args), &mut y, outs).unwrap())
    });

    // First conv: 64×64×3 → 16, the channel-poor case.
    let ins1 = Shape {
        height: 64,
        width: 64,
        channels: 3,
    };
    let outs1 = Shape {
        height: 64,
        width: 64,
        channels: 16,
    };
    let x1 = random(ins1.len(), &mut rng);
    let w1 = random(16 * 9 * 3, &mut rng);
    let p1 = Params::new(16);
    let args1 = Conv2dArgs {
        input: &x1,
        input_shape: ins1,
        input_zero_point: 0,
        window: win,
        weights: &w1,
        channels: p1.view(),
        output_stage: STAGE,
        pool_2x2: false,
    };
    let mut y1 = vec![0i8; outs1.len()];
    g.throughput(Throughput::Elements((outs1.len() * 9 * 3) as u64));
    g.bench_function("conv2d_3x3_64x64x3_to_16", |b| {
        b.iter(|| conv2d(black_box(&args1), &mut y1, outs1).unwrap())
    });
    // The same conv with the 2×2 max pool fused (32×32×16 written).
    let pooled = Conv2dArgs {
        pool_2x2: true,
        ..args1
    };
    let outs1p = Shape {
        height: 32,
        width: 32,
        channels: 16,
    };
    let mut y1p = vec![0i8; outs1p.len()];
    g.bench_function("conv2d_3x3_64x64x3_to_16_maxpool2", |b| {
        b.iter(|| conv2d(black_box(&pooled), &mut y1p, outs1p).unwrap())
    });

    // Fused concat + 1×1: 32×32×(16+16) → 16.
    let a = random(32 * 32 * 16, &mut rng);
    let bb = random(32 * 32 * 16, &mut rng);
    let wc = random(16 * 32, &mut rng);
    let pc = Params::new(16);
    let cargs = ConcatConv1x1Args {
        a_channels: 16,
        a_zero_point: -128,
        b: &bb,
        b_channels: 16,
        b_zero_point: -128,
        weights: &wc,
        channels_a: pc.view(),
        multipliers_b: &pc.mult,
        shifts_b: &pc.shift,
        output_stage: STAGE,
    };
    let mut yc = vec![0i8; 32 * 32 * 16];
    g.throughput(Throughput::Elements((32 * 32 * 16 * 32) as u64));
    g.bench_function("concat_conv1x1_32x32x(16+16)_to_16", |b| {
        b.iter(|| concat_conv1x1(black_box(&cargs), &a, &mut yc, 16).unwrap())
    });

    // Fully connected 4×4×64 → 64.
    let xf = random(1024, &mut rng);
    let wf = random(64 * 1024, &mut rng);
    let pf = Params::new(64);
    let mut yf = vec![0i8; 64];
    g.throughput(Throughput::Elements(64 * 1024));
    g.bench_function("fully_connected_1024_to_64", |b| {
        let args = FullyConnectedArgs {
            input: &xf,
            input_zero_point: -128,
            weights: &wf,
            channels: pf.view(),
            output_stage: STAGE,
        };
        b.iter(|| fully_connected(black_box(&args), &mut yf).unwrap())
    });

    // Pooling: 64×64×16 → 32×32×16 (throughput = input values).
    let pool = Window::square(2, 2, 0);
    let xp = random(64 * 64 * 16, &mut rng);
    let (pin, pout) = (
        Shape {
            height: 64,
            width: 64,
            channels: 16,
        },
        Shape {
            height: 32,
            width: 32,
            channels: 16,
        },
    );
    let mut yp = vec![0i8; pout.len()];
    let pargs = Pool2dArgs {
        input: &xp,
        input_shape: pin,
        window: pool,
    };
    g.throughput(Throughput::Elements(pin.len() as u64));
    g.bench_function("max_pool_2x2_64x64x16", |b| {
        b.iter(|| max_pool(black_box(&pargs), &mut yp, pout).unwrap())
    });
    g.bench_function("avg_pool_2x2_64x64x16", |b| {
        b.iter(|| avg_pool(black_box(&pargs), &mut yp, pout).unwrap())
    });
    let mut yg = vec![0i8; 16];
    let gargs = GlobalAvgPoolArgs {
        input: &xp,
        input_shape: pin,
    };
    g.bench_function("global_avg_pool_64x64x16", |b| {
        b.iter(|| global_avg_pool(black_box(&gargs), &mut yg).unwrap())
    });
    g.finish();
}

criterion_group!(benches, full_model, kernels);
criterion_main!(benches);
