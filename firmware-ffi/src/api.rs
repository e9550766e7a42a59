//! The exported C functions (`include/smn.h`).
use core::ffi::c_void;
use smn_firmware_core::frame::{CropBox, Frame};
use smn_firmware_core::{Model, OpTrace, Outputs};

use crate::buffers::{bytes, bytes_mut, check_disjoint, value, Span};
use crate::status::smn_status::{self, *};
use crate::types::{pixel_format, smn_crop_box, smn_frame, smn_model, smn_observer, smn_outputs};

/// Marks storage filled by a successful [`smn_model_init`].
const SMN_MODEL_TAG: u64 = 0x534D_4E5F_4D4F_4445; // "SMN_MODE"

fn status(result: Result<(), smn_status>) -> smn_status {
    result.err().unwrap_or(SMN_OK)
}

/// The validated model in `m`, and the span of its blob.
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
unsafe fn model<'a>(m: *const smn_model) -> Result<(&'a Model<'static>, Span), smn_status> {
    // SAFETY: the caller's contract.
    let m = unsafe { value(m) }?;
    if m.tag != SMN_MODEL_TAG {
        return Err(SMN_ERR_NOT_INITIALISED);
    }
    // SAFETY: the tag is set only after `smn_model_init` wrote a `Model` at
    // the start of `storage` (size and alignment checked at compile time in
    // `types.rs`); the blob it borrows outlives `m` by the C contract.
    let model = unsafe { &*m.storage.as_ptr().cast::<Model<'static>>() };
    Ok((model, Span::new(m.blob, m.blob_len)))
}

/// Validates the model blob `blob` (`len` bytes, read in place: it must stay
/// unchanged and alive as long as `m` is used) and fills `m`.
///
/// Returns `SMN_OK`, `SMN_ERR_NULL_POINTER`, `SMN_ERR_OVERLAPPING_BUFFERS`
/// (the blob lies inside `m`) or the code of the first validation failure
/// (`SMN_ERR_BLOB_TOO_SHORT` … `SMN_ERR_HEAD_COUNT`). On failure `m` is left
/// uninitialised (every later call on it returns `SMN_ERR_NOT_INITIALISED`).
///
/// # Safety
/// `m` points to writable `smn_model` storage; `blob` to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn smn_model_init(m: *mut smn_model, blob: *const u8, len: usize) -> smn_status {
    status((|| {
        if m.is_null() {
            return Err(SMN_ERR_NULL_POINTER);
        }
        check_disjoint(&[Span::of(m)], &[Span::new(blob, len)])?;
        // SAFETY: `m` is non-NULL and does not overlap the blob.
        unsafe { core::ptr::addr_of_mut!((*m).tag).write(0) };
        // SAFETY: the caller's contract (readable, unchanged while `m` lives).
        let blob = unsafe { bytes(blob, len) }?;
        let model = Model::from_bytes(blob)?;
        // SAFETY: `m` is valid for writes; the storage holds a `Model`
        // (size and alignment asserted in `types.rs`).
        unsafe {
            core::ptr::addr_of_mut!((*m).storage).cast::<Model<'_>>().write(model);
            core::ptr::addr_of_mut!((*m).blob).write(blob.as_ptr());
            core::ptr::addr_of_mut!((*m).blob_len).write(blob.len());
            core::ptr::addr_of_mut!((*m).tag).write(SMN_MODEL_TAG);
        }
        Ok(())
    })())
}

