//! The CMSIS-NN cases of each firmware-core op: identical int8 data, and
//! the TFLite-style arithmetic of a materialised concat + 1×1.

use smn_firmware_core::builder::quantize_multiplier;
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{
    Bytes, Clamp, ConcatConv1x1, Conv2d, FullyConnected, Op, Pool2d, Quant, TensorDesc, Window,
};
use smn_firmware_core::kernels::conv2d::{conv2d, Conv2dArgs};
use smn_firmware_core::kernels::input::convert_rgb;
use smn_firmware_core::kernels::params::ChannelParams;
use smn_firmware_core::kernels::requant::multiply_by_quantized_multiplier;
use smn_firmware_core::kernels::{OutputStage, Shape};
use smn_firmware_core::Model;

/// What a case runs (`enum bench_kind` in bench.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Dims {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c: usize,
}

impl Dims {
    pub(super) fn of(t: &TensorDesc) -> Dims {
        Dims {
            h: usize::from(t.height),
            w: usize::from(t.width),
            c: usize::from(t.channels),
        }
    }

    pub(super) fn len(&self) -> usize {
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
pub(super) enum TensorKey {
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
pub(super) struct Step {
    pub(super) reads: Vec<TensorKey>,
    pub(super) writes: Option<(TensorKey, usize)>,
}

/// Requantisation of one concat input to the concat tensor's quantisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ToConcat {
    pub(super) zero_point: i32,
    pub(super) multiplier: i32,
    pub(super) shift: i32,
}

/// TFLite-style parameters of a concat + 1×1 conv (see [`concat_params`]).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ConcatParams {
    /// Quantisation of the concat tensor.
    pub(super) quant: Quant,
    pub(super) a: ToConcat,
    pub(super) b: ToConcat,
    /// The 1×1 conv's bias at scale `s_concat · s_w[c]`.
    pub(super) bias: Vec<i32>,
    /// Its multipliers and shifts for `s_concat · s_w[c] / s_out`.
    pub(super) multipliers: Vec<i32>,
    pub(super) shifts: Vec<i32>,
}

/// The second input of a concat case.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ConcatInput {
    pub(super) data: Vec<i8>,
    pub(super) channels: usize,
    pub(super) a: ToConcat,
    pub(super) b: ToConcat,
}

/// How a case's output is checked.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Check {
    /// Same arithmetic as firmware-core: must equal its output bit for bit.
    BitExact(Vec<i8>),
    /// Different arithmetic: must equal `reference` (TFLite-style, recomputed
    /// on the host); `ours` is firmware-core's output, for the distance.
    Reference { reference: Vec<i8>, ours: Vec<i8> },
}

/// One CMSIS-NN kernel call (for a concat: the requantising concat and the 1×1 conv).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Case {
    pub(super) kind: Kind,
    pub(super) op_index: usize,
    /// Input (input `a` of a concat).
    pub(super) input: Dims,
    pub(super) output: Dims,
    /// Kernel, stride, padding (1×1 for a concat or fully connected case).
    pub(super) window: Window,
    /// `−zero point` of the (concat) input.
    pub(super) input_offset: i32,
    /// Zero point of the output.
    pub(super) output_offset: i32,
    pub(super) clamp: Clamp,
    pub(super) data: Vec<i8>,
    pub(super) weights: Vec<i8>,
    pub(super) bias: Vec<i32>,
    pub(super) multipliers: Vec<i32>,
    pub(super) shifts: Vec<i32>,
    pub(super) concat: Option<ConcatInput>,
    /// The graph ops this case stands for.
    pub(super) steps: Vec<Step>,
    pub(super) check: Check,
}

// ---------------------------------------------------------------------------
// Ops → cases.

/// The tensors of one host run of the model, by id.
pub(super) struct Tensors<'m> {
    pub(super) model: &'m Model<'m>,
    pub(super) data: Vec<Option<Vec<i8>>>,
}

