//! The C-visible types: model storage, outputs, frames and boxes.
use smn_firmware_core::frame::{PixelFormat, ONE};
use smn_firmware_core::{Model, Outputs, ATTRIBUTE_COUNT, LANDMARK_COUNT};

/// Landmarks per face: left eye, right eye, nose, left and right mouth corner.
pub const SMN_LANDMARK_COUNT: usize = 5;
/// Values of `smn_outputs.landmarks`: `x0, y0, x1, y1, …`.
pub const SMN_LANDMARK_VALUES: usize = 10;
/// CelebA attributes, in the order of `list_attr_celeba.txt`.
pub const SMN_ATTRIBUTE_COUNT: usize = 40;
/// One pixel in `smn_crop_box` units (Q16.16).
pub const SMN_Q16_ONE: i32 = 65536;

/// `smn_frame.format`: 16-bit RGB565, low byte first.
pub const SMN_PIXEL_RGB565_LE: u32 = 0;
/// `smn_frame.format`: 16-bit RGB565, high byte first.
pub const SMN_PIXEL_RGB565_BE: u32 = 1;
/// `smn_frame.format`: 24-bit R, G, B.
pub const SMN_PIXEL_RGB888: u32 = 2;
/// `smn_frame.format`: 8-bit grey. Expanded to (g, g, g): a model trained on
/// RGB sees a grey face, so measure the accuracy cost before relying on it.
pub const SMN_PIXEL_GRAY8: u32 = 3;

/// 64-bit words of [`smn_model`] storage (room for the validated tensor
/// table on 32- and 64-bit targets).
pub const SMN_MODEL_STORAGE_WORDS: usize = 336;

const _: () = assert!(SMN_LANDMARK_COUNT == LANDMARK_COUNT && SMN_ATTRIBUTE_COUNT == ATTRIBUTE_COUNT);
const _: () = assert!(SMN_LANDMARK_VALUES == 2 * SMN_LANDMARK_COUNT);
const _: () = assert!(SMN_Q16_ONE == ONE);
const _: () = assert!(core::mem::size_of::<Model<'static>>() <= 8 * SMN_MODEL_STORAGE_WORDS);
const _: () = assert!(core::mem::align_of::<Model<'static>>() <= 8);

/// Caller-allocated storage of a validated model (declare it as a static
/// or on the stack; fill it with `smn_model_init`). Opaque: do not touch
/// its fields. It refers to the blob, which must outlive it.
#[repr(C)]
pub struct smn_model {
    /// `SMN_MODEL_TAG` once `smn_model_init` succeeded.
    pub(crate) tag: u64,
    /// Start of the blob the model reads in place.
    pub(crate) blob: *const u8,
    /// Length of the blob.
    pub(crate) blob_len: usize,
    /// The validated model (a `smn_firmware_core::Model`).
    pub(crate) storage: [u64; SMN_MODEL_STORAGE_WORDS],
}

/// What a forward pass returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct smn_outputs {
    /// `x0, y0, x1, y1, …` per landmark (left eye, right eye, nose, left
    /// and right mouth corner): pixels of the model input for `smn_run`,
    /// pixels of the frame for `smn_run_frame` (pixel centres at integers).
    pub landmarks: [f32; SMN_LANDMARK_VALUES],
    /// The int8 values the landmarks were dequantised from (`x0, y0, …`).
    pub landmarks_q: [i8; SMN_LANDMARK_VALUES],
    /// Attribute probabilities in [0, 1].
    pub attribute_probs: [f32; SMN_ATTRIBUTE_COUNT],
    /// The int8 logits the probabilities come from.
    pub attribute_logits_q: [i8; SMN_ATTRIBUTE_COUNT],
    /// 1 where the logit is > 0 (probability > 0.5), else 0.
    pub attribute_flags: [u8; SMN_ATTRIBUTE_COUNT],
}

impl From<&Outputs> for smn_outputs {
    fn from(o: &Outputs) -> Self {
        smn_outputs {
            landmarks: {
                let mut flat = [0.0; SMN_LANDMARK_VALUES];
                for (dst, src) in flat.iter_mut().zip(o.landmarks.iter().flatten()) {
                    *dst = *src;
                }
                flat
            },
            landmarks_q: o.landmarks_q,
            attribute_probs: o.attribute_probs,
            attribute_logits_q: o.attribute_logits_q,
            attribute_flags: o.attribute_flags.map(u8::from),
        }
    }
}

/// A camera frame, read in place.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct smn_frame {
    /// `height` rows of `stride` bytes (the last row may stop after its
    /// pixels).
    pub pixels: *const u8,
    /// Bytes readable at `pixels`.
    pub len: usize,
    /// One of `SMN_PIXEL_*`.
    pub format: u32,
    /// Columns (1..16384).
    pub width: u32,
    /// Rows (1..16384).
    pub height: u32,
    /// Bytes from one row to the next (>= width × bytes per pixel).
    pub stride: u32,
}

/// A square face box in frame pixels, Q16.16 (`SMN_Q16_ONE` = one pixel):
/// the left and top pixel *edges* (`left = 10 * SMN_Q16_ONE` is the left edge
/// of column 10) and the side. It may extend past the frame (edge pixels
/// repeat, as in training) by up to one frame side.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct smn_crop_box {
    /// Left edge, Q16.16 pixels.
    pub left: i32,
    /// Top edge, Q16.16 pixels.
    pub top: i32,
    /// Side, Q16.16 pixels (> 0).
    pub size: i32,
}

/// The [`PixelFormat`] of an `SMN_PIXEL_*` value.
pub(crate) fn pixel_format(format: u32) -> Option<PixelFormat> {
    match format {
        SMN_PIXEL_RGB565_LE => Some(PixelFormat::Rgb565Le),
        SMN_PIXEL_RGB565_BE => Some(PixelFormat::Rgb565Be),
        SMN_PIXEL_RGB888 => Some(PixelFormat::Rgb888),
        SMN_PIXEL_GRAY8 => Some(PixelFormat::Gray8),
        _ => None,
    }
}

/// Called by `smn_run_observed` after each op with the tensor it wrote:
/// `(user, op_index, tensor_id, data, len)`; `data` is valid only during
/// the call.
pub type smn_observer = Option<unsafe extern "C" fn(*mut core::ffi::c_void, u32, u32, *const i8, usize)>;
