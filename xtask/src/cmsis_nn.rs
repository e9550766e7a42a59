//! `cargo xtask cmsis-nn`: every layer of the model `cargo xtask firmware`
//! runs, computed side by side with Arm's CMSIS-NN on the same simulated
//! Cortex-M4 and counted the same way.
//!
//! Steps: the firmware check ([`firmware::firmware`], which also measures
//! firmware-core's instructions per op) → the host runs the same model with
//! `Model::run_observed` and keeps every tensor → one or more CMSIS-NN *cases*
//! per op ([`op_cases`]) with identical int8 inputs, weights, biases,
//! per-channel multipliers and shifts → `cases.bin` → the C harness in
//! `tests/cmsis-nn-bench/` is compiled with `arm-none-eabi-gcc -O3` against
//! the unchanged CMSIS-NN sources (`../shared/peers/cmsis-nn` relative to the
//! repository root, or `$SMN_CMSIS_NN_DIR`) → QEMU (mps2-an386, `-icount
//! shift=0`, SysTick calibrated as in the firmware) → per-layer table,
//! bit-exactness, peak RAM, `target/cmsis-nn-report.json`.
//!
//! Conv2d, MaxPool2d and FullyConnected have TFLite's arithmetic on both
//! sides, so their outputs must be bit for bit equal. ConcatConv1x1 is run the
//! way TFLite Micro + CMSIS-NN must run it: both inputs requantised to one
//! concat scale and written into a materialised concat tensor (counted as
//! part of the op), then `arm_convolve_1x1_s8_fast`. That rounds once more
//! than firmware-core's two-scale kernel (`docs/int8-spec.md` §5), so its
//! output is checked against a host recomputation of the TFLite-style
//! arithmetic instead, and its distance to firmware-core's output reported.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use smn_firmware_core::builder::{plan_arena, quantize_multiplier, Lifetime};
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{Bytes, Clamp, ConcatConv1x1, Conv2d, FullyConnected, Op, Pool2d, Quant, Window};
use smn_firmware_core::kernels::conv2d::{conv2d, Conv2dArgs};
use smn_firmware_core::kernels::input::convert_rgb;
use smn_firmware_core::kernels::params::ChannelParams;
use smn_firmware_core::kernels::requant::multiply_by_quantized_multiplier;
use smn_firmware_core::kernels::{OutputStage, Shape};
use smn_firmware_core::{Model, TensorInfo};

use crate::cmd;
use crate::firmware::{self, Calibration, Report, DEVICE_PREFIX};

/// Overrides where the CMSIS-NN sources are.
const CMSIS_NN_ENV: &str = "SMN_CMSIS_NN_DIR";
/// Default place of the CMSIS-NN sources, relative to the repository root.
const CMSIS_NN_DEFAULT: &str = "../shared/peers/cmsis-nn";
/// The C harness, relative to the repository root.
const BENCH_DIR: &str = "tests/cmsis-nn-bench";
/// The CMSIS-NN source folders compiled (float variants left out).
const CMSIS_SOURCE_DIRS: [&str; 4] = [
    "ConvolutionFunctions",
    "FullyConnectedFunctions",
    "PoolingFunctions",
    "NNSupportFunctions",
];
const CC: &str = "arm-none-eabi-gcc";
/// Code generation for the Cortex-M4F (DSP extension on: CMSIS-NN's SMLAD paths).
const CFLAGS: [&str; 9] = [
    "-mcpu=cortex-m4",
    "-mfpu=fpv4-sp-d16",
    "-mfloat-abi=hard",
    "-mthumb",
    "-O3",
    "-std=c99",
    "-ffunction-sections",
    "-fdata-sections",
    "-g",
];
/// Warnings for the harness's own C files (not for CMSIS-NN's).
const HARNESS_WARNINGS: [&str; 3] = ["-Wall", "-Wextra", "-Werror"];

// The case file format; keep in sync with tests/cmsis-nn-bench/bench.h.
const MAGIC: u32 = 0x434E_4D53; // "SMNC"
const VERSION: u32 = 1;
const HEADER_WORDS: usize = 8;
const CASE_WORDS: usize = 32;
/// Alignment of every array in the case file.
const ARRAY_ALIGN: usize = 8;

/// What a case runs (`enum bench_kind` in bench.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `arm_convolve_wrapper_s8`.
    Conv = 1,
    /// Requantise both inputs into one concat tensor, then `arm_convolve_1x1_s8_fast`.
    ConcatConv1x1 = 2,
    /// `arm_max_pool_s8`.
    MaxPool = 3,
    /// `arm_fully_connected_per_channel_s8`.
    FullyConnected = 4,
}

/// Height, width, channels of an NHWC tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dims {
    h: usize,
    w: usize,
    c: usize,
}

impl Dims {
    fn of(t: &TensorInfo) -> Dims {
        Dims {
            h: usize::from(t.height),
            w: usize::from(t.width),
            c: usize::from(t.channels),
        }
    }

    fn len(&self) -> usize {
        self.h * self.w * self.c
    }
}

impl std::fmt::Display for Dims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.h, self.w, self.c)
    }
}

/// A tensor of the graph as TFLite Micro would run it (for the arena estimate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TensorKey {
    /// A tensor of the firmware-core model (its id).
    Model(u16),
    /// The materialised concat tensor of op `op_index`.
    Concat(usize),
    /// The full-resolution conv output that the fused conv + max pool of op
    /// `op_index` never stores (CMSIS-NN writes it, then pools it).
    ConvOutput(usize),
}

/// One op of that graph: the tensors it reads, and the one it writes (with its bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    reads: Vec<TensorKey>,
    writes: Option<(TensorKey, usize)>,
}

/// Requantisation of one concat input to the concat tensor's quantisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ToConcat {
    zero_point: i32,
    multiplier: i32,
    shift: i32,
}

/// TFLite-style parameters of a concat + 1×1 conv (see [`concat_params`]).
#[derive(Clone, Debug, PartialEq)]
struct ConcatParams {
    /// Quantisation of the concat tensor.
    quant: Quant,
    a: ToConcat,
    b: ToConcat,
    /// The 1×1 conv's bias at scale `s_concat · s_w[c]`.
    bias: Vec<i32>,
    /// Its multipliers and shifts for `s_concat · s_w[c] / s_out`.
    multipliers: Vec<i32>,
    shifts: Vec<i32>,
}

/// The second input of a concat case.
#[derive(Clone, Debug, PartialEq)]
struct ConcatInput {
    data: Vec<i8>,
    channels: usize,
    a: ToConcat,
    b: ToConcat,
}

/// How a case's output is checked.
#[derive(Clone, Debug, PartialEq)]
enum Check {
    /// Same arithmetic as firmware-core: must equal its output bit for bit.
    BitExact(Vec<i8>),
    /// Different arithmetic: must equal `reference` (TFLite-style, recomputed
    /// on the host); `ours` is firmware-core's output, for the distance.
    Reference { reference: Vec<i8>, ours: Vec<i8> },
}

/// One CMSIS-NN kernel call (for a concat: the requantising concat and the 1×1 conv).
#[derive(Clone, Debug, PartialEq)]
struct Case {
    kind: Kind,
    op_index: usize,
    /// Input (input `a` of a concat).
    input: Dims,
    output: Dims,
    /// Kernel, stride, padding (1×1 for a concat or fully connected case).
    window: Window,
    /// `−zero point` of the (concat) input.
    input_offset: i32,
    /// Zero point of the output.
    output_offset: i32,
    clamp: Clamp,
    data: Vec<i8>,
    weights: Vec<i8>,
    bias: Vec<i32>,
    multipliers: Vec<i32>,
    shifts: Vec<i32>,
    concat: Option<ConcatInput>,
    /// The graph ops this case stands for.
    steps: Vec<Step>,
    check: Check,
}

// ---------------------------------------------------------------------------
// Ops → cases.

/// The tensors of one host run of the model, by id.
struct Tensors<'m> {
    model: &'m Model<'m>,
    data: Vec<Option<Vec<i8>>>,
}