impl Tensors<'_> {
    /// Runs the model on `image` and keeps the input tensor and every tensor an op writes.
    pub(super) fn capture<'m>(model: &'m Model<'m>, image: &[u8]) -> Result<Tensors<'m>, String> {
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

    pub(super) fn info(&self, id: u16) -> Result<&TensorDesc, String> {
        self.model
            .tensor(usize::from(id))
            .ok_or_else(|| format!("tensor {id} is not in the model"))
    }

    pub(super) fn dims(&self, id: u16) -> Result<Dims, String> {
        self.info(id).map(Dims::of)
    }

    pub(super) fn zero_point(&self, id: u16) -> Result<i32, String> {
        self.info(id).map(|t| i32::from(t.quant.zero_point))
    }

    pub(super) fn values(&self, id: u16) -> Result<Vec<i8>, String> {
        self.data
            .get(usize::from(id))
            .cloned()
            .flatten()
            .ok_or_else(|| format!("tensor {id} was not written by the host run"))
    }

    /// A step reading `reads` and writing model tensor `output`.
    pub(super) fn step(&self, reads: &[u16], output: u16) -> Result<Step, String> {
        Ok(Step {
            reads: reads.iter().map(|&id| TensorKey::Model(id)).collect(),
            writes: Some((TensorKey::Model(output), self.dims(output)?.len())),
        })
    }
}

/// CRC-32 of int8 data, as the harness computes it.
pub(super) fn crc_of(values: &[i8]) -> u32 {
    crc32(&values.iter().map(|&v| v as u8).collect::<Vec<_>>())
}

pub(super) fn i8s(bytes: Bytes<'_>) -> Vec<i8> {
    bytes.0.iter().map(|&b| b as i8).collect()
}