/// A model property, or 0 for a NULL or uninitialised `m`.
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
unsafe fn property(m: *const smn_model, f: impl FnOnce(&Model<'static>) -> usize) -> usize {
    // SAFETY: the caller's contract.
    unsafe { model(m) }.map_or(0, |(model, _)| f(model))
}

/// Bytes of arena `smn_run` needs (0 if `m` is NULL or not initialised).
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
#[no_mangle]
pub unsafe extern "C" fn smn_model_arena_bytes(m: *const smn_model) -> usize {
    // SAFETY: the caller's contract.
    unsafe { property(m, Model::arena_bytes) }
}

/// Bytes of arena `smn_run_frame` needs: `smn_model_arena_bytes` plus the
/// cropped model input (0 if `m` is NULL or not initialised).
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
#[no_mangle]
pub unsafe extern "C" fn smn_model_frame_arena_bytes(m: *const smn_model) -> usize {
    // SAFETY: the caller's contract.
    unsafe { property(m, Model::frame_arena_bytes) }
}

/// Model input width in pixels (0 if `m` is NULL or not initialised).
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
#[no_mangle]
pub unsafe extern "C" fn smn_model_input_width(m: *const smn_model) -> usize {
    // SAFETY: the caller's contract.
    unsafe { property(m, Model::input_width) }
}

/// Model input height in pixels (0 if `m` is NULL or not initialised).
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
#[no_mangle]
pub unsafe extern "C" fn smn_model_input_height(m: *const smn_model) -> usize {
    // SAFETY: the caller's contract.
    unsafe { property(m, Model::input_height) }
}

/// Bytes of the RGB image `smn_run` takes: height × width × 3, interleaved,
/// row-major (0 if `m` is NULL or not initialised).
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
#[no_mangle]
pub unsafe extern "C" fn smn_model_input_bytes(m: *const smn_model) -> usize {
    // SAFETY: the caller's contract.
    unsafe { property(m, Model::input_len) }
}

/// Multiply-accumulates of one forward pass (0 if `m` is NULL or not
/// initialised).
///
/// # Safety
/// A non-NULL `m` points to a readable `smn_model`.
#[no_mangle]
pub unsafe extern "C" fn smn_model_macs(m: *const smn_model) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { model(m) }.map_or(0, |(model, _)| model.macs())
}

/// Runs the network on an RGB image and writes `*out`.
///
/// `rgb`: `smn_model_input_bytes(m)` bytes; `arena`: at least
/// `smn_model_arena_bytes(m)` writable bytes (its contents are scratch).
/// No two of `m`'s blob, `rgb`, `arena`, `out` may overlap.
///
/// # Safety
/// Non-NULL pointers name buffers of the stated lengths (`out`: one
/// `smn_outputs`), valid for the call.
#[no_mangle]
pub unsafe extern "C" fn smn_run(
    m: *const smn_model,
    rgb: *const u8,
    rgb_len: usize,
    arena: *mut u8,
    arena_len: usize,
    out: *mut smn_outputs,
) -> smn_status {
    // SAFETY: forwarded contract.
    unsafe { smn_run_observed(m, rgb, rgb_len, arena, arena_len, out, None, core::ptr::null_mut()) }
}

/// `smn_run`, calling `observer(user, op_index, tensor_id, data, len)`
/// after every op with the int8 tensor it wrote (for tracing and parity
/// checks; `data` points into `arena` and is valid only during the call).
/// A NULL `observer` makes this `smn_run`.
///
/// # Safety
/// As `smn_run`; `observer`, if not NULL, is safe to call with `user`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn smn_run_observed(
    m: *const smn_model,
    rgb: *const u8,
    rgb_len: usize,
    arena: *mut u8,
    arena_len: usize,
    out: *mut smn_outputs,
    observer: smn_observer,
    user: *mut c_void,
) -> smn_status {
    status((|| {
        // SAFETY: the caller's contract.
        let (model, blob) = unsafe { model(m) }?;
        if rgb.is_null() || arena.is_null() || out.is_null() {
            return Err(SMN_ERR_NULL_POINTER);
        }
        check_disjoint(
            &[Span::new(arena, arena_len), Span::of(out)],
            &[Span::new(rgb, rgb_len), blob, Span::of(m)],
        )?;
        // SAFETY: the caller's contract; exclusive by the overlap check.
        let (rgb, arena) = unsafe { (bytes(rgb, rgb_len)?, bytes_mut(arena, arena_len)?) };
        let mut observe = |trace: OpTrace<'_>| {
            if let Some(f) = observer {
                // SAFETY: the caller's contract for `observer` and `user`.
                unsafe {
                    f(
                        user,
                        trace.op_index as u32,
                        trace.tensor as u32,
                        trace.data.as_ptr(),
                        trace.data.len(),
                    )
                };
            }
        };
        let outputs = model.run_observed(rgb, arena, &mut observe)?;
        write_outputs(out, &outputs);
        Ok(())
    })())
}

/// Writes `outputs` to `out` (non-NULL, checked disjoint by the caller).
fn write_outputs(out: *mut smn_outputs, outputs: &Outputs) {
    // SAFETY: `out` is non-NULL, writable (the C contract) and overlaps no
    // buffer borrowed by the call; `write` needs no initialised target.
    unsafe { out.write(smn_outputs::from(outputs)) };
}