impl Tensors<'_> {
    /// Runs the model on `image` and keeps the input tensor and every tensor an op writes.
    fn capture<'m>(model: &'m Model<'m>, image: &[u8]) -> Result<Tensors<'m>, String> {
        let mut data: Vec<Option<Vec<i8>>> = vec![None; model.tensor_count()];
        let input = model.tensor(0).ok_or("the model has no input tensor")?;
        let mut converted = vec![0i8; Dims::of(input).len()];
        if !convert_rgb(image, model.header().input_lut.0, &mut converted) {
            return Err("the model's input table is short".into());
        }
        if let Some(slot) = data.first_mut() {
            *slot = Some(converted);
        }
        let mut arena = vec![0u8; model.arena_bytes()];
        model
            .run_observed(image, &mut arena, &mut |trace| {
                if let Some(slot) = data.get_mut(trace.tensor) {
                    *slot = Some(trace.data.to_vec());
                }
            })
            .map_err(|e| format!("host: run_observed failed: {e}"))?;
        Ok(Tensors { model, data })
    }

    fn info(&self, id: u16) -> Result<&TensorInfo, String> {
        self.model
            .tensor(usize::from(id))
            .ok_or_else(|| format!("tensor {id} is not in the model"))
    }

    fn dims(&self, id: u16) -> Result<Dims, String> {
        self.info(id).map(Dims::of)
    }

    fn zero_point(&self, id: u16) -> Result<i32, String> {
        self.info(id).map(|t| i32::from(t.quant.zero_point))
    }

    fn values(&self, id: u16) -> Result<Vec<i8>, String> {
        self.data
            .get(usize::from(id))
            .cloned()
            .flatten()
            .ok_or_else(|| format!("tensor {id} was not written by the host run"))
    }

    /// A step reading `reads` and writing model tensor `output`.
    fn step(&self, reads: &[u16], output: u16) -> Result<Step, String> {
        Ok(Step {
            reads: reads.iter().map(|&id| TensorKey::Model(id)).collect(),
            writes: Some((TensorKey::Model(output), self.dims(output)?.len())),
        })
    }
}

/// CRC-32 of int8 data, as the harness computes it.
fn crc_of(values: &[i8]) -> u32 {
    crc32(&values.iter().map(|&v| v as u8).collect::<Vec<_>>())
}

fn i8s(bytes: Bytes<'_>) -> Vec<i8> {
    bytes.0.iter().map(|&b| b as i8).collect()
}

fn i32s(bytes: Bytes<'_>) -> Vec<i32> {
    bytes
        .0
        .chunks_exact(4)
        .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

fn shifts(bytes: Bytes<'_>) -> Vec<i32> {
    bytes.0.iter().map(|&b| i32::from(b as i8)).collect()
}

const NO_CLAMP: Clamp = Clamp { min: -128, max: 127 };

/// The CMSIS-NN cases of op `op_index`: the one place that maps firmware-core
/// ops to CMSIS-NN kernels. Ops without a CMSIS-NN counterpart here (average
/// pools, not in the `micro` model; the float heads) get none.
///
/// A conv with a fused max pool maps to two cases: a conv case writing the
/// full-resolution tensor ([`TensorKey::ConvOutput`], checked against
/// firmware-core's unfused conv on the host), then a max-pool case reading
/// it, checked against the fused op's output.
fn op_cases(t: &Tensors<'_>, op_index: usize, op: &Op<'_>) -> Result<Vec<Case>, String> {
    Ok(match op {
        Op::Conv2d(c) => vec![conv_case(t, op_index, c)?],
        Op::Conv2dMaxPool(c) => conv_max_pool_cases(t, op_index, c)?,
        Op::ConcatConv1x1(c) => vec![concat_case(t, op_index, c)?],
        Op::MaxPool2d(p) => vec![max_pool_case(t, op_index, p)?],
        Op::FullyConnected(f) => vec![fully_connected_case(t, op_index, f)?],
        Op::AvgPool2d(_) | Op::GlobalAvgPool(_) | Op::LandmarkHead(_) | Op::AttributeHead(_) => Vec::new(),
    })
}

fn conv_case(t: &Tensors<'_>, op_index: usize, c: &Conv2d<'_>) -> Result<Case, String> {
    Ok(Case {
        kind: Kind::Conv,
        op_index,
        input: t.dims(c.input)?,
        output: t.dims(c.output)?,
        window: c.window,
        input_offset: -t.zero_point(c.input)?,
        output_offset: t.zero_point(c.output)?,
        clamp: c.clamp,
        data: t.values(c.input)?,
        weights: i8s(c.weights),
        bias: i32s(c.bias),
        multipliers: i32s(c.requant.multipliers),
        shifts: shifts(c.requant.shifts),
        concat: None,
        steps: vec![t.step(&[c.input], c.output)?],
        check: Check::BitExact(t.values(c.output)?),
    })
}

/// The conv of a fused conv + max pool at full resolution, computed on the
/// host with firmware-core's own (unfused) conv kernel.
fn full_resolution_conv(t: &Tensors<'_>, c: &Conv2d<'_>) -> Result<(Dims, Vec<i8>), String> {
    let (input, output) = (t.info(c.input)?, t.info(c.output)?);
    let w = c.window;
    let axis = |len: u16, k: u8, s: u8, p0: u8, p1: u8| {
        (usize::from(len) + usize::from(p0) + usize::from(p1)).saturating_sub(usize::from(k)) / usize::from(s.max(1))
            + 1
    };
    let dims = Dims {
        h: axis(input.height, w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom),
        w: axis(input.width, w.kernel_w, w.stride_w, w.pad_left, w.pad_right),
        c: usize::from(output.channels),
    };
    let shape = |d: &Dims| Shape {
        height: d.h,
        width: d.w,
        channels: d.c,
    };
    let (x, weights) = (t.values(c.input)?, i8s(c.weights));
    let args = Conv2dArgs {
        input: &x,
        input_shape: shape(&Dims::of(input)),
        input_zero_point: i32::from(input.quant.zero_point),
        window: w,
        weights: &weights,
        channels: ChannelParams {
            bias: c.bias.0,
            multipliers: c.requant.multipliers.0,
            shifts: c.requant.shifts.0,
        },
        output_stage: OutputStage {
            zero_point: i32::from(output.quant.zero_point),
            min: i32::from(c.clamp.min),
            max: i32::from(c.clamp.max),
        },
        pool_2x2: false,
    };
    let mut y = vec![0i8; dims.len()];
    conv2d(&args, &mut y, shape(&dims)).map_err(|e| format!("host conv at full resolution: {e}"))?;
    Ok((dims, y))
}

fn conv_max_pool_cases(t: &Tensors<'_>, op_index: usize, c: &Conv2d<'_>) -> Result<Vec<Case>, String> {
    let (full, values) = full_resolution_conv(t, c)?;
    let key = TensorKey::ConvOutput(op_index);
    let conv = Case {
        output: full,
        steps: vec![Step {
            reads: vec![TensorKey::Model(c.input)],
            writes: Some((key, full.len())),
        }],
        check: Check::BitExact(values.clone()),
        ..conv_case(t, op_index, c)?
    };
    let pool = Case {
        kind: Kind::MaxPool,
        op_index,
        input: full,
        output: t.dims(c.output)?,
        window: Window::square(2, 2, 0),
        input_offset: 0,
        output_offset: 0,
        clamp: NO_CLAMP,
        data: values,
        weights: Vec::new(),
        bias: Vec::new(),
        multipliers: Vec::new(),
        shifts: Vec::new(),
        concat: None,
        steps: vec![Step {
            reads: vec![key],
            writes: Some((TensorKey::Model(c.output), t.dims(c.output)?.len())),
        }],
        check: Check::BitExact(t.values(c.output)?),
    };
    Ok(vec![conv, pool])
}

fn max_pool_case(t: &Tensors<'_>, op_index: usize, p: &Pool2d) -> Result<Case, String> {
    Ok(Case {
        kind: Kind::MaxPool,
        op_index,
        input: t.dims(p.input)?,
        output: t.dims(p.output)?,
        window: p.window,
        input_offset: 0,
        output_offset: 0,
        clamp: NO_CLAMP,
        data: t.values(p.input)?,
        weights: Vec::new(),
        bias: Vec::new(),
        multipliers: Vec::new(),
        shifts: Vec::new(),
        concat: None,
        steps: vec![t.step(&[p.input], p.output)?],
        check: Check::BitExact(t.values(p.output)?),
    })
}

fn fully_connected_case(t: &Tensors<'_>, op_index: usize, f: &FullyConnected<'_>) -> Result<Case, String> {
    Ok(Case {
        kind: Kind::FullyConnected,
        op_index,
        input: t.dims(f.input)?,
        output: t.dims(f.output)?,
        window: Window::square(1, 1, 0),
        input_offset: -t.zero_point(f.input)?,
        output_offset: t.zero_point(f.output)?,
        clamp: f.clamp,
        data: t.values(f.input)?,
        weights: i8s(f.weights),
        bias: i32s(f.bias),
        multipliers: i32s(f.requant.multipliers),
        shifts: shifts(f.requant.shifts),
        concat: None,
        steps: vec![t.step(&[f.input], f.output)?],
        check: Check::BitExact(t.values(f.output)?),
    })
}

fn concat_case(t: &Tensors<'_>, op_index: usize, c: &ConcatConv1x1<'_>) -> Result<Case, String> {
    let (qa, qb, qo) = (
        t.info(c.input_a)?.quant,
        t.info(c.input_b)?.quant,
        t.info(c.output)?.quant,
    );
    let (da, db, output) = (t.dims(c.input_a)?, t.dims(c.input_b)?, t.dims(c.output)?);
    let params = concat_params(
        qa,
        qb,
        &i32s(c.bias),
        &i32s(c.requant_a.multipliers),
        &shifts(c.requant_a.shifts),
    )
    .map_err(|e| format!("op {op_index} (ConcatConv1x1): {e}"))?;
    let (a, b) = (t.values(c.input_a)?, t.values(c.input_b)?);
    let weights = i8s(c.weights);
    let reference = tflite_concat_conv1x1(&a, da.c, &b, db.c, &params, &weights, i32::from(qo.zero_point), c.clamp);
    let concat = TensorKey::Concat(op_index);
    Ok(Case {
        kind: Kind::ConcatConv1x1,
        op_index,
        input: da,
        output,
        window: Window::square(1, 1, 0),
        input_offset: -i32::from(params.quant.zero_point),
        output_offset: i32::from(qo.zero_point),
        clamp: c.clamp,
        data: a,
        weights,
        bias: params.bias,
        multipliers: params.multipliers,
        shifts: params.shifts,
        concat: Some(ConcatInput {
            data: b,
            channels: db.c,
            a: params.a,
            b: params.b,
        }),
        steps: vec![
            Step {
                reads: vec![TensorKey::Model(c.input_a), TensorKey::Model(c.input_b)],
                writes: Some((concat, da.h * da.w * (da.c + db.c))),
            },
            Step {
                reads: vec![concat],
                writes: Some((TensorKey::Model(c.output), output.len())),
            },
        ],
        check: Check::Reference {
            reference,
            ours: t.values(c.output)?,
        },
    })
}

/// Real range `[min, max]` of an int8 tensor.
fn real_range(q: Quant) -> (f64, f64) {
    let (s, zp) = (f64::from(q.scale), f64::from(q.zero_point));
    (s * (-128.0 - zp), s * (127.0 - zp))
}

/// TFLite-style quantisation of a concat of `a` and `b`: the union of their
/// real ranges, widened to include 0, `scale = (max − min) / 255` (as `f32`),
/// `zero_point = round(−128 − min / scale)` clamped to int8
/// (`docs/int8-spec.md` §9).
fn concat_quant(a: Quant, b: Quant) -> Quant {
    let ((a_lo, a_hi), (b_lo, b_hi)) = (real_range(a), real_range(b));
    let lo = a_lo.min(b_lo).min(0.0);
    let hi = a_hi.max(b_hi).max(0.0);
    let scale = ((hi - lo) / 255.0) as f32;
    let zero_point = (-128.0 - lo / f64::from(scale)).round().clamp(-128.0, 127.0) as i8;
    Quant { scale, zero_point }
}

/// `(M, shift)` of `real` (`docs/int8-spec.md` §3) as the i32 pair CMSIS-NN takes.
fn multiplier(real: f64) -> Result<(i32, i32), String> {
    quantize_multiplier(real)
        .map(|(m, s)| (m, i32::from(s)))
        .map_err(|e| format!("multiplier {real}: {e}"))
}

/// The real value of a Q31 multiplier and shift: `M · 2^shift / 2^31`.
fn multiplier_value(m: i32, shift: i32) -> f64 {
    f64::from(m) * 2f64.powi(shift - 31)
}

/// Parameters of the TFLite-style concat + 1×1 conv equivalent to a fused
/// `ConcatConv1x1` with inputs quantised `qa`, `qb`, bias `bias_a` (at scale
/// `s_a · s_w[c]`) and the `a` multipliers `m_a`/`sh_a` (`s_a · s_w[c] / s_out`):
/// the concat quantisation ([`concat_quant`]), the requantisation of each
/// input to it, and the 1×1 conv's per-channel multipliers for
/// `s_concat · s_w[c] / s_out = (M_a[c] · 2^sh_a[c] / 2^31) · s_concat / s_a`
/// and bias `round(bias_a[c] · s_a / s_concat)`.
fn concat_params(qa: Quant, qb: Quant, bias_a: &[i32], m_a: &[i32], sh_a: &[i32]) -> Result<ConcatParams, String> {
    if bias_a.len() != m_a.len() || m_a.len() != sh_a.len() {
        return Err("bias, multiplier and shift counts differ".into());
    }
    let quant = concat_quant(qa, qb);
    let (s_a, s_b, s_cat) = (f64::from(qa.scale), f64::from(qb.scale), f64::from(quant.scale));
    let to_concat = |q: Quant, s: f64| -> Result<ToConcat, String> {
        let (multiplier, shift) = multiplier(s / s_cat)?;
        Ok(ToConcat {
            zero_point: i32::from(q.zero_point),
            multiplier,
            shift,
        })
    };
    let mut params = ConcatParams {
        quant,
        a: to_concat(qa, s_a)?,
        b: to_concat(qb, s_b)?,
        bias: Vec::with_capacity(bias_a.len()),
        multipliers: Vec::with_capacity(m_a.len()),
        shifts: Vec::with_capacity(sh_a.len()),
    };
    for ((&bias, &m), &sh) in bias_a.iter().zip(m_a).zip(sh_a) {
        let (m, sh) = multiplier(multiplier_value(m, sh) * s_cat / s_a)?;
        params.multipliers.push(m);
        params.shifts.push(sh);
        let rescaled = (f64::from(bias) * s_a / s_cat).round();
        if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&rescaled) {
            return Err(format!("bias {bias} rescaled to the concat scale overflows i32"));
        }
        params.bias.push(rescaled as i32);
    }
    Ok(params)
}

