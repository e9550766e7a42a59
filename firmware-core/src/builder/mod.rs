//! Host-side blob builder (feature `builder`): quantize emits every blob
//! through [`GraphBuilder`], and tests build random SMN models with
//! [`random_smn_blob`].
//!
//! The builder takes int8 weights with their per-channel float scales and
//! int32 biases, derives every Q31 multiplier and shift
//! ([`quantize_multiplier`]), plans the arena ([`plan_arena`]), encodes the
//! postcard payload with its preamble and CRC, and finally checks the result
//! with [`crate::Model::from_bytes`].
mod error;
mod planner;
mod quant;
mod smn;

pub use error::BuildError;
pub use planner::{plan_arena, ArenaPlan, Lifetime};
pub use quant::{activation_clamp, input_lut, quantize_multiplier, Activation};
pub use smn::{random_smn_blob, synthetic_test_image, SmnShape};

pub use crate::rng::Rng;

use crate::crc32::crc32;
use crate::format::{
    AttributeHead, Bytes, ConcatConv1x1, Conv2d, FullyConnected, GlobalAvgPool, Header, LandmarkHead, Op, Pool2d,
    Preamble, Quant, Requant, TensorDesc, Window, FORMAT_VERSION, INPUT_CHANNELS,
};
use alloc::vec::Vec;

/// Id of a tensor in a graph under construction (0 is the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u16);

/// The model input: image size, float normalisation and int8 quantisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputSpec {
    /// Image height in pixels.
    pub height: u16,
    /// Image width in pixels.
    pub width: u16,
    /// Float model input = `(pixel − mean[c]) / std[c]`.
    pub mean: [f32; 3],
    /// See `mean`.
    pub std: [f32; 3],
    /// Quantisation of the normalised input.
    pub quant: Quant,
}

/// Int8 weights of a layer with one float scale per output channel, and its bias.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// Output channels (rows of `values`).
    pub out_channels: u16,
    /// Symmetric int8 values in `[-127, 127]`, OHWI (or `out × in` for fully connected).
    pub values: Vec<i8>,
    /// `real = scale[c] · value`, one per output channel.
    pub scales: Vec<f32>,
    /// Int32 bias per output channel at scale `s_in · scale[c]` (`s_a · scale[c]` for concat).
    pub bias: Vec<i32>,
}

impl Weights {
    /// Two-scale concat weights (rows of `c_a` `a` values then the `b`
    /// values, one scale per row) re-expressed in one scale for
    /// [`GraphBuilder::concat_conv1x1_one_scale`], `rho = s_b / s_a`: the
    /// `b` values times `rho` when `rho ≤ 1`; when `rho > 1` the rows' scales
    /// grow by `rho` instead (the `b` values keep their range) and the `a`
    /// values and the biases shrink by it.
    pub fn to_one_scale(&self, c_a: usize, rho: f64) -> Weights {
        let k = self.values.len() / usize::from(self.out_channels).max(1);
        let mut out = Weights {
            out_channels: self.out_channels,
            values: Vec::with_capacity(self.values.len()),
            scales: Vec::with_capacity(self.scales.len()),
            bias: Vec::with_capacity(self.bias.len()),
        };
        let round = |v: f64| v.round().clamp(-127.0, 127.0) as i8;
        for ((row, &s_w), &bias) in self.values.chunks(k.max(1)).zip(&self.scales).zip(&self.bias) {
            let (a, b) = row.split_at(c_a.min(row.len()));
            let grow = rho.max(1.0);
            out.values.extend(a.iter().map(|&v| round(f64::from(v) / grow)));
            out.values.extend(b.iter().map(|&v| round(f64::from(v) * rho / grow)));
            out.scales.push((f64::from(s_w) * grow) as f32);
            out.bias.push((f64::from(bias) / grow).round() as i32);
        }
        out
    }
}

/// Output tensor quantisation and fused activation of a MAC layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutputSpec {
    /// Quantisation of the output tensor.
    pub quant: Quant,
    /// Fused activation (becomes the output clamp).
    pub activation: Activation,
}

/// Builds a model blob op by op.
#[derive(Clone, Debug)]
pub struct GraphBuilder {
    input: InputSpec,
    tensors: Vec<TensorDesc>,
    /// Postcard encoding of each op (ops carry tensor ids, not offsets).
    ops: Vec<Vec<u8>>,
    /// (inputs, output) of each op, for the arena plan.
    uses: Vec<(Vec<u16>, Option<u16>)>,
    /// Plan `ConcatConv1x1` outputs in place over their `a` input where that
    /// input ends there ([`GraphBuilder::in_place_concat`]).
    in_place: bool,
    /// (output, `a` input) of every `ConcatConv1x1` with no more output
    /// channels than `a`: the candidates for in-place storage.
    concat_over: Vec<(u16, u16)>,
}