pub(super) fn i32s(bytes: Bytes<'_>) -> Vec<i32> {
    bytes
        .0
        .chunks_exact(4)
        .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

pub(super) fn shifts(bytes: Bytes<'_>) -> Vec<i32> {
    bytes.0.iter().map(|&b| i32::from(b as i8)).collect()
}

pub(super) const NO_CLAMP: Clamp = Clamp { min: -128, max: 127 };

/// The CMSIS-NN cases of op `op_index`: the one place that maps firmware-core
/// ops to CMSIS-NN kernels. Ops without a CMSIS-NN counterpart here (average
/// pools, not in the `micro` model; the float heads) get none.
///
/// A conv with a fused max pool maps to two cases: a conv case writing the
/// full-resolution tensor ([`TensorKey::ConvOutput`], checked against
/// firmware-core's unfused conv on the host), then a max-pool case reading
/// it, checked against the fused op's output.
pub(super) fn op_cases(t: &Tensors<'_>, op_index: usize, op: &Op<'_>) -> Result<Vec<Case>, String> {
    Ok(match op {
        Op::Conv2d(c) => vec![conv_case(t, op_index, c)?],
        Op::Conv2dMaxPool(c) => conv_max_pool_cases(t, op_index, c)?,
        Op::ConcatConv1x1(c) => vec![concat_case(t, op_index, c)?],
        Op::MaxPool2d(p) => vec![max_pool_case(t, op_index, p)?],
        Op::FullyConnected(f) => vec![fully_connected_case(t, op_index, f)?],
        Op::AvgPool2d(_) | Op::GlobalAvgPool(_) | Op::LandmarkHead(_) | Op::AttributeHead(_) => Vec::new(),
    })
}

pub(super) fn conv_case(t: &Tensors<'_>, op_index: usize, c: &Conv2d<'_>) -> Result<Case, String> {
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
pub(super) fn full_resolution_conv(t: &Tensors<'_>, c: &Conv2d<'_>) -> Result<(Dims, Vec<i8>), String> {
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

pub(super) fn conv_max_pool_cases(t: &Tensors<'_>, op_index: usize, c: &Conv2d<'_>) -> Result<Vec<Case>, String> {
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

pub(super) fn max_pool_case(t: &Tensors<'_>, op_index: usize, p: &Pool2d) -> Result<Case, String> {
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

pub(super) fn fully_connected_case(t: &Tensors<'_>, op_index: usize, f: &FullyConnected<'_>) -> Result<Case, String> {
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

pub(super) fn concat_case(t: &Tensors<'_>, op_index: usize, c: &ConcatConv1x1<'_>) -> Result<Case, String> {
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
    let weights = if c.requant_b.shifts.0.is_empty() {
        // A one-scale blob (spec §5.1) holds the `b` weights per unit of
        // `a`'s scale; TFLite keeps them per unit of their own.
        tflite_weights(&i8s(c.weights), (da.c, db.c), f64::from(qa.scale) / f64::from(qb.scale))
    } else {
        i8s(c.weights)
    };
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
pub(super) fn real_range(q: Quant) -> (f64, f64) {
    let (s, zp) = (f64::from(q.scale), f64::from(q.zero_point));
    (s * (-128.0 - zp), s * (127.0 - zp))
}

/// TFLite-style quantisation of a concat of `a` and `b`: the union of their
/// real ranges, widened to include 0, `scale = (max − min) / 255` (as `f32`),
/// `zero_point = round(−128 − min / scale)` clamped to int8
/// (`docs/int8-spec.md` §9).
pub(super) fn concat_quant(a: Quant, b: Quant) -> Quant {
    let ((a_lo, a_hi), (b_lo, b_hi)) = (real_range(a), real_range(b));
    let lo = a_lo.min(b_lo).min(0.0);
    let hi = a_hi.max(b_hi).max(0.0);
    let scale = ((hi - lo) / 255.0) as f32;
    let zero_point = (-128.0 - lo / f64::from(scale)).round().clamp(-128.0, 127.0) as i8;
    Quant { scale, zero_point }
}

/// `(M, shift)` of `real` (`docs/int8-spec.md` §3) as the i32 pair CMSIS-NN takes.
pub(super) fn multiplier(real: f64) -> Result<(i32, i32), String> {
    quantize_multiplier(real)
        .map(|(m, s)| (m, i32::from(s)))
        .map_err(|e| format!("multiplier {real}: {e}"))
}

/// The real value of a Q31 multiplier and shift: `M · 2^shift / 2^31`.
pub(super) fn multiplier_value(m: i32, shift: i32) -> f64 {
    f64::from(m) * 2f64.powi(shift - 31)
}

/// Parameters of the TFLite-style concat + 1×1 conv equivalent to a fused
/// `ConcatConv1x1` with inputs quantised `qa`, `qb`, bias `bias_a` (at scale
/// `s_a · s_w[c]`) and the `a` multipliers `m_a`/`sh_a` (`s_a · s_w[c] / s_out`):
/// the concat quantisation ([`concat_quant`]), the requantisation of each
/// input to it, and the 1×1 conv's per-channel multipliers for
/// `s_concat · s_w[c] / s_out = (M_a[c] · 2^sh_a[c] / 2^31) · s_concat / s_a`
/// and bias `round(bias_a[c] · s_a / s_concat)`.
pub(super) fn concat_params(
    qa: Quant,
    qb: Quant,
    bias_a: &[i32],
    m_a: &[i32],
    sh_a: &[i32],
) -> Result<ConcatParams, String> {
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

/// One-scale concat weights (rows of `c_a` `a` values, then `c_b` `b`
/// values in units of `s_a · s_w / s_b`) back in the weight scale of the
/// whole row, as a TFLite model holds them: the `b` values times
/// `b_factor = s_a / s_b`, rounded, clamped to ±127.
pub(super) fn tflite_weights(weights: &[i8], (c_a, c_b): (usize, usize), b_factor: f64) -> Vec<i8> {
    let row = (c_a + c_b).max(1);
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if i % row < c_a {
                w
            } else {
                (f64::from(w) * b_factor).round().clamp(-127.0, 127.0) as i8
            }
        })
        .collect()
}

/// TFLite's int8 → int8 requantisation of one value to the concat tensor.
pub(super) fn requantise(q: i8, to: ToConcat, zp_concat: i32) -> i32 {
    (multiply_by_quantized_multiplier(i32::from(q) - to.zero_point, to.multiplier, to.shift) + zp_concat)
        .clamp(-128, 127)
}

/// What TFLite (Micro) computes for concat + 1×1 conv with `params`: the
/// requantised, materialised concat, then the 1×1 conv (`i64` accumulator,
/// TFLite's `MultiplyByQuantizedMultiplier`). `a` and `b` are NHWC with
/// `c_a` and `c_b` channels and the same pixels; weights are `out × (c_a + c_b)`.
#[allow(clippy::too_many_arguments)]
pub(super) fn tflite_concat_conv1x1(
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