/// TFLite's int8 → int8 requantisation of one value to the concat tensor.
fn requantise(q: i8, to: ToConcat, zp_concat: i32) -> i32 {
    (multiply_by_quantized_multiplier(i32::from(q) - to.zero_point, to.multiplier, to.shift) + zp_concat)
        .clamp(-128, 127)
}

/// What TFLite (Micro) computes for concat + 1×1 conv with `params`: the
/// requantised, materialised concat, then the 1×1 conv (`i64` accumulator,
/// TFLite's `MultiplyByQuantizedMultiplier`). `a` and `b` are NHWC with
/// `c_a` and `c_b` channels and the same pixels; weights are `out × (c_a + c_b)`.
#[allow(clippy::too_many_arguments)]
fn tflite_concat_conv1x1(
    a: &[i8],
    c_a: usize,
    b: &[i8],
    c_b: usize,
    params: &ConcatParams,
    weights: &[i8],
    zp_out: i32,
    clamp: Clamp,
) -> Vec<i8> {
    let zp_cat = i32::from(params.quant.zero_point);
    let c_cat = c_a + c_b;
    let mut out = Vec::new();
    let mut row = Vec::with_capacity(c_cat);
    for (pa, pb) in a.chunks_exact(c_a.max(1)).zip(b.chunks_exact(c_b.max(1))) {
        row.clear();
        row.extend(pa.iter().map(|&q| requantise(q, params.a, zp_cat)));
        row.extend(pb.iter().map(|&q| requantise(q, params.b, zp_cat)));
        for (((w, &bias), &m), &sh) in weights
            .chunks_exact(c_cat.max(1))
            .zip(&params.bias)
            .zip(&params.multipliers)
            .zip(&params.shifts)
        {
            let acc: i64 = i64::from(bias)
                + w.iter()
                    .zip(&row)
                    .map(|(&w, &x)| i64::from(w) * i64::from(x - zp_cat))
                    .sum::<i64>();
            let acc = acc.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            let y = multiply_by_quantized_multiplier(acc, m, sh).saturating_add(zp_out);
            out.push(y.clamp(i32::from(clamp.min), i32::from(clamp.max)) as i8);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// cases.bin

/// Appends 8-byte-aligned arrays after the records and returns their offsets.
struct Arrays {
    base: usize,
    bytes: Vec<u8>,
}

impl Arrays {
    fn push(&mut self, bytes: impl IntoIterator<Item = u8>) -> Result<i32, String> {
        let start = self.bytes.len();
        self.bytes.extend(bytes);
        if self.bytes.len() == start {
            return Ok(0);
        }
        self.bytes.resize(self.bytes.len().next_multiple_of(ARRAY_ALIGN), 0);
        word(self.base + start)
    }

    fn push_i8(&mut self, values: &[i8]) -> Result<i32, String> {
        self.push(values.iter().map(|&v| v as u8))
    }

    fn push_i32(&mut self, values: &[i32]) -> Result<i32, String> {
        self.push(values.iter().flat_map(|v| v.to_le_bytes()))
    }
}

fn word(v: usize) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| format!("{v} does not fit a case file word"))
}

impl Case {
    /// The `struct bench_case` words of this case (arrays appended to `arrays`).
    fn record(&self, arrays: &mut Arrays) -> Result<[i32; CASE_WORDS], String> {
        let identity = ToConcat {
            zero_point: 0,
            multiplier: 0,
            shift: 0,
        };
        let (b_channels, input_b, ra, rb) = match &self.concat {
            Some(c) => (word(c.channels)?, arrays.push_i8(&c.data)?, c.a, c.b),
            None => (0, 0, identity, identity),
        };
        let w = &self.window;
        Ok([
            self.kind as i32,
            word(self.op_index)?,
            word(self.input.h)?,
            word(self.input.w)?,
            word(self.input.c)?,
            word(self.output.h)?,
            word(self.output.w)?,
            word(self.output.c)?,
            i32::from(w.kernel_h),
            i32::from(w.kernel_w),
            i32::from(w.stride_h),
            i32::from(w.stride_w),
            i32::from(w.pad_top),
            i32::from(w.pad_left),
            self.input_offset,
            self.output_offset,
            i32::from(self.clamp.min),
            i32::from(self.clamp.max),
            arrays.push_i8(&self.data)?,
            arrays.push_i8(&self.weights)?,
            arrays.push_i32(&self.bias)?,
            arrays.push_i32(&self.multipliers)?,
            arrays.push_i32(&self.shifts)?,
            b_channels,
            input_b,
            ra.zero_point,
            ra.multiplier,
            ra.shift,
            rb.zero_point,
            rb.multiplier,
            rb.shift,
            0,
        ])
    }

    /// Bytes of the concat tensor this case materialises (0 if none).
    fn concat_bytes(&self) -> usize {
        self.concat
            .as_ref()
            .map_or(0, |c| self.input.h * self.input.w * (self.input.c + c.channels))
    }
}

/// `cases.bin` (format in tests/cmsis-nn-bench/bench.h).
fn encode(cases: &[Case]) -> Result<Vec<u8>, String> {
    let records_offset = 4 * HEADER_WORDS;
    let mut arrays = Arrays {
        base: records_offset + 4 * CASE_WORDS * cases.len(),
        bytes: Vec::new(),
    };
    let mut records = Vec::with_capacity(4 * CASE_WORDS * cases.len());
    for case in cases {
        records.extend(case.record(&mut arrays)?.iter().flat_map(|w| w.to_le_bytes()));
    }
    let max_output = cases.iter().map(|c| c.output.len()).max().unwrap_or(0);
    let max_concat = cases.iter().map(Case::concat_bytes).max().unwrap_or(0);
    let header = [
        MAGIC,
        VERSION,
        word(cases.len())? as u32,
        CASE_WORDS as u32,
        records_offset as u32,
        word(max_output)? as u32,
        word(max_concat)? as u32,
        0,
    ];
    let mut out: Vec<u8> = header.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.extend(records);
    out.extend(arrays.bytes);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Harness output.

/// One `case <index> <op_index> <kind> <ticks> <crc32> <scratch bytes>` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CaseRun {
    ticks: u64,
    crc: u32,
    scratch_bytes: usize,
}

/// `<index> <op_index> <kind> <ticks> <crc32> <scratch bytes>`.
fn parse_case_line(line: &str) -> Option<(usize, usize, i32, CaseRun)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [i, op, kind, ticks, crc, scratch] = f[..] else {
        return None;
    };
    Some((
        i.parse().ok()?,
        op.parse().ok()?,
        kind.parse().ok()?,
        CaseRun {
            ticks: ticks.parse().ok()?,
            crc: u32::from_str_radix(crc, 16).ok()?,
            scratch_bytes: scratch.parse().ok()?,
        },
    ))
}

