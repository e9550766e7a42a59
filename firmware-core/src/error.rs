//! Errors of loading and running a model. Every failure is a value.
use crate::frame::FrameError;
use core::fmt;

/// What part of the payload failed to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// The payload header.
    Header,
    /// Tensor table entry (tensor id).
    Tensor(u16),
    /// Op (op index).
    Op(u16),
}

/// Why a model could not be loaded or run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The blob is shorter than the 16-byte preamble.
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// The first four bytes are not `b"SMNq"`.
    BadMagic,
    /// A format version this build cannot read.
    UnsupportedVersion {
        /// Version found in the blob.
        found: u16,
    },
    /// Reserved preamble bytes are not zero.
    ReservedBytes,
    /// The payload length in the preamble disagrees with the blob length.
    PayloadLength {
        /// Length the preamble declares.
        declared: u32,
        /// Bytes actually after the preamble.
        actual: usize,
    },
    /// The payload checksum does not match.
    CrcMismatch {
        /// CRC stored in the preamble.
        stored: u32,
        /// CRC of the payload as found.
        computed: u32,
    },
    /// A postcard record could not be decoded.
    Decode {
        /// Which record.
        section: Section,
    },
    /// Bytes left over after the last op.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// More tensors or ops than this build supports.
    TooManyEntries {
        /// Tensors declared (input included).
        tensors: usize,
        /// Ops declared.
        ops: usize,
    },
    /// A tensor has a zero dimension.
    EmptyTensor {
        /// Tensor id.
        tensor: u16,
    },
    /// A tensor's scale is not finite and positive.
    InvalidScale {
        /// Tensor id.
        tensor: u16,
    },
    /// A size computation would overflow.
    SizeOverflow {
        /// Tensor id.
        tensor: u16,
    },
    /// A tensor lies (partly) outside the declared arena.
    TensorOutsideArena {
        /// Tensor id.
        tensor: u16,
    },
    /// Two tensors that are live at the same time share arena bytes.
    OverlappingTensors {
        /// First tensor id.
        a: u16,
        /// Second tensor id.
        b: u16,
    },
    /// The input tensor is not `h × w × 3`.
    InputShape,
    /// The input lookup table does not hold 768 entries.
    InputLutLength,
    /// An op names a tensor id outside the table.
    UnknownTensor {
        /// Op index.
        op: u16,
        /// The tensor id.
        tensor: u16,
    },
    /// An op reads a tensor no earlier op has written.
    ReadBeforeWrite {
        /// Op index.
        op: u16,
        /// The tensor id.
        tensor: u16,
    },
    /// An op writes a tensor that was already written (or the input).
    WrittenTwice {
        /// Op index.
        op: u16,
        /// The tensor id.
        tensor: u16,
    },
    /// A tensor is declared but no op writes it.
    NeverWritten {
        /// Tensor id.
        tensor: u16,
    },
    /// Input and output shapes do not chain for this op.
    ShapeMismatch {
        /// Op index.
        op: u16,
    },
    /// Kernel, stride or padding out of range.
    InvalidWindow {
        /// Op index.
        op: u16,
    },
    /// Weight bytes disagree with the shapes.
    WeightsLength {
        /// Op index.
        op: u16,
    },
    /// A weight is −128 (weights are symmetric, in `[-127, 127]`).
    WeightOutOfRange {
        /// Op index.
        op: u16,
    },
    /// Bias bytes disagree with the output channels.
    BiasLength {
        /// Op index.
        op: u16,
    },
    /// Multiplier or shift bytes disagree with the output channels.
    RequantLength {
        /// Op index.
        op: u16,
    },
    /// A multiplier is negative or a shift is outside `[-31, 30]`.
    InvalidRequant {
        /// Op index.
        op: u16,
    },
    /// The int32 accumulator could overflow for this kernel size and bias.
    AccumulatorOverflow {
        /// Op index.
        op: u16,
    },
    /// A conv patch (kernel taps × input channels, or `c_a + c_b` for the
    /// fused concat) is longer than [`crate::limits::MAX_PATCH`].
    PatchTooLarge {
        /// Op index.
        op: u16,
    },
    /// `clamp.min > clamp.max`.
    InvalidClamp {
        /// Op index.
        op: u16,
    },
    /// Pooling must keep its input's quantisation.
    QuantMismatch {
        /// Op index.
        op: u16,
    },
    /// A head's input does not have the expected number of values.
    HeadSize {
        /// Op index.
        op: u16,
        /// Values expected (`2 ·` [`crate::LANDMARK_COUNT`] or [`crate::ATTRIBUTE_COUNT`]).
        expected: usize,
        /// Values found.
        found: usize,
    },
    /// A head's float parameters are not finite or exceed 10⁶ in magnitude.
    InvalidHead {
        /// Op index.
        op: u16,
    },
    /// The landmark or attribute head is missing or appears twice.
    HeadCount,
    /// The image passed to `run` is not `height × width × 3` bytes.
    InputSize {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// The arena passed to `run` is smaller than [`crate::Model::arena_bytes`].
    ArenaTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        found: usize,
    },
    /// [`crate::Model::run_frame`]: the camera frame, crop box or model
    /// input side was refused (the [`FrameError`] says which).
    Frame(FrameError),
    /// A check that validation guarantees failed at run time (a bug, reported
    /// as a value rather than a panic).
    Internal,
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error::Frame(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort { len } => write!(f, "blob too short: {len} bytes, the preamble alone is 16"),
            Error::BadMagic => write!(f, "not an SMN model blob (bad magic)"),
            Error::UnsupportedVersion { found } => write!(
                f,
                "blob format version {found} is not supported (this build reads versions {} to {})",
                crate::format::MIN_FORMAT_VERSION,
                crate::format::FORMAT_VERSION
            ),
            Error::ReservedBytes => write!(f, "reserved preamble bytes are not zero"),
            Error::PayloadLength { declared, actual } => write!(
                f,
                "payload length {declared} in the preamble, but {actual} bytes follow it (truncated or padded blob)"
            ),
            Error::CrcMismatch { stored, computed } => write!(
                f,
                "payload CRC-32 mismatch: stored {stored:#010x}, computed {computed:#010x} (corrupted blob)"
            ),
            Error::Decode { section } => match section {
                Section::Header => write!(f, "cannot decode the payload header"),
                Section::Tensor(t) => write!(f, "cannot decode tensor {t}"),
                Section::Op(o) => write!(f, "cannot decode op {o}"),
            },
            Error::TrailingBytes { count } => write!(f, "{count} unexpected bytes after the last op"),
            Error::TooManyEntries { tensors, ops } => write!(
                f,
                "{tensors} tensors / {ops} ops exceed this build's limits ({} / {})",
                crate::format::MAX_TENSORS,
                crate::format::MAX_OPS
            ),
            Error::EmptyTensor { tensor } => write!(f, "tensor {tensor} has a zero dimension"),
            Error::InvalidScale { tensor } => write!(f, "tensor {tensor} has a non-finite or non-positive scale"),
            Error::SizeOverflow { tensor } => write!(f, "tensor {tensor}: size computation overflows"),
            Error::TensorOutsideArena { tensor } => write!(f, "tensor {tensor} lies outside the arena"),
            Error::OverlappingTensors { a, b } => {
                write!(f, "tensors {a} and {b} are live at the same time but share arena bytes")
            }
            Error::InputShape => write!(f, "the input tensor must be height × width × 3"),
            Error::InputLutLength => write!(f, "the input lookup table must hold 768 entries"),
            Error::UnknownTensor { op, tensor } => write!(f, "op {op} names unknown tensor {tensor}"),
            Error::ReadBeforeWrite { op, tensor } => write!(f, "op {op} reads tensor {tensor} before any op writes it"),
            Error::WrittenTwice { op, tensor } => {
                write!(f, "op {op} writes tensor {tensor}, which was already written")
            }
            Error::NeverWritten { tensor } => write!(f, "tensor {tensor} is declared but never written"),
            Error::ShapeMismatch { op } => write!(f, "op {op}: input and output shapes do not chain"),
            Error::InvalidWindow { op } => write!(f, "op {op}: kernel, stride or padding out of range"),
            Error::WeightsLength { op } => write!(f, "op {op}: weight bytes disagree with the shapes"),
            Error::WeightOutOfRange { op } => write!(f, "op {op}: weight −128 (weights must be in [−127, 127])"),
            Error::BiasLength { op } => write!(f, "op {op}: bias bytes disagree with the output channels"),
            Error::RequantLength { op } => {
                write!(f, "op {op}: multiplier/shift bytes disagree with the output channels")
            }
            Error::InvalidRequant { op } => write!(f, "op {op}: negative multiplier or shift outside [−31, 30]"),
            Error::AccumulatorOverflow { op } => write!(f, "op {op}: the int32 accumulator could overflow"),
            Error::PatchTooLarge { op } => write!(
                f,
                "op {op}: kernel taps × input channels exceed {} ({} for a conv with a fused max pool; this build's patch buffer)",
                crate::limits::MAX_PATCH,
                crate::limits::MAX_POOLED_PATCH
            ),
            Error::InvalidClamp { op } => write!(f, "op {op}: clamp min > max"),
            Error::QuantMismatch { op } => write!(f, "op {op}: pooling must keep its input's quantisation"),
            Error::HeadSize { op, expected, found } => {
                write!(f, "op {op}: head expects {expected} values, its input has {found}")
            }
            Error::InvalidHead { op } => write!(
                f,
                "op {op}: head parameters must be finite and at most 1e6 in magnitude"
            ),
            Error::HeadCount => write!(f, "the model needs exactly one landmark head and one attribute head"),
            Error::InputSize { expected, found } => {
                write!(
                    f,
                    "input image has {found} bytes, the model needs {expected} (height × width × 3 RGB)"
                )
            }
            Error::ArenaTooSmall { needed, found } => write!(f, "arena of {found} bytes, the model needs {needed}"),
            Error::Frame(e) => write!(f, "camera frame: {e}"),
            Error::Internal => write!(f, "internal error: a validated invariant failed (please report)"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
