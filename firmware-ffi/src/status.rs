//! Status codes: one per way a call can fail, and their messages.
use core::ffi::{c_char, CStr};
use smn_firmware_core::frame::FrameError;
use smn_firmware_core::Error;

/// What a call did: [`smn_status::SMN_OK`] or why it failed. The values are
/// stable: a code keeps its number in later versions.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smn_status {
    /// Success.
    SMN_OK = 0,
    // -- Arguments (1–9) -------------------------------------------------
    /// A pointer argument is NULL.
    SMN_ERR_NULL_POINTER = 1,
    /// The `smn_model` was not filled by a successful `smn_model_init`.
    SMN_ERR_NOT_INITIALISED = 2,
    /// Two buffers that must be distinct overlap (arena, image, frame,
    /// outputs, blob).
    SMN_ERR_OVERLAPPING_BUFFERS = 3,
    /// `smn_frame.format` is not one of the `SMN_PIXEL_*` values.
    SMN_ERR_PIXEL_FORMAT = 4,
    /// A buffer length is larger than the address space allows.
    SMN_ERR_BAD_LENGTH = 5,
    // -- The blob (10–49): `smn_model_init` ------------------------------
    /// The blob is shorter than its 16-byte preamble.
    SMN_ERR_BLOB_TOO_SHORT = 10,
    /// Not an SMN model blob (magic is not "SMNq").
    SMN_ERR_BAD_MAGIC = 11,
    /// The blob's format version is not supported by this library.
    SMN_ERR_UNSUPPORTED_VERSION = 12,
    /// Reserved preamble bytes are not zero.
    SMN_ERR_RESERVED_BYTES = 13,
    /// The preamble's payload length disagrees with the blob length.
    SMN_ERR_PAYLOAD_LENGTH = 14,
    /// The payload CRC-32 does not match (corrupted blob).
    SMN_ERR_CRC_MISMATCH = 15,
    /// A record of the payload cannot be decoded.
    SMN_ERR_DECODE = 16,
    /// Bytes left over after the last op.
    SMN_ERR_TRAILING_BYTES = 17,
    /// More tensors or ops than this library supports.
    SMN_ERR_TOO_MANY_ENTRIES = 18,
    /// A tensor has a zero dimension.
    SMN_ERR_EMPTY_TENSOR = 19,
    /// A tensor scale is not finite and positive.
    SMN_ERR_INVALID_SCALE = 20,
    /// A tensor size computation overflows.
    SMN_ERR_SIZE_OVERFLOW = 21,
    /// A tensor lies outside the declared arena.
    SMN_ERR_TENSOR_OUTSIDE_ARENA = 22,
    /// Tensors live at the same time share arena bytes.
    SMN_ERR_OVERLAPPING_TENSORS = 23,
    /// The input tensor is not height × width × 3.
    SMN_ERR_INPUT_SHAPE = 24,
    /// The input lookup table does not hold 768 entries.
    SMN_ERR_INPUT_LUT_LENGTH = 25,
    /// An op names an unknown tensor.
    SMN_ERR_UNKNOWN_TENSOR = 26,
    /// An op reads a tensor before any op writes it.
    SMN_ERR_READ_BEFORE_WRITE = 27,
    /// An op writes a tensor that was already written.
    SMN_ERR_WRITTEN_TWICE = 28,
    /// A tensor is declared but never written.
    SMN_ERR_NEVER_WRITTEN = 29,
    /// Input and output shapes of an op do not chain.
    SMN_ERR_SHAPE_MISMATCH = 30,
    /// Kernel, stride or padding out of range.
    SMN_ERR_INVALID_WINDOW = 31,
    /// Weight bytes disagree with the shapes.
    SMN_ERR_WEIGHTS_LENGTH = 32,
    /// A weight is -128.
    SMN_ERR_WEIGHT_OUT_OF_RANGE = 33,
    /// Bias bytes disagree with the output channels.
    SMN_ERR_BIAS_LENGTH = 34,
    /// Multiplier or shift bytes disagree with the output channels.
    SMN_ERR_REQUANT_LENGTH = 35,
    /// A negative multiplier or a shift outside [-31, 30].
    SMN_ERR_INVALID_REQUANT = 36,
    /// The int32 accumulator of an op could overflow.
    SMN_ERR_ACCUMULATOR_OVERFLOW = 37,
    /// A conv patch exceeds this library's patch buffer.
    SMN_ERR_PATCH_TOO_LARGE = 38,
    /// An op's clamp has min > max.
    SMN_ERR_INVALID_CLAMP = 39,
    /// A pooling op changes the quantisation.
    SMN_ERR_QUANT_MISMATCH = 40,
    /// A head's input has the wrong number of values.
    SMN_ERR_HEAD_SIZE = 41,
    /// A head's parameters are not finite or exceed 1e6.
    SMN_ERR_INVALID_HEAD = 42,
    /// Not exactly one landmark head and one attribute head.
    SMN_ERR_HEAD_COUNT = 43,
    // -- Running (50–59) --------------------------------------------------
    /// The RGB image is not `smn_model_input_bytes` long.
    SMN_ERR_INPUT_SIZE = 50,
    /// The arena is shorter than `smn_model_arena_bytes` (or, for
    /// `smn_run_frame`, `smn_model_frame_arena_bytes`).
    SMN_ERR_ARENA_TOO_SMALL = 51,
    // -- Camera frames (60–69) -------------------------------------------
    /// Frame width or height is 0 or above 16384.
    SMN_ERR_FRAME_SIZE = 60,
    /// The frame stride is shorter than a row of pixels.
    SMN_ERR_FRAME_STRIDE = 61,
    /// The frame buffer is shorter than stride × (height − 1) + a row.
    SMN_ERR_FRAME_TOO_SHORT = 62,
    /// The crop box has no area, or lies more than a frame side outside it.
    SMN_ERR_CROP_BOX = 63,
    /// The model input side is 0 or above 1024.
    SMN_ERR_OUTPUT_SIZE = 64,
    /// The model input is not square.
    SMN_ERR_INPUT_NOT_SQUARE = 65,
    /// The crop output buffer is not side × side × 3 bytes.
    SMN_ERR_OUTPUT_LENGTH = 66,
    // -- Bugs ------------------------------------------------------------
    /// A validated invariant failed: a bug in this library (please report).
    SMN_ERR_INTERNAL = 99,
}