/// The harness's `case …` lines, checked against the cases sent.
fn parse_runs(output: &str, cases: &[Case]) -> Result<Vec<CaseRun>, String> {
    let mut runs = Vec::with_capacity(cases.len());
    for line in output.lines().filter_map(|l| l.strip_prefix("case ")) {
        let Some((i, op, kind, run)) = parse_case_line(line) else {
            return Err(format!("malformed harness line `case {line}`"));
        };
        match cases.get(i) {
            Some(c) if i == runs.len() && c.op_index == op && c.kind as i32 == kind => runs.push(run),
            _ => return Err(format!("harness line `case {line}` does not match case {}", runs.len())),
        }
    }
    if runs.len() != cases.len() {
        return Err(format!("the harness reported {} of {} cases", runs.len(), cases.len()));
    }
    Ok(runs)
}

// ---------------------------------------------------------------------------
// Arena estimate.

/// TFLite-Micro-style arena of `steps` run in order after the input
/// (`input`, written at time 0): every tensor lives from its write to its
/// last read, placed greedy by size ([`plan_arena`]). Returns the bytes.
fn tflm_arena(input: (TensorKey, usize), steps: &[Step]) -> usize {
    let mut index: HashMap<TensorKey, usize> = HashMap::from([(input.0, 0)]);
    let mut sizes = vec![input.1];
    let mut lives = vec![Lifetime { first: 0, last: 0 }];
    for (time, step) in (1u32..).zip(steps) {
        for key in &step.reads {
            if let Some(life) = index.get(key).and_then(|&i| lives.get_mut(i)) {
                life.last = life.last.max(time);
            }
        }
        if let Some((key, bytes)) = step.writes {
            index.insert(key, sizes.len());
            sizes.push(bytes);
            lives.push(Lifetime {
                first: time,
                last: time,
            });
        }
    }
    plan_arena(&sizes, &lives).total
}

// ---------------------------------------------------------------------------
// The table.

/// One row of the per-layer table.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    op: String,
    kind: String,
    shape: String,
    macs: u64,
    ours: Option<u64>,
    cmsis: Option<u64>,
    exact: String,
}

fn per_mac(instructions: Option<u64>, macs: u64) -> String {
    match instructions {
        Some(i) if macs > 0 => format!("{:.2}", i as f64 / macs as f64),
        _ => "-".into(),
    }
}

fn count(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn ratio(ours: u64, cmsis: u64) -> f64 {
    if cmsis == 0 {
        0.0
    } else {
        ours as f64 / cmsis as f64
    }
}

/// The per-layer table: op, kind, shape, MACs, instructions and
/// instructions/MAC of both, their ratio and whether the outputs are equal.
fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>5}  {:<15} {:<29} {:>8}  {:>13} {:>6}  {:>13} {:>6}  {:>5}  bit-exact",
        "op", "kind", "shape", "MACs", "firmware-core", "/MAC", "CMSIS-NN", "/MAC", "ratio"
    );
    for r in rows {
        let ratio = match (r.ours, r.cmsis) {
            (Some(o), Some(c)) if c > 0 => format!("{:.2}", ratio(o, c)),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "{:>5}  {:<15} {:<29} {:>8}  {:>13} {:>6}  {:>13} {:>6}  {:>5}  {}",
            r.op,
            r.kind,
            r.shape,
            r.macs,
            count(r.ours),
            per_mac(r.ours, r.macs),
            count(r.cmsis),
            per_mac(r.cmsis, r.macs),
            ratio,
            r.exact
        );
    }
    s
}

/// Instructions of firmware-core and CMSIS-NN summed over some layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pair {
    ours: u64,
    cmsis: u64,
}

impl Pair {
    fn add(&mut self, other: Pair) {
        self.ours += other.ours;
        self.cmsis += other.cmsis;
    }

    /// firmware-core / CMSIS-NN (0 without CMSIS-NN instructions).
    fn ratio(&self) -> f64 {
        ratio(self.ours, self.cmsis)
    }
}

/// The closing line of `cargo xtask cmsis-nn`.
fn ratio_line(conv: Pair, concat: Pair, whole: Pair) -> String {
    format!(
        "firmware-core/CMSIS-NN instructions: conv {:.2}, concat+1x1 {:.2}, whole network {:.2}",
        conv.ratio(),
        concat.ratio(),
        whole.ratio()
    )
}