/// The frame and box of a C call, checked.
///
/// # Safety
/// Non-NULL `frame`/`crop` point to readable structs; `frame.pixels` to
/// `frame.len` readable bytes.
unsafe fn frame_and_box<'a>(
    frame: *const smn_frame,
    crop: *const smn_crop_box,
) -> Result<(Frame<'a>, CropBox, Span), smn_status> {
    // SAFETY: the caller's contract.
    let (f, c) = unsafe { (value(frame)?, value(crop)?) };
    // SAFETY: the caller's contract.
    let pixels = unsafe { bytes(f.pixels, f.len) }?;
    let format = pixel_format(f.format).ok_or(SMN_ERR_PIXEL_FORMAT)?;
    let frame = Frame {
        pixels,
        format,
        width: f.width as usize,
        height: f.height as usize,
        stride: f.stride as usize,
    };
    let crop = CropBox {
        left: c.left,
        top: c.top,
        size: c.size,
    };
    Ok((frame, crop, Span::new(f.pixels, f.len)))
}

/// Crops the face box `crop` out of `frame`, resizes it to the model input
/// in fixed point (`docs/frame-input.md`), runs the network and writes
/// `*out` with the landmarks in **frame** pixels.
///
/// `arena`: at least `smn_model_frame_arena_bytes(m)` bytes (the network's
/// arena, then the crop). Frame or box errors: `SMN_ERR_PIXEL_FORMAT`,
/// `SMN_ERR_FRAME_SIZE`, `SMN_ERR_FRAME_STRIDE`, `SMN_ERR_FRAME_TOO_SHORT`,
/// `SMN_ERR_CROP_BOX`, `SMN_ERR_INPUT_NOT_SQUARE`.
///
/// # Safety
/// Non-NULL pointers name valid structs and buffers of the stated lengths.
#[no_mangle]
pub unsafe extern "C" fn smn_run_frame(
    m: *const smn_model,
    frame: *const smn_frame,
    crop: *const smn_crop_box,
    arena: *mut u8,
    arena_len: usize,
    out: *mut smn_outputs,
) -> smn_status {
    status((|| {
        // SAFETY: the caller's contract.
        let (model, blob) = unsafe { model(m) }?;
        if arena.is_null() || out.is_null() {
            return Err(SMN_ERR_NULL_POINTER);
        }
        // SAFETY: the caller's contract.
        let (frame_in, crop_in, pixels) = unsafe { frame_and_box(frame, crop) }?;
        check_disjoint(
            &[Span::new(arena, arena_len), Span::of(out)],
            &[pixels, blob, Span::of(m), Span::of(frame), Span::of(crop)],
        )?;
        // SAFETY: the caller's contract; exclusive by the overlap check.
        let arena = unsafe { bytes_mut(arena, arena_len) }?;
        let outputs = model.run_frame(&frame_in, crop_in, arena)?;
        write_outputs(out, &outputs);
        Ok(())
    })())
}

/// Only the crop and resize of `smn_run_frame`: writes the model input
/// (`smn_model_input_bytes(m)` RGB bytes) for `crop` of `frame` to `rgb`,
/// e.g. to show what the network sees, or to time the two steps apart.
///
/// # Safety
/// Non-NULL pointers name valid structs and buffers of the stated lengths.
#[no_mangle]
pub unsafe extern "C" fn smn_frame_to_input(
    m: *const smn_model,
    frame: *const smn_frame,
    crop: *const smn_crop_box,
    rgb: *mut u8,
    rgb_len: usize,
) -> smn_status {
    status((|| {
        // SAFETY: the caller's contract.
        let (model, blob) = unsafe { model(m) }?;
        if rgb.is_null() {
            return Err(SMN_ERR_NULL_POINTER);
        }
        // SAFETY: the caller's contract.
        let (frame_in, crop_in, pixels) = unsafe { frame_and_box(frame, crop) }?;
        check_disjoint(
            &[Span::new(rgb, rgb_len)],
            &[pixels, blob, Span::of(m), Span::of(frame), Span::of(crop)],
        )?;
        // SAFETY: the caller's contract; exclusive by the overlap check.
        let rgb = unsafe { bytes_mut(rgb, rgb_len) }?;
        model.frame_input(&frame_in, crop_in, rgb)?;
        Ok(())
    })())
}