use smn_status::*;

impl From<FrameError> for smn_status {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::BadFrameSize { .. } => SMN_ERR_FRAME_SIZE,
            FrameError::StrideTooShort { .. } => SMN_ERR_FRAME_STRIDE,
            FrameError::FrameTooShort { .. } => SMN_ERR_FRAME_TOO_SHORT,
            FrameError::BadCropBox => SMN_ERR_CROP_BOX,
            FrameError::BadOutputSize { .. } => SMN_ERR_OUTPUT_SIZE,
            FrameError::NotSquare { .. } => SMN_ERR_INPUT_NOT_SQUARE,
            FrameError::OutputLength { .. } => SMN_ERR_OUTPUT_LENGTH,
        }
    }
}

impl From<Error> for smn_status {
    fn from(e: Error) -> Self {
        match e {
            Error::TooShort { .. } => SMN_ERR_BLOB_TOO_SHORT,
            Error::BadMagic => SMN_ERR_BAD_MAGIC,
            Error::UnsupportedVersion { .. } => SMN_ERR_UNSUPPORTED_VERSION,
            Error::ReservedBytes => SMN_ERR_RESERVED_BYTES,
            Error::PayloadLength { .. } => SMN_ERR_PAYLOAD_LENGTH,
            Error::CrcMismatch { .. } => SMN_ERR_CRC_MISMATCH,
            Error::Decode { .. } => SMN_ERR_DECODE,
            Error::TrailingBytes { .. } => SMN_ERR_TRAILING_BYTES,
            Error::TooManyEntries { .. } => SMN_ERR_TOO_MANY_ENTRIES,
            Error::EmptyTensor { .. } => SMN_ERR_EMPTY_TENSOR,
            Error::InvalidScale { .. } => SMN_ERR_INVALID_SCALE,
            Error::SizeOverflow { .. } => SMN_ERR_SIZE_OVERFLOW,
            Error::TensorOutsideArena { .. } => SMN_ERR_TENSOR_OUTSIDE_ARENA,
            Error::OverlappingTensors { .. } => SMN_ERR_OVERLAPPING_TENSORS,
            Error::InputShape => SMN_ERR_INPUT_SHAPE,
            Error::InputLutLength => SMN_ERR_INPUT_LUT_LENGTH,
            Error::UnknownTensor { .. } => SMN_ERR_UNKNOWN_TENSOR,
            Error::ReadBeforeWrite { .. } => SMN_ERR_READ_BEFORE_WRITE,
            Error::WrittenTwice { .. } => SMN_ERR_WRITTEN_TWICE,
            Error::NeverWritten { .. } => SMN_ERR_NEVER_WRITTEN,
            Error::ShapeMismatch { .. } => SMN_ERR_SHAPE_MISMATCH,
            Error::InvalidWindow { .. } => SMN_ERR_INVALID_WINDOW,
            Error::WeightsLength { .. } => SMN_ERR_WEIGHTS_LENGTH,
            Error::WeightOutOfRange { .. } => SMN_ERR_WEIGHT_OUT_OF_RANGE,
            Error::BiasLength { .. } => SMN_ERR_BIAS_LENGTH,
            Error::RequantLength { .. } => SMN_ERR_REQUANT_LENGTH,
            Error::InvalidRequant { .. } => SMN_ERR_INVALID_REQUANT,
            Error::AccumulatorOverflow { .. } => SMN_ERR_ACCUMULATOR_OVERFLOW,
            Error::PatchTooLarge { .. } => SMN_ERR_PATCH_TOO_LARGE,
            Error::InvalidClamp { .. } => SMN_ERR_INVALID_CLAMP,
            Error::QuantMismatch { .. } => SMN_ERR_QUANT_MISMATCH,
            Error::HeadSize { .. } => SMN_ERR_HEAD_SIZE,
            Error::InvalidHead { .. } => SMN_ERR_INVALID_HEAD,
            Error::HeadCount => SMN_ERR_HEAD_COUNT,
            Error::InputSize { .. } => SMN_ERR_INPUT_SIZE,
            Error::ArenaTooSmall { .. } => SMN_ERR_ARENA_TOO_SMALL,
            Error::Frame(frame) => frame.into(),
            // `Error` is non-exhaustive; firmware-core's own variants are
            // all listed above (the test `every_error_has_its_own_code`).
            _ => SMN_ERR_INTERNAL,
        }
    }
}