fn le_words(values: impl IntoIterator<Item = i32>) -> Vec<u8> {
    values.into_iter().flat_map(i32::to_le_bytes).collect()
}

/// Owned bytes of a [`Requant`] (empty: the one-scale concat's `b` side).
#[derive(Default)]
struct RequantBytes {
    multipliers: Vec<u8>,
    shifts: Vec<u8>,
}

impl RequantBytes {
    /// Multipliers for `s_in · s_w[c] / s_out` per channel `c`.
    fn new(s_in: f32, weight_scales: &[f32], s_out: f32) -> Result<Self, BuildError> {
        let mut multipliers = Vec::with_capacity(4 * weight_scales.len());
        let mut shifts = Vec::with_capacity(weight_scales.len());
        for &s_w in weight_scales {
            let (m, s) = quantize_multiplier(f64::from(s_in) * f64::from(s_w) / f64::from(s_out))?;
            multipliers.extend_from_slice(&m.to_le_bytes());
            shifts.push(s as u8);
        }
        Ok(RequantBytes { multipliers, shifts })
    }

    fn view(&self) -> Requant<'_> {
        Requant {
            multipliers: Bytes(&self.multipliers),
            shifts: Bytes(&self.shifts),
        }
    }
}

impl GraphBuilder {
    /// A graph whose tensor 0 is the `height × width × 3` input.
    pub fn new(input: InputSpec) -> Self {
        let desc = TensorDesc {
            height: input.height,
            width: input.width,
            channels: INPUT_CHANNELS as u16,
            quant: input.quant,
            offset: 0,
        };
        GraphBuilder {
            input,
            tensors: alloc::vec![desc],
            ops: Vec::new(),
            uses: Vec::new(),
            in_place: false,
            concat_over: Vec::new(),
        }
    }

    /// Store each `ConcatConv1x1` output in place over its own-branch input
    /// `a` when `a` is read by no later op and the output has no more
    /// channels (the kernel reads a pixel pair before writing it). Off by
    /// default; it only changes the arena plan, never the results.
    pub fn in_place_concat(mut self, on: bool) -> Self {
        self.in_place = on;
        self
    }

    /// The input tensor.
    pub fn input(&self) -> TensorId {
        TensorId(0)
    }

    /// Shape and quantisation of `id`.
    pub fn tensor(&self, id: TensorId) -> Result<&TensorDesc, BuildError> {
        self.tensors
            .get(usize::from(id.0))
            .ok_or(BuildError::UnknownTensor(id.0))
    }

    fn add_tensor(&mut self, height: u64, width: u64, channels: u64, quant: Quant) -> Result<TensorId, BuildError> {
        let dim = |v: u64| u16::try_from(v).ok().filter(|&v| v > 0);
        let (Some(height), Some(width), Some(channels)) = (dim(height), dim(width), dim(channels)) else {
            return Err(BuildError::Shape("tensor dimensions must be in 1..=65535".into()));
        };
        let id = u16::try_from(self.tensors.len()).map_err(|_| BuildError::TooManyTensors)?;
        self.tensors.push(TensorDesc {
            height,
            width,
            channels,
            quant,
            offset: 0,
        });
        Ok(TensorId(id))
    }

    fn push_op(&mut self, op: &Op<'_>) -> Result<(), BuildError> {
        let bytes = postcard::to_allocvec(op).map_err(|e| BuildError::Encode(alloc::format!("{e}")))?;
        let (a, b) = op.inputs();
        self.uses.push((core::iter::once(a).chain(b).collect(), op.output()));
        self.ops.push(bytes);
        Ok(())
    }

    fn window_output(&self, input: TensorId, w: &Window) -> Result<(u64, u64), BuildError> {
        let t = self.tensor(input)?;
        let axis = |len: u16, k: u8, s: u8, p0: u8, p1: u8| {
            if k == 0 || s == 0 || p0 >= k || p1 >= k {
                return None;
            }
            (u64::from(len) + u64::from(p0) + u64::from(p1))
                .checked_sub(u64::from(k))
                .map(|span| span / u64::from(s) + 1)
        };
        match (
            axis(t.height, w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom),
            axis(t.width, w.kernel_w, w.stride_w, w.pad_left, w.pad_right),
        ) {
            (Some(h), Some(wd)) => Ok((h, wd)),
            _ => Err(BuildError::Shape(alloc::format!(
                "window {w:?} does not fit tensor {}",
                input.0
            ))),
        }
    }

