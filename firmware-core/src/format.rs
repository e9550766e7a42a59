//! The model blob format (version [`FORMAT_VERSION`]).
//!
//! ```text
//! offset  size  field
//! 0       4     magic  b"SMNq"
//! 4       2     format version, u16 little-endian
//! 6       2     reserved, must be 0
//! 8       4     payload length in bytes, u32 LE
//! 12      4     CRC-32 (IEEE 802.3, see [`crate::crc32`]) of the payload, u32 LE
//! 16      ..    payload: postcard encodings, one after the other, of
//!               Header, `Header::tensor_count` × TensorDesc, `Header::op_count` × Op
//! ```
//!
//! Tensor 0 is the model input (described by [`Header::input`]); table entry
//! `i` describes tensor `i + 1`. Every tensor is int8, NHWC, stored at
//! `offset` in the arena. Every op writes one new tensor (tensors are written
//! exactly once) except the two heads, which write [`crate::Outputs`].
//! Multi-byte arrays inside ops (`i32` biases and multipliers) are
//! little-endian byte strings ([`Bytes`]) read in place from the blob.
use serde::{Deserialize, Serialize};

/// First four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"SMNq";
/// The format version this crate writes (and the newest it reads).
///
/// Version 2 added [`Op::Conv2dMaxPool`]; version 3 added the one-scale
/// [`ConcatConv1x1`] (an empty [`ConcatConv1x1::requant_b`]). Everything
/// else is as in version 1, so older blobs are read unchanged
/// ([`MIN_FORMAT_VERSION`]).
pub const FORMAT_VERSION: u16 = 3;
/// The oldest format version this crate reads.
pub const MIN_FORMAT_VERSION: u16 = 1;
/// Size of the fixed preamble before the postcard payload.
pub const PREAMBLE_LEN: usize = 16;
/// Most tensors a model may declare (the input included).
pub const MAX_TENSORS: usize = 128;
/// Most ops a model may declare.
pub const MAX_OPS: usize = 512;
/// Input channels: the model input is always an RGB image.
pub const INPUT_CHANNELS: usize = 3;
/// Length of [`Header::input_lut`]: one 256-entry table per RGB channel.
pub const INPUT_LUT_LEN: usize = INPUT_CHANNELS * 256;

/// A byte string borrowed from the blob (postcard: varint length + bytes).
///
/// Typed views (`i8` weights, little-endian `i32` words) are taken by the
/// kernels without copying and without any alignment requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

/// The fixed 16-byte preamble, parsed by hand before the CRC check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preamble {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u16,
    /// Payload length in bytes.
    pub payload_len: u32,
    /// CRC-32 of the payload.
    pub crc32: u32,
}

impl Preamble {
    /// Encodes the preamble (magic included).
    pub fn to_bytes(&self) -> [u8; PREAMBLE_LEN] {
        let [v0, v1] = self.version.to_le_bytes();
        let [l0, l1, l2, l3] = self.payload_len.to_le_bytes();
        let [c0, c1, c2, c3] = self.crc32.to_le_bytes();
        let [m0, m1, m2, m3] = MAGIC;
        [m0, m1, m2, m3, v0, v1, 0, 0, l0, l1, l2, l3, c0, c1, c2, c3]
    }
}

/// Quantisation of an int8 tensor: `real = scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// Positive, finite scale.
    pub scale: f32,
    /// Zero point in `[-128, 127]`.
    pub zero_point: i8,
}

/// An NHWC int8 tensor: shape, quantisation and place in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorDesc {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
    /// Channels (innermost).
    pub channels: u16,
    /// Quantisation parameters.
    pub quant: Quant,
    /// Byte offset in the arena.
    pub offset: u32,
}

/// Payload header: input description, arena size and table sizes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header<'a> {
    /// The input tensor (tensor 0): `height × width × 3`, filled by `run` from
    /// the RGB image through [`Header::input_lut`].
    pub input: TensorDesc,
    /// Input conversion: `q = input_lut[c · 256 + pixel]` for channel `c`
    /// (768 `i8` values). The builder fills it from the float model's
    /// normalisation and the input quantisation (see `docs/int8-spec.md`).
    #[serde(borrow)]
    pub input_lut: Bytes<'a>,
    /// Bytes of working memory `run` needs.
    pub arena_bytes: u32,
    /// Tensors in the table after the header (the input not counted).
    pub tensor_count: u16,
    /// Ops after the tensor table.
    pub op_count: u16,
}