/// Every status and its message, for [`smn_status_str`].
const MESSAGES: &[(smn_status, &CStr)] = &[
    (SMN_OK, c"ok"),
    (SMN_ERR_NULL_POINTER, c"a pointer argument is NULL"),
    (
        SMN_ERR_NOT_INITIALISED,
        c"the smn_model was not initialised by smn_model_init",
    ),
    (
        SMN_ERR_OVERLAPPING_BUFFERS,
        c"two buffers that must be distinct overlap",
    ),
    (SMN_ERR_PIXEL_FORMAT, c"unknown pixel format (not an SMN_PIXEL_* value)"),
    (
        SMN_ERR_BAD_LENGTH,
        c"a buffer length is larger than the address space allows",
    ),
    (SMN_ERR_BLOB_TOO_SHORT, c"blob shorter than its 16-byte preamble"),
    (SMN_ERR_BAD_MAGIC, c"not an SMN model blob (bad magic)"),
    (
        SMN_ERR_UNSUPPORTED_VERSION,
        c"blob format version not supported by this library",
    ),
    (SMN_ERR_RESERVED_BYTES, c"reserved preamble bytes are not zero"),
    (
        SMN_ERR_PAYLOAD_LENGTH,
        c"payload length disagrees with the blob length (truncated or padded)",
    ),
    (SMN_ERR_CRC_MISMATCH, c"payload CRC-32 mismatch (corrupted blob)"),
    (SMN_ERR_DECODE, c"a payload record cannot be decoded"),
    (SMN_ERR_TRAILING_BYTES, c"unexpected bytes after the last op"),
    (
        SMN_ERR_TOO_MANY_ENTRIES,
        c"more tensors or ops than this library supports",
    ),
    (SMN_ERR_EMPTY_TENSOR, c"a tensor has a zero dimension"),
    (SMN_ERR_INVALID_SCALE, c"a tensor scale is not finite and positive"),
    (SMN_ERR_SIZE_OVERFLOW, c"a tensor size computation overflows"),
    (SMN_ERR_TENSOR_OUTSIDE_ARENA, c"a tensor lies outside the arena"),
    (
        SMN_ERR_OVERLAPPING_TENSORS,
        c"tensors live at the same time share arena bytes",
    ),
    (SMN_ERR_INPUT_SHAPE, c"the input tensor must be height x width x 3"),
    (
        SMN_ERR_INPUT_LUT_LENGTH,
        c"the input lookup table must hold 768 entries",
    ),
    (SMN_ERR_UNKNOWN_TENSOR, c"an op names an unknown tensor"),
    (
        SMN_ERR_READ_BEFORE_WRITE,
        c"an op reads a tensor before any op writes it",
    ),
    (SMN_ERR_WRITTEN_TWICE, c"an op writes a tensor that was already written"),
    (SMN_ERR_NEVER_WRITTEN, c"a tensor is declared but never written"),
    (SMN_ERR_SHAPE_MISMATCH, c"input and output shapes of an op do not chain"),
    (SMN_ERR_INVALID_WINDOW, c"kernel, stride or padding out of range"),
    (SMN_ERR_WEIGHTS_LENGTH, c"weight bytes disagree with the shapes"),
    (
        SMN_ERR_WEIGHT_OUT_OF_RANGE,
        c"a weight is -128 (weights must be in [-127, 127])",
    ),
    (SMN_ERR_BIAS_LENGTH, c"bias bytes disagree with the output channels"),
    (
        SMN_ERR_REQUANT_LENGTH,
        c"multiplier/shift bytes disagree with the output channels",
    ),
    (
        SMN_ERR_INVALID_REQUANT,
        c"negative multiplier or shift outside [-31, 30]",
    ),
    (
        SMN_ERR_ACCUMULATOR_OVERFLOW,
        c"the int32 accumulator of an op could overflow",
    ),
    (
        SMN_ERR_PATCH_TOO_LARGE,
        c"a conv patch exceeds this library's patch buffer",
    ),
    (SMN_ERR_INVALID_CLAMP, c"an op's clamp has min > max"),
    (SMN_ERR_QUANT_MISMATCH, c"pooling must keep its input's quantisation"),
    (SMN_ERR_HEAD_SIZE, c"a head's input has the wrong number of values"),
    (
        SMN_ERR_INVALID_HEAD,
        c"head parameters must be finite and at most 1e6 in magnitude",
    ),
    (
        SMN_ERR_HEAD_COUNT,
        c"the model needs exactly one landmark head and one attribute head",
    ),
    (SMN_ERR_INPUT_SIZE, c"the RGB image is not smn_model_input_bytes long"),
    (
        SMN_ERR_ARENA_TOO_SMALL,
        c"the arena is too small (smn_model_arena_bytes / smn_model_frame_arena_bytes)",
    ),
    (SMN_ERR_FRAME_SIZE, c"frame width and height must be 1..16384"),
    (SMN_ERR_FRAME_STRIDE, c"frame stride is shorter than a row of pixels"),
    (
        SMN_ERR_FRAME_TOO_SHORT,
        c"frame buffer is shorter than stride x (height - 1) + one row",
    ),
    (
        SMN_ERR_CROP_BOX,
        c"crop box: size must be > 0 and each edge within one frame side of the frame",
    ),
    (SMN_ERR_OUTPUT_SIZE, c"model input side must be 1..1024"),
    (SMN_ERR_INPUT_NOT_SQUARE, c"frame crops need a square model input"),
    (
        SMN_ERR_OUTPUT_LENGTH,
        c"crop output buffer is not side x side x 3 bytes",
    ),
    (
        SMN_ERR_INTERNAL,
        c"internal error: a validated invariant failed (please report)",
    ),
];