    fn check_weights(w: &Weights, per_channel: usize) -> Result<(), BuildError> {
        let oc = usize::from(w.out_channels);
        if w.values.len() != oc * per_channel || w.scales.len() != oc || w.bias.len() != oc {
            return Err(BuildError::Shape(alloc::format!(
                "weights: expected {oc} × {per_channel} values, {oc} scales and {oc} biases; got {}, {}, {}",
                w.values.len(),
                w.scales.len(),
                w.bias.len()
            )));
        }
        if w.values.contains(&i8::MIN) {
            return Err(BuildError::Shape("weights must be in [-127, 127]".into()));
        }
        if w.scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(BuildError::Shape("weight scales must be finite and positive".into()));
        }
        Ok(())
    }

    /// 2-D convolution (weights OHWI: `out × kh × kw × in_c`).
    pub fn conv2d(
        &mut self,
        input: TensorId,
        window: Window,
        weights: &Weights,
        out: OutputSpec,
    ) -> Result<TensorId, BuildError> {
        self.conv(input, window, weights, out, false)
    }

    /// 2-D convolution followed by a 2×2 / stride 2 max pool, as one op
    /// ([`Op::Conv2dMaxPool`]): the output is the pooled tensor (with the
    /// conv's quantisation, as a separate pool would keep it) and the
    /// full-resolution one is never stored.
    pub fn conv2d_max_pool(
        &mut self,
        input: TensorId,
        window: Window,
        weights: &Weights,
        out: OutputSpec,
    ) -> Result<TensorId, BuildError> {
        self.conv(input, window, weights, out, true)
    }

    fn conv(
        &mut self,
        input: TensorId,
        window: Window,
        weights: &Weights,
        out: OutputSpec,
        pool_2x2: bool,
    ) -> Result<TensorId, BuildError> {
        let t_in = *self.tensor(input)?;
        Self::check_weights(
            weights,
            usize::from(window.kernel_h) * usize::from(window.kernel_w) * usize::from(t_in.channels),
        )?;
        let (h, w) = self.window_output(input, &window)?;
        let (h, w) = if pool_2x2 {
            if h < 2 || w < 2 {
                return Err(BuildError::Shape(alloc::format!(
                    "a 2×2 max pool needs a conv output of at least 2×2, got {h}×{w}"
                )));
            }
            (h / 2, w / 2)
        } else {
            (h, w)
        };
        let requant = RequantBytes::new(t_in.quant.scale, &weights.scales, out.quant.scale)?;
        let output = self.add_tensor(h, w, u64::from(weights.out_channels), out.quant)?;
        let bias = le_words(weights.bias.iter().copied());
        let conv = Conv2d {
            input: input.0,
            output: output.0,
            window,
            weights: Bytes(bytemuck::cast_slice(&weights.values)),
            bias: Bytes(&bias),
            requant: requant.view(),
            clamp: activation_clamp(out.activation, out.quant),
        };
        self.push_op(&if pool_2x2 {
            Op::Conv2dMaxPool(conv)
        } else {
            Op::Conv2d(conv)
        })?;
        Ok(output)
    }

    /// Fused `concat(a, b)` + 1×1 convolution (weights `out × (c_a + c_b)`,
    /// `a` first), two scales (`docs/int8-spec.md` §5): `a` and `b` each
    /// requantised with their own multipliers.
    pub fn concat_conv1x1(
        &mut self,
        a: TensorId,
        b: TensorId,
        weights: &Weights,
        out: OutputSpec,
    ) -> Result<TensorId, BuildError> {
        self.concat(a, b, weights, out, false)
    }

    /// Fused `concat(a, b)` + 1×1 convolution in one scale (§5.1, format
    /// version 3): `weights.scales` are the `a` side's, and the `b` weights
    /// must already be in units of `s_a · scales[c] / s_b` (real `b` weights
    /// times `s_b / s_a`, then quantised with the row's scale), so both
    /// inputs add into one accumulator.
    pub fn concat_conv1x1_one_scale(
        &mut self,
        a: TensorId,
        b: TensorId,
        weights: &Weights,
        out: OutputSpec,
    ) -> Result<TensorId, BuildError> {
        self.concat(a, b, weights, out, true)
    }

    fn concat(
        &mut self,
        a: TensorId,
        b: TensorId,
        weights: &Weights,
        out: OutputSpec,
        one_scale: bool,
    ) -> Result<TensorId, BuildError> {
        let (ta, tb) = (*self.tensor(a)?, *self.tensor(b)?);
        if (ta.height, ta.width) != (tb.height, tb.width) {
            return Err(BuildError::Shape(alloc::format!(
                "concat of tensors {} and {}: different height/width",
                a.0,
                b.0
            )));
        }
        Self::check_weights(weights, usize::from(ta.channels) + usize::from(tb.channels))?;
        let requant_a = RequantBytes::new(ta.quant.scale, &weights.scales, out.quant.scale)?;
        let requant_b = if one_scale {
            RequantBytes::default()
        } else {
            RequantBytes::new(tb.quant.scale, &weights.scales, out.quant.scale)?
        };
        let output = self.add_tensor(
            u64::from(ta.height),
            u64::from(ta.width),
            u64::from(weights.out_channels),
            out.quant,
        )?;
        if weights.out_channels <= ta.channels && a != b {
            self.concat_over.push((output.0, a.0));
        }
        let bias = le_words(weights.bias.iter().copied());
        let op = Op::ConcatConv1x1(ConcatConv1x1 {
            input_a: a.0,
            input_b: b.0,
            output: output.0,
            weights: Bytes(bytemuck::cast_slice(&weights.values)),
            bias: Bytes(&bias),
            requant_a: requant_a.view(),
            requant_b: requant_b.view(),
            clamp: activation_clamp(out.activation, out.quant),
        });
        self.push_op(&op)?;
        Ok(output)
    }

    fn pool(&mut self, input: TensorId, window: Window, max: bool) -> Result<TensorId, BuildError> {
        let t = *self.tensor(input)?;
        let (h, w) = self.window_output(input, &window)?;
        let output = self.add_tensor(h, w, u64::from(t.channels), t.quant)?;
        let pool = Pool2d {
            input: input.0,
            output: output.0,
            window,
        };
        self.push_op(&if max { Op::MaxPool2d(pool) } else { Op::AvgPool2d(pool) })?;
        Ok(output)
    }

    /// Max pooling (keeps the input's quantisation).
    pub fn max_pool(&mut self, input: TensorId, window: Window) -> Result<TensorId, BuildError> {
        self.pool(input, window, true)
    }

    /// Average pooling (keeps the input's quantisation).
    pub fn avg_pool(&mut self, input: TensorId, window: Window) -> Result<TensorId, BuildError> {
        self.pool(input, window, false)
    }

    /// Global average pooling to `1 × 1 × C`.
    pub fn global_avg_pool(&mut self, input: TensorId) -> Result<TensorId, BuildError> {
        let t = *self.tensor(input)?;
        let output = self.add_tensor(1, 1, u64::from(t.channels), t.quant)?;
        self.push_op(&Op::GlobalAvgPool(GlobalAvgPool {
            input: input.0,
            output: output.0,
        }))?;
        Ok(output)
    }

    /// Fully connected layer over the flattened input (weights `out × in_len`).
    pub fn fully_connected(
        &mut self,
        input: TensorId,
        weights: &Weights,
        out: OutputSpec,
    ) -> Result<TensorId, BuildError> {
        let t = *self.tensor(input)?;
        let n_in = usize::from(t.height) * usize::from(t.width) * usize::from(t.channels);
        Self::check_weights(weights, n_in)?;
        let requant = RequantBytes::new(t.quant.scale, &weights.scales, out.quant.scale)?;
        let output = self.add_tensor(1, 1, u64::from(weights.out_channels), out.quant)?;
        let bias = le_words(weights.bias.iter().copied());
        let op = Op::FullyConnected(FullyConnected {
            input: input.0,
            output: output.0,
            weights: Bytes(bytemuck::cast_slice(&weights.values)),
            bias: Bytes(&bias),
            requant: requant.view(),
            clamp: activation_clamp(out.activation, out.quant),
        });
        self.push_op(&op)?;
        Ok(output)
    }

    /// The landmark head on a `2 ·` [`crate::LANDMARK_COUNT`]-value tensor; `head.input` is ignored (set from `input`).
    pub fn landmark_head(&mut self, input: TensorId, head: LandmarkHead) -> Result<(), BuildError> {
        self.tensor(input)?;
        self.push_op(&Op::LandmarkHead(LandmarkHead { input: input.0, ..head }))
    }

    /// The attribute head on a [`crate::ATTRIBUTE_COUNT`]-value tensor.
    pub fn attribute_head(&mut self, input: TensorId) -> Result<(), BuildError> {
        self.tensor(input)?;
        self.push_op(&Op::AttributeHead(AttributeHead { input: input.0 }))
    }

    /// Lifetimes of all tensors (input written at time 0, op `i` at `i + 1`).
    pub fn lifetimes(&self) -> Vec<Lifetime> {
        let mut life: Vec<Lifetime> = self.tensors.iter().map(|_| Lifetime { first: 0, last: 0 }).collect();
        for (i, (inputs, output)) in self.uses.iter().enumerate() {
            let time = i as u32 + 1;
            if let Some(l) = output.and_then(|o| life.get_mut(usize::from(o))) {
                *l = Lifetime {
                    first: time,
                    last: time,
                };
            }
            for &input in inputs {
                if let Some(l) = life.get_mut(usize::from(input)) {
                    l.last = l.last.max(time);
                }
            }
        }
        life
    }

    /// Byte size of each tensor.
    pub fn tensor_sizes(&self) -> Vec<usize> {
        self.tensors
            .iter()
            .map(|t| usize::from(t.height) * usize::from(t.width) * usize::from(t.channels))
            .collect()
    }

    /// The arena plan of the graph so far: greedy by size over the tensor
    /// lifetimes, with each in-place `ConcatConv1x1` output sharing its `a`
    /// input's slot (one item spanning both lifetimes).
    pub fn plan(&self) -> ArenaPlan {
        let (mut sizes, mut life) = (self.tensor_sizes(), self.lifetimes());
        let mut shares: Vec<(usize, usize)> = Vec::new();
        if self.in_place {
            for &(out, a) in &self.concat_over {
                let (o, a) = (usize::from(out), usize::from(a));
                let (Some(&lo), Some(&la)) = (life.get(o), life.get(a)) else {
                    continue;
                };
                // `a` ends at the concat (time of the output's write), and is
                // not itself stored in another tensor's slot.
                if la.last == lo.first && !shares.iter().any(|&(x, _)| x == a) {
                    shares.push((o, a));
                }
            }
            // Resolve in write order so that a chain folds into its first slot.
            for &(o, a) in &shares {
                let (so, lo) = (sizes.get(o).copied().unwrap_or(0), life.get(o).copied());
                if let (Some(sa), Some(la), Some(lo)) = (sizes.get_mut(a), life.get_mut(a), lo) {
                    *sa = (*sa).max(so);
                    la.last = la.last.max(lo.last);
                }
                if let Some(s) = sizes.get_mut(o) {
                    *s = 0;
                }
            }
        }
        let mut plan = plan_arena(&sizes, &life);
        plan.naive = self.tensor_sizes().iter().sum();
        for &(o, a) in &shares {
            if let Some(&offset) = plan.offsets.get(a) {
                if let Some(slot) = plan.offsets.get_mut(o) {
                    *slot = offset;
                }
            }
        }
        plan
    }

    /// Plans the arena, encodes the blob and validates it with [`crate::Model::from_bytes`].
    pub fn finish(mut self) -> Result<Vec<u8>, BuildError> {
        let plan = self.plan();
        for (t, &offset) in self.tensors.iter_mut().zip(&plan.offsets) {
            t.offset = u32::try_from(offset).map_err(|_| BuildError::TooLarge)?;
        }
        let lut = input_lut(self.input.mean, self.input.std, self.input.quant);
        let header = Header {
            input: self.tensors.first().copied().ok_or(BuildError::UnknownTensor(0))?,
            input_lut: Bytes(&lut),
            arena_bytes: u32::try_from(plan.total).map_err(|_| BuildError::TooLarge)?,
            tensor_count: u16::try_from(self.tensors.len() - 1).map_err(|_| BuildError::TooManyTensors)?,
            op_count: u16::try_from(self.ops.len()).map_err(|_| BuildError::TooManyOps)?,
        };
        let encode = |e: postcard::Error| BuildError::Encode(alloc::format!("{e}"));
        let mut payload = postcard::to_allocvec(&header).map_err(encode)?;
        for t in self.tensors.iter().skip(1) {
            payload.extend(postcard::to_allocvec(t).map_err(encode)?);
        }
        for op in &self.ops {
            payload.extend_from_slice(op);
        }
        let preamble = Preamble {
            version: FORMAT_VERSION,
            payload_len: u32::try_from(payload.len()).map_err(|_| BuildError::TooLarge)?,
            crc32: crc32(&payload),
        };
        let mut blob = preamble.to_bytes().to_vec();
        blob.extend_from_slice(&payload);
        crate::Model::from_bytes(&blob).map_err(BuildError::Invalid)?;
        Ok(blob)
    }
}