fn shape_of(t: &Tensors<'_>, op: &Op<'_>) -> Result<String, String> {
    let out = |id: u16| t.dims(id);
    Ok(match op {
        Op::Conv2d(c) => format!(
            "{} -> {} k{}s{}",
            t.dims(c.input)?,
            out(c.output)?,
            c.window.kernel_h,
            c.window.stride_h
        ),
        Op::Conv2dMaxPool(c) => format!(
            "{} -> {} k{}s{}+pool2",
            t.dims(c.input)?,
            out(c.output)?,
            c.window.kernel_h,
            c.window.stride_h
        ),
        Op::ConcatConv1x1(c) => {
            let (a, b) = (t.dims(c.input_a)?, t.dims(c.input_b)?);
            format!("{}x{}x({}+{}) -> {}", a.h, a.w, a.c, b.c, out(c.output)?)
        }
        Op::MaxPool2d(p) | Op::AvgPool2d(p) => format!(
            "{} -> {} k{}s{}",
            t.dims(p.input)?,
            out(p.output)?,
            p.window.kernel_h,
            p.window.stride_h
        ),
        Op::GlobalAvgPool(p) => format!("{} -> {}", t.dims(p.input)?, out(p.output)?),
        Op::FullyConnected(f) => format!("{} -> {}", t.dims(f.input)?.len(), out(f.output)?.c),
        Op::LandmarkHead(h) => format!("{} -> 5 landmarks", t.dims(h.input)?.len()),
        Op::AttributeHead(h) => format!("{} -> 40 attributes", t.dims(h.input)?.len()),
    })
}

// ---------------------------------------------------------------------------
// Building and running the harness.

/// The CMSIS-NN sources: `$SMN_CMSIS_NN_DIR`, else `../shared/peers/cmsis-nn`
/// relative to the repository root.
pub fn cmsis_nn_dir(root: &Path) -> Result<PathBuf, String> {
    locate_cmsis_nn(
        root,
        env::var_os(CMSIS_NN_ENV).filter(|d| !d.is_empty()).map(PathBuf::from),
    )
}