/// A static, NUL-terminated English message for `status` (any value: an
/// unknown code gives "unknown status code"). Never NULL.
#[no_mangle]
pub extern "C" fn smn_status_str(status: i32) -> *const c_char {
    MESSAGES
        .iter()
        .find(|(s, _)| *s as i32 == status)
        .map_or(c"unknown status code", |(_, m)| m)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smn_firmware_core::Section;
    use std::collections::BTreeSet;
    use std::vec::Vec;

    /// One value of every `Error` variant (keep in step with firmware-core).
    fn every_error() -> Vec<Error> {
        let op = 3;
        let frame = [
            FrameError::BadFrameSize { width: 0, height: 1 },
            FrameError::StrideTooShort {
                stride: 1,
                row_bytes: 2,
            },
            FrameError::FrameTooShort { len: 1, needed: 2 },
            FrameError::BadCropBox,
            FrameError::BadOutputSize { side: 0 },
            FrameError::NotSquare { width: 1, height: 2 },
            FrameError::OutputLength { len: 1, needed: 2 },
        ];
        let mut all = std::vec![
            Error::TooShort { len: 1 },
            Error::BadMagic,
            Error::UnsupportedVersion { found: 9 },
            Error::ReservedBytes,
            Error::PayloadLength { declared: 1, actual: 2 },
            Error::CrcMismatch { stored: 1, computed: 2 },
            Error::Decode {
                section: Section::Header
            },
            Error::TrailingBytes { count: 1 },
            Error::TooManyEntries { tensors: 1, ops: 2 },
            Error::EmptyTensor { tensor: 1 },
            Error::InvalidScale { tensor: 1 },
            Error::SizeOverflow { tensor: 1 },
            Error::TensorOutsideArena { tensor: 1 },
            Error::OverlappingTensors { a: 1, b: 2 },
            Error::InputShape,
            Error::InputLutLength,
            Error::UnknownTensor { op, tensor: 1 },
            Error::ReadBeforeWrite { op, tensor: 1 },
            Error::WrittenTwice { op, tensor: 1 },
            Error::NeverWritten { tensor: 1 },
            Error::ShapeMismatch { op },
            Error::InvalidWindow { op },
            Error::WeightsLength { op },
            Error::WeightOutOfRange { op },
            Error::BiasLength { op },
            Error::RequantLength { op },
            Error::InvalidRequant { op },
            Error::AccumulatorOverflow { op },
            Error::PatchTooLarge { op },
            Error::InvalidClamp { op },
            Error::QuantMismatch { op },
            Error::HeadSize {
                op,
                expected: 10,
                found: 2
            },
            Error::InvalidHead { op },
            Error::HeadCount,
            Error::InputSize { expected: 1, found: 2 },
            Error::ArenaTooSmall { needed: 2, found: 1 },
            Error::Internal,
        ];
        all.extend(frame.map(Error::Frame));
        all
    }

    #[test]
    fn every_error_has_its_own_code_and_message() {
        let errors = every_error();
        let codes: BTreeSet<i32> = errors.iter().map(|&e| smn_status::from(e) as i32).collect();
        assert_eq!(codes.len(), errors.len(), "two errors share a status code");
        assert!(!codes.contains(&0));
        let unknown = unsafe { CStr::from_ptr(smn_status_str(12345)) };
        assert_eq!(unknown.to_str(), Ok("unknown status code"));
        let mut messages = BTreeSet::new();
        for code in codes.iter().copied().chain([0, 1, 2, 3, 4, 5]) {
            let text = unsafe { CStr::from_ptr(smn_status_str(code)) };
            assert_ne!(text, unknown, "status {code} has no message");
            assert!(messages.insert(text.to_bytes()), "status {code} repeats a message");
        }
        // The table lists each status once.
        let listed: BTreeSet<i32> = MESSAGES.iter().map(|(s, _)| *s as i32).collect();
        assert_eq!(listed.len(), MESSAGES.len());
        assert_eq!(
            listed.len(),
            codes.len() + 6,
            "a status without an error, or the reverse"
        );
    }
}