/// A sliding window (kernel, stride, explicit zero padding) over NHWC data.
///
/// Output size along an axis: `(in + pad_before + pad_after − kernel) / stride + 1`;
/// validation requires it to equal the output tensor's, and each padding to be
/// smaller than the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Kernel rows.
    pub kernel_h: u8,
    /// Kernel columns.
    pub kernel_w: u8,
    /// Vertical stride.
    pub stride_h: u8,
    /// Horizontal stride.
    pub stride_w: u8,
    /// Rows of padding above.
    pub pad_top: u8,
    /// Rows of padding below.
    pub pad_bottom: u8,
    /// Columns of padding on the left.
    pub pad_left: u8,
    /// Columns of padding on the right.
    pub pad_right: u8,
}

impl Window {
    /// A `k × k` window with stride `stride` and `pad` on every side.
    pub const fn square(kernel: u8, stride: u8, pad: u8) -> Window {
        Window {
            kernel_h: kernel,
            kernel_w: kernel,
            stride_h: stride,
            stride_w: stride,
            pad_top: pad,
            pad_bottom: pad,
            pad_left: pad,
            pad_right: pad,
        }
    }
}

/// Per-output-channel requantisation: Q31 multipliers and power-of-two shifts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requant<'a> {
    /// `i32` LE per output channel, in `[0, 2^31)`.
    #[serde(borrow)]
    pub multipliers: Bytes<'a>,
    /// `i8` per output channel, in `[-31, 30]` (positive = left shift).
    #[serde(borrow)]
    pub shifts: Bytes<'a>,
}

/// Clamp applied after requantisation (fused ReLU / ReLU6 / none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clamp {
    /// Lowest output value.
    pub min: i8,
    /// Highest output value (`min <= max`).
    pub max: i8,
}

/// 2-D convolution, NHWC input, OHWI int8 weights, int32 bias.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2d<'a> {
    /// Input tensor.
    pub input: u16,
    /// Output tensor.
    pub output: u16,
    /// Kernel, stride and padding.
    pub window: Window,
    /// `out_c × kernel_h × kernel_w × in_c` int8 values in `[-127, 127]`.
    #[serde(borrow)]
    pub weights: Bytes<'a>,
    /// `out_c` × `i32` LE at scale `s_in · s_w[c]`.
    #[serde(borrow)]
    pub bias: Bytes<'a>,
    /// Per-channel `s_in · s_w[c] / s_out`.
    #[serde(borrow)]
    pub requant: Requant<'a>,
    /// Fused activation.
    pub clamp: Clamp,
}

/// Fused `concat(a, b)` + 1×1 convolution; `a` and `b` keep their own
/// quantisation (see `docs/int8-spec.md`). Weights are OHWI over the
/// concatenated channels: `out_c × (c_a + c_b)`, the `a` channels first.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcatConv1x1<'a> {
    /// First input (its channels come first in the concat).
    pub input_a: u16,
    /// Second input, same height and width as `input_a`.
    pub input_b: u16,
    /// Output tensor.
    pub output: u16,
    /// `out_c × (c_a + c_b)` int8 weights.
    #[serde(borrow)]
    pub weights: Bytes<'a>,
    /// `out_c` × `i32` LE at scale `s_a · s_w[c]`.
    #[serde(borrow)]
    pub bias: Bytes<'a>,
    /// Per-channel `s_a · s_w[c] / s_out`.
    #[serde(borrow)]
    pub requant_a: Requant<'a>,
    /// Per-channel `s_b · s_w[c] / s_out` (two scales, `docs/int8-spec.md`
    /// §5), or **empty** (format version 3): one scale, the `b` weights
    /// already in units of `s_a · s_w[c] / s_b`, so both sides add into one
    /// accumulator requantised by `requant_a` alone (§5.1).
    #[serde(borrow)]
    pub requant_b: Requant<'a>,
    /// Fused activation.
    pub clamp: Clamp,
}

/// Max or average pooling; output quantisation equals the input's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool2d {
    /// Input tensor.
    pub input: u16,
    /// Output tensor.
    pub output: u16,
    /// Window; padded positions are left out of the max / average.
    pub window: Window,
}

/// Average over all rows and columns: output `1 × 1 × C`, same quantisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalAvgPool {
    /// Input tensor.
    pub input: u16,
    /// Output tensor.
    pub output: u16,
}