/// [`cmsis_nn_dir`] with the value of `$SMN_CMSIS_NN_DIR` given.
fn locate_cmsis_nn(root: &Path, from_env: Option<PathBuf>) -> Result<PathBuf, String> {
    let (dir, origin) = match from_env {
        Some(dir) => (dir, format!("${CMSIS_NN_ENV}")),
        None => (
            root.join(CMSIS_NN_DEFAULT),
            format!("{CMSIS_NN_DEFAULT} relative to the repository root; set ${CMSIS_NN_ENV} to use another"),
        ),
    };
    if dir.join("Include").join("arm_nnfunctions.h").is_file() && dir.join("Source").is_dir() {
        Ok(fs::canonicalize(&dir).unwrap_or(dir))
    } else {
        Err(format!(
            "CMSIS-NN sources not found at {} ({origin}): expected Include/arm_nnfunctions.h and Source/ \
             of github.com/ARM-software/CMSIS-NN",
            dir.display()
        ))
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files directly in `dir`.
fn newest_in(dir: &Path) -> Result<SystemTime, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(|e| modified(&e.ok()?.path()))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

/// The integer CMSIS-NN C sources of [`CMSIS_SOURCE_DIRS`], sorted.
fn cmsis_sources(cmsis: &Path) -> Result<Vec<PathBuf>, String> {
    let mut sources = Vec::new();
    for dir in CMSIS_SOURCE_DIRS {
        let dir = cmsis.join("Source").join(dir);
        let entries = fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let float = ["_f16", "_f32", "_flt"].iter().any(|f| name.contains(f));
            if name.ends_with(".c") && !float {
                sources.push(path);
            }
        }
    }
    sources.sort();
    Ok(sources)
}

fn compiler(include: &Path) -> Command {
    let mut cc = Command::new(CC);
    cc.args(CFLAGS).arg("-I").arg(include);
    cc
}

/// Runs `jobs` (compiler commands), as many at a time as there are CPUs.
fn compile_all(what: &str, jobs: Vec<Command>) -> Result<(), String> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let mut running = Vec::new();
        for mut job in jobs.by_ref().take(parallel) {
            let shown = cmd::display(&job);
            let child = job
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("{what}: cannot start `{shown}`: {e}"))?;
            running.push((shown, child));
        }
        for (shown, child) in running {
            let out = child
                .wait_with_output()
                .map_err(|e| format!("{what}: waiting for `{shown}` failed: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{what} failed ({}):\n$ {shown}\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    Ok(())
}

/// Compiles CMSIS-NN (objects kept in `out/cmsis-nn`, rebuilt when a source,
/// a header or the flags change) and the harness with `cases_bin`, links
/// `out/cmsis-nn-bench.elf` and returns its path.
fn build_harness(root: &Path, cmsis: &Path, out: &Path, cases_bin: &Path) -> Result<PathBuf, String> {
    let include = cmsis.join("Include");
    let obj_dir = out.join("cmsis-nn");
    fs::create_dir_all(&obj_dir).map_err(|e| format!("cannot create {}: {e}", obj_dir.display()))?;
    let stamp = obj_dir.join("flags.txt");
    let flags = format!("{CC} {} -I {}\n", CFLAGS.join(" "), include.display());
    let flags_same = fs::read_to_string(&stamp).ok().as_deref() == Some(flags.as_str());
    let headers = newest_in(&include)?;

    let mut objects = Vec::new();
    let mut jobs = Vec::new();
    for src in cmsis_sources(cmsis)? {
        let name = src.file_stem().and_then(|n| n.to_str()).unwrap_or("source");
        let obj = obj_dir.join(format!("{name}.o"));
        let fresh =
            flags_same && modified(&obj).is_some_and(|o| modified(&src).is_some_and(|s| o >= s) && o >= headers);
        if !fresh {
            let mut cc = compiler(&include);
            cc.arg("-c").arg(&src).arg("-o").arg(&obj);
            jobs.push(cc);
        }
        objects.push(obj);
    }
    if !jobs.is_empty() {
        eprintln!(
            "cmsis-nn: compiling {} CMSIS-NN sources from {} into {}",
            jobs.len(),
            cmsis.display(),
            obj_dir.display()
        );
    }
    compile_all("CMSIS-NN compilation", jobs)?;
    fs::write(&stamp, flags).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;

    let bench = root.join(BENCH_DIR);
    let Some(cases) = cases_bin.to_str().filter(|p| !p.contains(['"', '\\'])) else {
        return Err(format!(
            "{} cannot be named in an assembler string",
            cases_bin.display()
        ));
    };
    let mut harness_objects = Vec::new();
    let mut harness = Vec::new();
    for (src, define) in [
        ("main.c", None),
        ("startup.c", None),
        ("cases.S", Some(format!("-DCASES_BIN=\"{cases}\""))),
    ] {
        let obj = out.join(format!("{src}.o"));
        let mut cc = compiler(&include);
        cc.args(HARNESS_WARNINGS).arg("-I").arg(&bench).args(define);
        cc.arg("-c").arg(bench.join(src)).arg("-o").arg(&obj);
        harness.push(cc);
        harness_objects.push(obj);
    }
    compile_all("harness compilation", harness)?;

    let elf = out.join("cmsis-nn-bench.elf");
    eprintln!("cmsis-nn: linking {}", elf.display());
    let mut link = Command::new(CC);
    link.args(CFLAGS)
        .args(["-nostartfiles", "-Wl,--gc-sections"])
        .arg(format!("-Wl,-Map={}", out.join("cmsis-nn-bench.map").display()))
        .arg("-T")
        .arg(bench.join("link.ld"))
        .args(&harness_objects)
        .args(&objects)
        .arg("-o")
        .arg(&elf);
    compile_all("harness link (newlib libc for memcpy/memset)", vec![link])?;
    Ok(elf)
}

// ---------------------------------------------------------------------------
// The whole comparison.

/// The cases of every op of `ops`, and the graph steps TFLite Micro would run
/// (ops without a CMSIS-NN case, the heads, still read their inputs).
fn plan(t: &Tensors<'_>, ops: &[Op<'_>]) -> Result<(Vec<Case>, Vec<Step>), String> {
    let mut cases = Vec::new();
    let mut steps = Vec::new();
    for (op_index, op) in ops.iter().enumerate() {
        let op_cases = op_cases(t, op_index, op)?;
        if op_cases.is_empty() {
            let (a, b) = op.inputs();
            let writes = match op.output() {
                Some(id) => Some((TensorKey::Model(id), t.dims(id)?.len())),
                None => None,
            };
            steps.push(Step {
                reads: [Some(a), b].into_iter().flatten().map(TensorKey::Model).collect(),
                writes,
            });
        }
        steps.extend(op_cases.iter().flat_map(|c| c.steps.iter().cloned()));
        cases.extend(op_cases);
    }
    Ok((cases, steps))
}

/// What the harness measured.
struct HarnessRun {
    runs: Vec<CaseRun>,
    calibration: Calibration,
    stack_bytes: u64,
    seconds: f64,
}

/// Writes `cases.bin`, builds the harness and runs it under QEMU (output kept
/// in `cmsis-nn-bench/output.txt` of the target dir).
fn run_harness(root: &Path, cmsis: &Path, cases: &[Case]) -> Result<HarnessRun, String> {
    let out = cmd::cargo_target_dir(root)
        .unwrap_or_else(|| root.join("target"))
        .join("cmsis-nn-bench");
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let cases_bin = out.join("cases.bin");
    let encoded = encode(cases)?;
    fs::write(&cases_bin, &encoded).map_err(|e| format!("cannot write {}: {e}", cases_bin.display()))?;
    eprintln!(
        "cmsis-nn: {} cases, {} B in {}",
        cases.len(),
        encoded.len(),
        cases_bin.display()
    );
    let elf = build_harness(root, cmsis, &out, &cases_bin)?;
    let (output, seconds) = firmware::run_qemu("CMSIS-NN benchmark", &elf)?;
    let saved = out.join("output.txt");
    fs::write(&saved, &output).map_err(|e| format!("cannot write {}: {e}", saved.display()))?;
    Ok(HarnessRun {
        runs: parse_runs(&output, cases)?,
        calibration: Calibration::parse(&output)?,
        stack_bytes: firmware::device_value(&output, DEVICE_PREFIX, "stack_bytes")?,
        seconds,
    })
}

/// The output checks of all cases.
#[derive(Debug, Default)]
struct Verdicts {
    /// Per op: `yes`, `NO` or `n.a. (max |d| …)`.
    by_op: HashMap<usize, String>,
    /// What must have been equal and was not.
    failures: Vec<String>,
    /// Largest |TFLite-style − firmware-core| over the concat cases.
    max_concat_diff: i32,
}

fn check(cases: &[Case], runs: &[CaseRun]) -> Verdicts {
    let mut v = Verdicts::default();
    for (case, run) in cases.iter().zip(runs) {
        let verdict = match &case.check {
            Check::BitExact(expected) => {
                if crc_of(expected) == run.crc {
                    "yes".to_string()
                } else {
                    v.failures.push(format!(
                        "op {} ({:?}): CMSIS-NN's output differs from firmware-core's",
                        case.op_index, case.kind
                    ));
                    "NO".to_string()
                }
            }
            Check::Reference { reference, ours } => {
                if crc_of(reference) != run.crc {
                    v.failures.push(format!(
                        "op {} ({:?}): the harness's output is not the TFLite-style result recomputed on the host",
                        case.op_index, case.kind
                    ));
                }
                let diff = reference
                    .iter()
                    .zip(ours)
                    .map(|(&r, &o)| (i32::from(r) - i32::from(o)).abs())
                    .max()
                    .unwrap_or(0);
                v.max_concat_diff = v.max_concat_diff.max(diff);
                format!("n.a. (max |d| {diff})")
            }
        };
        // An op with several cases shows the first verdict that is not `yes`.
        let entry = v.by_op.entry(case.op_index).or_insert_with(|| verdict.clone());
        if entry == "yes" {
            *entry = verdict;
        }
    }
    v
}

/// Everything `cargo xtask cmsis-nn` prints and writes.
struct Summary {
    cmsis_dir: PathBuf,
    cases: usize,
    harness: HarnessRun,
    rows: Vec<Row>,
    conv: Pair,
    concat: Pair,
    /// The ops that have a CMSIS-NN case.
    layers: Pair,
    /// firmware-core: one timed `Model::run`; CMSIS-NN: the sum of its cases.
    whole: Pair,
    verdicts: Verdicts,
    ours_arena: u64,
    ours_stack: u64,
    cmsis_arena: usize,
    cmsis_scratch: usize,
}

impl Summary {
    fn new(
        t: &Tensors<'_>,
        ops: &[Op<'_>],
        cases: &[Case],
        steps: &[Step],
        report: &Report,
        harness: HarnessRun,
        cmsis_dir: PathBuf,
    ) -> Result<Summary, String> {
        let mut verdicts = check(cases, &harness.runs);
        let cal = harness.calibration;
        let cmsis_of = |op_index: usize| -> Option<u64> {
            let mut ticks = cases
                .iter()
                .zip(&harness.runs)
                .filter(|(c, _)| c.op_index == op_index)
                .map(|(_, r)| r.ticks)
                .peekable();
            ticks.peek().is_some().then(|| cal.instructions(ticks.sum()))
        };
        let (mut conv, mut concat, mut layers) = (Pair::default(), Pair::default(), Pair::default());
        let mut rows = Vec::new();
        let mut heads = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            if op.output().is_none() {
                heads.push(op_index);
                continue;
            }
            let (ours, cmsis) = (report.op_instructions(op_index), cmsis_of(op_index));
            if let (Some(ours), Some(cmsis)) = (ours, cmsis) {
                let pair = Pair { ours, cmsis };
                match op {
                    Op::Conv2d(_) | Op::Conv2dMaxPool(_) => conv.add(pair),
                    Op::ConcatConv1x1(_) => concat.add(pair),
                    _ => {}
                }
                layers.add(pair);
            }
            rows.push(Row {
                op: op_index.to_string(),
                kind: op.name().to_string(),
                shape: shape_of(t, op)?,
                macs: t.model.op_macs(op),
                ours,
                cmsis,
                exact: verdicts.by_op.remove(&op_index).unwrap_or_else(|| "n.a.".into()),
            });
        }
        if let (Some(&first), Some(&last)) = (heads.first(), heads.last()) {
            let shapes = heads
                .iter()
                .filter_map(|&i| ops.get(i))
                .map(|op| shape_of(t, op))
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(Row {
                op: format!("{first}-{last}"),
                kind: "heads (f32)".into(),
                shape: shapes.join(", "),
                macs: 0,
                ours: report.heads_instructions(),
                cmsis: None,
                exact: "n.a.".into(),
            });
        }
        let whole = Pair {
            ours: report.inference_instructions(),
            cmsis: harness.runs.iter().map(|r| cal.instructions(r.ticks)).sum(),
        };
        let input = (TensorKey::Model(0), t.dims(0)?.len());
        Ok(Summary {
            cmsis_dir,
            cases: cases.len(),
            rows,
            conv,
            concat,
            layers,
            whole,
            verdicts,
            ours_arena: report.arena_bytes(),
            ours_stack: report.stack_bytes(),
            cmsis_arena: tflm_arena(input, steps),
            cmsis_scratch: harness.runs.iter().map(|r| r.scratch_bytes).max().unwrap_or(0),
            harness,
        })
    }

    fn print(&self) {
        let cal = self.harness.calibration;
        println!(
            "\nCMSIS-NN side by side (QEMU mps2-an386 Cortex-M4, -icount shift=0, {} cases, QEMU run {:.1} s)",
            self.cases, self.harness.seconds
        );
        println!(
            "  CMSIS-NN: {} (arm-none-eabi-gcc -O3, DSP extension)",
            self.cmsis_dir.display()
        );
        println!(
            "  calibration {} instructions = {} ticks; CMSIS-NN instructions = SysTick ticks around its call(s)",
            cal.instructions, cal.ticks
        );
        println!("  firmware-core: profiled pass, ticks between ops (op 0 includes the input conversion);");
        println!("  ratio = firmware-core / CMSIS-NN instructions; CMSIS-NN's concat+1x1 = both inputs requantised");
        println!("  into a materialised concat tensor (TFLite's requantising concatenation; an input already at");
        println!("  the concat quantisation is copied) + arm_convolve_1x1_s8_fast, timed together.\n");
        print!("{}", table(&self.rows));
        println!(
            "\n  whole network: firmware-core {} instructions = one timed Model::run (input conversion, every op, heads);",
            self.whole.ours
        );
        println!(
            "                 CMSIS-NN {} instructions = the sum of its {} cases (no input conversion, no heads)",
            self.whole.cmsis, self.cases
        );
        println!(
            "  layers with a CMSIS-NN case: firmware-core {} vs CMSIS-NN {} instructions ({:.2})",
            self.layers.ours,
            self.layers.cmsis,
            self.layers.ratio()
        );
        println!(
            "  concat+1x1: TFLite-style output vs firmware-core's two-scale kernel: max |difference| {} LSB",
            self.verdicts.max_concat_diff
        );
        println!(
            "  peak RAM firmware-core: arena {} + stack high-water {} = {} B",
            self.ours_arena,
            self.ours_stack,
            self.ours_arena + self.ours_stack
        );
        println!(
            "  peak RAM CMSIS-NN (TFLite Micro-style estimate): arena {} (unfused graph with materialised concat \
             tensors, greedy by size) + largest scratch {} = {} B (+ this harness's stack {} B)",
            self.cmsis_arena,
            self.cmsis_scratch,
            self.cmsis_arena + self.cmsis_scratch,
            self.harness.stack_bytes
        );
    }

    fn json(&self) -> serde_json::Value {
        let layers: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "op": r.op,
                    "kind": r.kind,
                    "shape": r.shape,
                    "macs": r.macs,
                    "firmware_core_instructions": r.ours,
                    "cmsis_nn_instructions": r.cmsis,
                    "bit_exact": r.exact,
                })
            })
            .collect();
        let cal = self.harness.calibration;
        serde_json::json!({
            "machine": "qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -icount shift=0",
            "model": "builder::SmnShape::micro()",
            "seed": firmware::SEED,
            "cmsis_nn_dir": self.cmsis_dir.display().to_string(),
            "calibration": { "instructions": cal.instructions, "ticks": cal.ticks },
            "layers": layers,
            "ratios": {
                "conv": self.conv.ratio(),
                "concat_conv1x1": self.concat.ratio(),
                "whole_network": self.whole.ratio(),
                "layers_with_a_cmsis_nn_case": self.layers.ratio(),
            },
            "whole_network": {
                "firmware_core_instructions": self.whole.ours,
                "firmware_core_includes": "one timed Model::run: input conversion, every op, heads",
                "cmsis_nn_instructions": self.whole.cmsis,
                "cmsis_nn_includes": "the sum of its cases: convs, concat+1x1 (requantising concat + 1x1 conv), \
                                      max pools, fully connected layers",
            },
            "concat_max_abs_difference": self.verdicts.max_concat_diff,
            "peak_ram": {
                "firmware_core": {
                    "arena": self.ours_arena,
                    "stack": self.ours_stack,
                    "total": self.ours_arena + self.ours_stack,
                },
                "cmsis_nn": {
                    "arena_estimate": self.cmsis_arena,
                    "largest_scratch": self.cmsis_scratch,
                    "total": self.cmsis_arena + self.cmsis_scratch,
                    "harness_stack": self.harness.stack_bytes,
                },
            },
            "failures": self.verdicts.failures,
        })
    }
}

/// `cargo xtask cmsis-nn`: the firmware check, then [`compare`].
pub fn cmsis_nn(root: &Path) -> Result<(), String> {
    let report = firmware::firmware(root)?;
    compare(root, &report)
}

/// Runs every layer of the firmware's model with CMSIS-NN under QEMU and
/// prints it side by side with firmware-core's per-op instructions from
/// `report` (see the module documentation); fails if an output that must be
/// bit-exact is not.
pub fn compare(root: &Path, report: &Report) -> Result<(), String> {
    let cmsis = cmsis_nn_dir(root)?;
    let (blob, image) = firmware::micro_model()?;
    let model = Model::from_bytes(&blob).map_err(|e| format!("host: the model blob does not load: {e}"))?;
    let tensors = Tensors::capture(&model, &image)?;
    let ops = model
        .ops()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("host: decoding the ops failed: {e}"))?;
    let (cases, steps) = plan(&tensors, &ops)?;
    let harness = run_harness(root, &cmsis, &cases)?;
    let summary = Summary::new(&tensors, &ops, &cases, &steps, report, harness, cmsis)?;
    summary.print();
    let json_path = root.join("target").join("cmsis-nn-report.json");
    let text = serde_json::to_string_pretty(&summary.json()).map_err(|e| format!("cannot encode the report: {e}"))?;
    fs::write(&json_path, text + "\n").map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    println!("  report written to {}", json_path.display());
    println!("{}", ratio_line(summary.conv, summary.concat, summary.whole));
    if summary.verdicts.failures.is_empty() {
        Ok(())
    } else {
        Err(summary.verdicts.failures.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};

    fn word_at(bytes: &[u8], index: usize) -> i32 {
        i32::from_le_bytes(bytes[4 * index..4 * index + 4].try_into().unwrap())
    }

    fn tiny_cases() -> Vec<Case> {
        let blob = random_smn_blob(&SmnShape::tiny(), 7).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let image = synthetic_test_image(model.input_height(), model.input_width(), 7);
        let tensors = Tensors::capture(&model, &image).unwrap();
        let mut cases = Vec::new();
        for (i, op) in model.ops().enumerate() {
            cases.extend(op_cases(&tensors, i, &op.unwrap()).unwrap());
        }
        cases
    }

    #[test]
    fn every_tensor_op_of_the_model_becomes_one_case() {
        let blob = random_smn_blob(&SmnShape::tiny(), 7).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let cases = tiny_cases();
        let tensor_ops: Vec<(usize, &str)> = model
            .ops()
            .map(Result::unwrap)
            .enumerate()
            .filter(|(_, op)| op.output().is_some())
            .map(|(i, op)| (i, op.name()))
            .collect();
        assert_eq!(cases.len(), tensor_ops.len());
        for (case, (i, name)) in cases.iter().zip(&tensor_ops) {
            assert_eq!(case.op_index, *i);
            let expected = match *name {
                "Conv2d" => Kind::Conv,
                "ConcatConv1x1" => Kind::ConcatConv1x1,
                "MaxPool2d" => Kind::MaxPool,
                "FullyConnected" => Kind::FullyConnected,
                other => panic!("unexpected op {other}"),
            };
            assert_eq!(case.kind, expected);
            assert_eq!(case.data.len(), case.input.len());
        }
        // The first conv reads the converted image, with CMSIS-NN's sign convention.
        let first = &cases[0];
        assert_eq!(
            first.input_offset,
            -i32::from(model.tensor(0).unwrap().quant.zero_point)
        );
        assert_eq!(first.weights.len(), first.output.c * 9 * first.input.c);
    }

    #[test]
    fn concat_reference_is_within_one_lsb_of_the_fused_kernel() {
        // Both inputs ReLU outputs with zero point -128: the concat takes the
        // larger scale, so the TFLite path differs from the two-scale kernel
        // only by its extra roundings.
        for case in tiny_cases().iter().filter(|c| c.kind == Kind::ConcatConv1x1) {
            let Check::Reference { reference, ours } = &case.check else {
                panic!("a concat case is checked against the host reference");
            };
            assert_eq!(reference.len(), ours.len());
            let diff = reference
                .iter()
                .zip(ours)
                .map(|(&r, &o)| (i32::from(r) - i32::from(o)).abs())
                .max()
                .unwrap();
            assert!(diff <= 2, "op {}: max difference {diff}", case.op_index);
        }
    }

    #[test]
    fn concat_quantisation_covers_both_ranges() {
        let relu = |scale| Quant {
            scale,
            zero_point: -128,
        };
        let q = concat_quant(relu(0.02), relu(0.05));
        assert_eq!(q, relu(0.05));
        // A symmetric input widens the range below 0.
        let q = concat_quant(
            relu(0.02),
            Quant {
                scale: 0.01,
                zero_point: 0,
            },
        );
        let (lo, hi) = (0.01 * -128.0, 0.02 * 255.0);
        assert!((f64::from(q.scale) - (hi - lo) / 255.0).abs() < 1e-7);
        assert_eq!(q.zero_point, (-128.0 - lo / f64::from(q.scale)).round() as i8);
    }

    #[test]
    fn concat_parameters_rescale_bias_and_multipliers() {
        let (qa, qb) = (
            Quant {
                scale: 0.02,
                zero_point: -128,
            },
            Quant {
                scale: 0.05,
                zero_point: -128,
            },
        );
        let (s_w, s_out) = ([0.001f64, 0.004], 0.03f64);
        let (mut m_a, mut sh_a) = (Vec::new(), Vec::new());
        for s in s_w {
            let (m, sh) = multiplier(0.02f32 as f64 * s / s_out).unwrap();
            m_a.push(m);
            sh_a.push(sh);
        }
        let p = concat_params(qa, qb, &[1000, -333], &m_a, &sh_a).unwrap();
        assert_eq!(p.quant, qb);
        // b already has the concat quantisation: an identity (M = 2^30, shift 1).
        assert_eq!(
            p.b,
            ToConcat {
                zero_point: -128,
                multiplier: 1 << 30,
                shift: 1
            }
        );
        assert_eq!(p.a.zero_point, -128);
        let r_a = multiplier_value(p.a.multiplier, p.a.shift);
        assert!((r_a - f64::from(0.02f32) / f64::from(0.05f32)).abs() < 1e-9, "{r_a}");
        // s_concat · s_w[c] / s_out per channel, bias at s_concat · s_w[c].
        for (c, s) in s_w.iter().enumerate() {
            let r = multiplier_value(p.multipliers[c], p.shifts[c]);
            let want = 0.05f32 as f64 * s / s_out;
            assert!((r / want - 1.0).abs() < 1e-8, "channel {c}: {r} vs {want}");
        }
        assert_eq!(p.bias, vec![400, -133]);
        assert!(concat_params(qa, qb, &[1], &m_a, &sh_a).is_err());
    }

    #[test]
    fn identity_requantisation_keeps_every_value() {
        let id = ToConcat {
            zero_point: -128,
            multiplier: 1 << 30,
            shift: 1,
        };
        for q in i8::MIN..=i8::MAX {
            assert_eq!(requantise(q, id, -128), i32::from(q));
        }
        // Halving the scale: (q + 128) · 2 − 128, saturated.
        let (m, sh) = multiplier(2.0).unwrap();
        let double = ToConcat {
            zero_point: -128,
            multiplier: m,
            shift: sh,
        };
        assert_eq!(requantise(-100, double, -128), -72);
        assert_eq!(requantise(100, double, -128), 127);
    }

    #[test]
    fn case_file_layout_matches_bench_h() {
        let cases = tiny_cases();
        let bytes = encode(&cases).unwrap();
        assert_eq!(word_at(&bytes, 0) as u32, MAGIC);
        assert_eq!(word_at(&bytes, 1) as u32, VERSION);
        assert_eq!(word_at(&bytes, 2) as usize, cases.len());
        assert_eq!(word_at(&bytes, 3) as usize, CASE_WORDS);
        let records = word_at(&bytes, 4) as usize;
        assert_eq!(records, 4 * HEADER_WORDS);
        assert_eq!(
            word_at(&bytes, 5) as usize,
            cases.iter().map(|c| c.output.len()).max().unwrap()
        );
        for (i, case) in cases.iter().enumerate() {
            let w = |k: usize| word_at(&bytes, records / 4 + i * CASE_WORDS + k);
            assert_eq!(w(0), case.kind as i32);
            assert_eq!(w(1) as usize, case.op_index);
            assert_eq!(
                [w(2), w(3), w(4)],
                [case.input.h, case.input.w, case.input.c].map(|v| v as i32)
            );
            assert_eq!(
                [w(5), w(6), w(7)],
                [case.output.h, case.output.w, case.output.c].map(|v| v as i32)
            );
            assert_eq!(
                [w(14), w(15), w(16), w(17)],
                [
                    case.input_offset,
                    case.output_offset,
                    i32::from(case.clamp.min),
                    i32::from(case.clamp.max)
                ]
            );
            // Arrays: 8-byte aligned, holding exactly the case's values.
            let at = |offset: i32, len: usize| {
                let offset = offset as usize;
                assert_eq!(offset % ARRAY_ALIGN, 0);
                &bytes[offset..offset + len]
            };
            let input = at(w(18), case.data.len());
            assert!(input.iter().zip(&case.data).all(|(&b, &v)| b as i8 == v));
            if !case.multipliers.is_empty() {
                let m = at(w(21), 4 * case.multipliers.len());
                assert_eq!(i32::from_le_bytes(m[..4].try_into().unwrap()), case.multipliers[0]);
                let s = at(w(22), 4 * case.shifts.len());
                assert_eq!(i32::from_le_bytes(s[..4].try_into().unwrap()), case.shifts[0]);
            }
            if let Some(concat) = &case.concat {
                assert_eq!(w(23) as usize, concat.channels);
                let b = at(w(24), concat.data.len());
                assert!(b.iter().zip(&concat.data).all(|(&x, &v)| x as i8 == v));
                assert_eq!(
                    [w(25), w(26), w(27)],
                    [concat.a.zero_point, concat.a.multiplier, concat.a.shift]
                );
            }
        }
    }

    #[test]
    fn harness_lines_are_parsed_and_matched_to_cases() {
        let cases = tiny_cases();
        let mut output = String::from("cases 2\n");
        for (i, c) in cases.iter().enumerate() {
            output += &format!("case {i} {} {} {} 0000abcd 64\n", c.op_index, c.kind as i32, 100 + i);
        }
        let runs = parse_runs(&output, &cases).unwrap();
        assert_eq!(
            runs[1],
            CaseRun {
                ticks: 101,
                crc: 0xabcd,
                scratch_bytes: 64
            }
        );
        let missing: String = output.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(parse_runs(&missing, &cases).unwrap_err().contains("reported 1 of"));
        let wrong_op = output.replacen(&format!("case 0 {}", cases[0].op_index), "case 0 99", 1);
        assert!(parse_runs(&wrong_op, &cases)
            .unwrap_err()
            .contains("does not match case 0"));
        assert!(parse_runs("case 0 x\n", &cases).unwrap_err().contains("malformed"));
    }

    #[test]
    fn arena_estimate_reuses_dead_tensors() {
        let m = TensorKey::Model;
        let step = |reads: Vec<TensorKey>, out: u16, bytes: usize| Step {
            reads,
            writes: Some((m(out), bytes)),
        };
        // input(100) -> t1(200) -> t2(50) -> t3(200): t3 can take t1's place.
        let steps = [
            step(vec![m(0)], 1, 200),
            step(vec![m(1)], 2, 50),
            step(vec![m(2)], 3, 200),
        ];
        assert_eq!(tflm_arena((m(0), 100), &steps), 300);
        // Keeping the input alive to the end forbids reusing its bytes.
        let mut long = steps.to_vec();
        long.push(Step {
            reads: vec![m(0), m(3)],
            writes: None,
        });
        assert_eq!(tflm_arena((m(0), 100), &long), 100 + 200 + 50);
    }

    #[test]
    fn table_and_ratio_line_format() {
        let rows = [
            Row {
                op: "0".into(),
                kind: "Conv2d".into(),
                shape: "64x64x3 -> 64x64x16 k3s1".into(),
                macs: 1000,
                ours: Some(4000),
                cmsis: Some(5000),
                exact: "yes".into(),
            },
            Row {
                op: "38-39".into(),
                kind: "heads (f32)".into(),
                shape: "10 -> 5 landmarks".into(),
                macs: 0,
                ours: Some(300),
                cmsis: None,
                exact: "n.a.".into(),
            },
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("firmware-core") && lines[0].ends_with("bit-exact"));
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(cells[..4], ["0", "Conv2d", "64x64x3", "->"]);
        assert_eq!(
            cells[cells.len() - 6..],
            ["4000", "4.00", "5000", "5.00", "0.80", "yes"]
        );
        assert!(lines[2].contains("  -  ") && lines[2].ends_with("n.a."), "{}", lines[2]);
        let line = ratio_line(
            Pair { ours: 80, cmsis: 100 },
            Pair { ours: 3, cmsis: 2 },
            Pair { ours: 1, cmsis: 0 },
        );
        assert_eq!(
            line,
            "firmware-core/CMSIS-NN instructions: conv 0.80, concat+1x1 1.50, whole network 0.00"
        );
    }

    #[test]
    fn missing_cmsis_nn_sources_are_a_clear_error() {
        let err = locate_cmsis_nn(Path::new("/nonexistent/repo"), None).unwrap_err();
        assert!(
            err.contains("CMSIS-NN sources not found at /nonexistent/repo/../shared/peers/cmsis-nn"),
            "{err}"
        );
        assert!(err.contains(CMSIS_NN_ENV), "{err}");
        let err = locate_cmsis_nn(Path::new("/"), Some("/nonexistent/cmsis".into())).unwrap_err();
        assert!(err.contains("at /nonexistent/cmsis ($SMN_CMSIS_NN_DIR)"), "{err}");
    }
}