/// Fully connected layer over the flattened (NHWC order) input; output `1 × 1 × out`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FullyConnected<'a> {
    /// Input tensor (any shape, flattened).
    pub input: u16,
    /// Output tensor.
    pub output: u16,
    /// `out × in_len` int8 weights.
    #[serde(borrow)]
    pub weights: Bytes<'a>,
    /// `out` × `i32` LE.
    #[serde(borrow)]
    pub bias: Bytes<'a>,
    /// Per-output requantisation.
    #[serde(borrow)]
    pub requant: Requant<'a>,
    /// Fused activation.
    pub clamp: Clamp,
}

/// Landmark head: `2 ·` [`crate::LANDMARK_COUNT`] int8 values `(x0, y0, … x4, y4)` dequantised, then mapped
/// to input-image pixels: `px = real · x_scale + x_offset` (y likewise).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LandmarkHead {
    /// Tensor with exactly `2 ·` [`crate::LANDMARK_COUNT`] (10) elements.
    pub input: u16,
    /// Pixels per unit of the dequantised x value.
    pub x_scale: f32,
    /// Pixel offset added to x.
    pub x_offset: f32,
    /// Pixels per unit of the dequantised y value.
    pub y_scale: f32,
    /// Pixel offset added to y.
    pub y_offset: f32,
}

/// Attribute head: [`crate::ATTRIBUTE_COUNT`] int8 logits → probabilities and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeHead {
    /// Tensor with exactly [`crate::ATTRIBUTE_COUNT`] (40) elements.
    pub input: u16,
}

/// One operation of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op<'a> {
    /// 2-D convolution.
    #[serde(borrow)]
    Conv2d(Conv2d<'a>),
    /// Fused concat + 1×1 convolution.
    #[serde(borrow)]
    ConcatConv1x1(ConcatConv1x1<'a>),
    /// Max pooling.
    MaxPool2d(Pool2d),
    /// Average pooling.
    AvgPool2d(Pool2d),
    /// Global average pooling.
    GlobalAvgPool(GlobalAvgPool),
    /// Fully connected layer.
    #[serde(borrow)]
    FullyConnected(FullyConnected<'a>),
    /// Landmark output head.
    LandmarkHead(LandmarkHead),
    /// Attribute output head.
    AttributeHead(AttributeHead),
    /// 2-D convolution with a fused 2×2 / stride 2 max pool (format version
    /// 2): the output tensor is the pooled one, `floor(h / 2) × floor(w / 2)`
    /// of the convolution's output; the full-resolution tensor is never
    /// stored (`docs/int8-spec.md` §6).
    #[serde(borrow)]
    Conv2dMaxPool(Conv2d<'a>),
}

impl Op<'_> {
    /// The tensor this op writes, if any (heads write [`crate::Outputs`]).
    pub fn output(&self) -> Option<u16> {
        match self {
            Op::Conv2d(op) | Op::Conv2dMaxPool(op) => Some(op.output),
            Op::ConcatConv1x1(op) => Some(op.output),
            Op::MaxPool2d(op) | Op::AvgPool2d(op) => Some(op.output),
            Op::GlobalAvgPool(op) => Some(op.output),
            Op::FullyConnected(op) => Some(op.output),
            Op::LandmarkHead(_) | Op::AttributeHead(_) => None,
        }
    }

    /// The tensors this op reads (one or two).
    pub fn inputs(&self) -> (u16, Option<u16>) {
        match self {
            Op::Conv2d(op) | Op::Conv2dMaxPool(op) => (op.input, None),
            Op::ConcatConv1x1(op) => (op.input_a, Some(op.input_b)),
            Op::MaxPool2d(op) | Op::AvgPool2d(op) => (op.input, None),
            Op::GlobalAvgPool(op) => (op.input, None),
            Op::FullyConnected(op) => (op.input, None),
            Op::LandmarkHead(op) => (op.input, None),
            Op::AttributeHead(op) => (op.input, None),
        }
    }

    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "Conv2d",
            Op::Conv2dMaxPool(_) => "Conv2dMaxPool",
            Op::ConcatConv1x1(_) => "ConcatConv1x1",
            Op::MaxPool2d(_) => "MaxPool2d",
            Op::AvgPool2d(_) => "AvgPool2d",
            Op::GlobalAvgPool(_) => "GlobalAvgPool",
            Op::FullyConnected(_) => "FullyConnected",
            Op::LandmarkHead(_) => "LandmarkHead",
            Op::AttributeHead(_) => "AttributeHead",
        }
    }
}
