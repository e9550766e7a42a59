//! The C ABI called as C would call it: results equal firmware-core's, and
//! every bad argument gets its status code, never undefined behaviour.
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};
use smn_firmware_core::frame::{crop_resize, CropBox, Frame, PixelFormat};
use smn_firmware_core::Model;
use smn_firmware_ffi::smn_status::*;
use smn_firmware_ffi::*;

fn tiny_blob() -> Vec<u8> {
    random_smn_blob(&SmnShape::tiny(), 11).unwrap()
}

/// An initialised `smn_model` on the heap (it borrows `blob`).
fn init(blob: &[u8]) -> Box<smn_model> {
    let mut m = Box::new(MaybeUninit::<smn_model>::uninit());
    let status = unsafe { smn_model_init(m.as_mut_ptr(), blob.as_ptr(), blob.len()) };
    assert_eq!(status, SMN_OK);
    // SAFETY: initialised by a successful smn_model_init.
    unsafe { Box::from_raw(Box::into_raw(m).cast::<smn_model>()) }
}

fn run(m: &smn_model, rgb: &[u8], arena: &mut [u8]) -> (smn_status, smn_outputs) {
    let mut out = MaybeUninit::<smn_outputs>::zeroed();
    let status = unsafe {
        smn_run(
            m,
            rgb.as_ptr(),
            rgb.len(),
            arena.as_mut_ptr(),
            arena.len(),
            out.as_mut_ptr(),
        )
    };
    (status, unsafe { out.assume_init() })
}

#[test]
fn smn_run_equals_model_run_and_the_queries_equal_the_model() {
    let blob = tiny_blob();
    let model = Model::from_bytes(&blob).unwrap();
    let m = init(&blob);
    unsafe {
        assert_eq!(smn_model_arena_bytes(&*m), model.arena_bytes());
        assert_eq!(smn_model_frame_arena_bytes(&*m), model.frame_arena_bytes());
        assert_eq!(smn_model_input_width(&*m), model.input_width());
        assert_eq!(smn_model_input_height(&*m), model.input_height());
        assert_eq!(smn_model_input_bytes(&*m), model.input_len());
        assert_eq!(smn_model_macs(&*m), model.macs());
    }
    let image = synthetic_test_image(model.input_height(), model.input_width(), 5);
    let mut arena = vec![0u8; model.arena_bytes()];
    let (status, out) = run(&m, &image, &mut arena);
    assert_eq!(status, SMN_OK);
    let want = model.run(&image, &mut arena).unwrap();
    assert_eq!(out, smn_outputs::from(&want));
    assert!(out.attribute_flags.iter().all(|&f| f <= 1));
}

type Seen = Vec<(u32, u32, Vec<i8>)>;

unsafe extern "C" fn record(user: *mut std::ffi::c_void, op: u32, tensor: u32, data: *const i8, len: usize) {
    let seen = unsafe { &mut *user.cast::<Seen>() };
    seen.push((op, tensor, unsafe { std::slice::from_raw_parts(data, len) }.to_vec()));
}

#[test]
fn the_observer_sees_every_tensor_run_observed_sees() {
    let blob = tiny_blob();
    let model = Model::from_bytes(&blob).unwrap();
    let m = init(&blob);
    let image = synthetic_test_image(model.input_height(), model.input_width(), 6);
    let mut arena = vec![0u8; model.arena_bytes()];
    let mut seen: Seen = Vec::new();
    let mut out = MaybeUninit::<smn_outputs>::zeroed();
    let status = unsafe {
        smn_run_observed(
            &*m,
            image.as_ptr(),
            image.len(),
            arena.as_mut_ptr(),
            arena.len(),
            out.as_mut_ptr(),
            Some(record),
            (&mut seen as *mut Seen).cast(),
        )
    };
    assert_eq!(status, SMN_OK);
    let mut want = Vec::new();
    model
        .run_observed(&image, &mut arena, &mut |t| {
            want.push((t.op_index as u32, t.tensor as u32, t.data.to_vec()))
        })
        .unwrap();
    assert!(!want.is_empty());
    assert_eq!(seen, want);
}

#[test]
fn bad_arguments_get_their_status() {
    let blob = tiny_blob();
    let m = init(&blob);
    let n = unsafe { smn_model_input_bytes(&*m) };
    let image = vec![7u8; n];
    let mut arena = vec![0u8; unsafe { smn_model_arena_bytes(&*m) }];
    let mut out = MaybeUninit::<smn_outputs>::zeroed();
    let o = out.as_mut_ptr();
    let (a, alen) = (arena.as_mut_ptr(), arena.len());
    let img = image.as_ptr();
    unsafe {
        // NULLs.
        assert_eq!(
            smn_model_init(null_mut(), blob.as_ptr(), blob.len()),
            SMN_ERR_NULL_POINTER
        );
        let mut fresh = MaybeUninit::<smn_model>::zeroed();
        assert_eq!(smn_model_init(fresh.as_mut_ptr(), null(), 10), SMN_ERR_NULL_POINTER);
        assert_eq!(smn_run(null(), img, n, a, alen, o), SMN_ERR_NULL_POINTER);
        assert_eq!(smn_run(&*m, null(), n, a, alen, o), SMN_ERR_NULL_POINTER);
        assert_eq!(smn_run(&*m, img, n, null_mut(), alen, o), SMN_ERR_NULL_POINTER);
        assert_eq!(smn_run(&*m, img, n, a, alen, null_mut()), SMN_ERR_NULL_POINTER);
        assert_eq!(smn_model_arena_bytes(null()), 0);
        // A failed init leaves the model unusable, never half-initialised.
        assert_eq!(smn_run(fresh.as_ptr(), img, n, a, alen, o), SMN_ERR_NOT_INITIALISED);
        assert_eq!(smn_model_arena_bytes(fresh.as_ptr()), 0);
        // Blob errors carry the validation code.
        let mut bad = blob.clone();
        *bad.last_mut().unwrap() ^= 1;
        let f = fresh.as_mut_ptr();
        assert_eq!(smn_model_init(f, bad.as_ptr(), bad.len()), SMN_ERR_CRC_MISMATCH);
        assert_eq!(smn_model_init(f, bad.as_ptr(), 3), SMN_ERR_BLOB_TOO_SHORT);
        assert_eq!(smn_model_init(f, b"XXXXXXXXXXXXXXXXXX".as_ptr(), 18), SMN_ERR_BAD_MAGIC);
        assert_eq!(smn_model_arena_bytes(fresh.as_ptr()), 0);
        // Lengths.
        assert_eq!(smn_run(&*m, img, n - 1, a, alen, o), SMN_ERR_INPUT_SIZE);
        assert_eq!(smn_run(&*m, img, n, a, alen - 1, o), SMN_ERR_ARENA_TOO_SMALL);
        assert_eq!(smn_run(&*m, img, usize::MAX, a, alen, o), SMN_ERR_BAD_LENGTH);
        // Overlaps: the image inside the arena, the outputs inside the arena.
        let mut big = vec![0u8; alen + n];
        let b = big.as_mut_ptr();
        assert_eq!(
            smn_run(&*m, b.add(alen - 1), n, b, alen, o),
            SMN_ERR_OVERLAPPING_BUFFERS
        );
        assert_eq!(smn_run(&*m, b.add(alen), n, b, alen, o), SMN_OK);
        assert_eq!(
            smn_run(&*m, img, n, b, alen + n, b.add(8).cast()),
            SMN_ERR_OVERLAPPING_BUFFERS
        );
        // The arena may not hold the blob.
        let mut blob_in_arena = vec![0u8; blob.len() + alen];
        blob_in_arena[..blob.len()].copy_from_slice(&blob);
        let inner = init(&blob_in_arena[..blob.len()]);
        let p = blob_in_arena.as_mut_ptr();
        assert_eq!(smn_run(&*inner, img, n, p, alen, o), SMN_ERR_OVERLAPPING_BUFFERS);
        assert_eq!(smn_run(&*inner, img, n, p.add(blob.len()), alen, o), SMN_OK);
    }
}

fn frame_for(pixels: &[u8], format: u32, width: u32, height: u32, stride: u32) -> smn_frame {
    smn_frame {
        pixels: pixels.as_ptr(),
        len: pixels.len(),
        format,
        width,
        height,
        stride,
    }
}

#[test]
fn smn_run_frame_equals_model_run_frame_and_refuses_bad_frames() {
    let blob = tiny_blob();
    let model = Model::from_bytes(&blob).unwrap();
    let m = init(&blob);
    let (w, h) = (37u32, 29u32);
    let pixels: Vec<u8> = (0..(w * h * 2) as usize).map(|i| (i * 7 % 251) as u8).collect();
    let frame = frame_for(&pixels, SMN_PIXEL_RGB565_LE, w, h, w * 2);
    let crop = smn_crop_box {
        left: -3 * SMN_Q16_ONE + 12345,
        top: 2 * SMN_Q16_ONE,
        size: 30 * SMN_Q16_ONE + 777,
    };
    let mut arena = vec![0u8; model.frame_arena_bytes()];
    let (a, alen) = (arena.as_mut_ptr(), arena.len());
    let mut out = MaybeUninit::<smn_outputs>::zeroed();
    let o = out.as_mut_ptr();
    assert_eq!(unsafe { smn_run_frame(&*m, &frame, &crop, a, alen, o) }, SMN_OK);
    let rust_frame = Frame {
        pixels: &pixels,
        format: PixelFormat::Rgb565Le,
        width: w as usize,
        height: h as usize,
        stride: (w * 2) as usize,
    };
    let rust_box = CropBox {
        left: crop.left,
        top: crop.top,
        size: crop.size,
    };
    let want = model.run_frame(&rust_frame, rust_box, &mut vec![0; alen]).unwrap();
    assert_eq!(unsafe { out.assume_init() }, smn_outputs::from(&want));

    // The crop alone.
    let mut rgb = vec![0u8; model.input_len()];
    let mut want_rgb = rgb.clone();
    crop_resize(&rust_frame, rust_box, model.input_width(), &mut want_rgb).unwrap();
    let status = unsafe { smn_frame_to_input(&*m, &frame, &crop, rgb.as_mut_ptr(), rgb.len()) };
    assert_eq!(status, SMN_OK);
    assert_eq!(rgb, want_rgb);
    let short = unsafe { smn_frame_to_input(&*m, &frame, &crop, rgb.as_mut_ptr(), rgb.len() - 1) };
    assert_eq!(short, SMN_ERR_OUTPUT_LENGTH);

    let call =
        |frame: &smn_frame, crop: &smn_crop_box, alen: usize| unsafe { smn_run_frame(&*m, frame, crop, a, alen, o) };
    assert_eq!(call(&frame, &crop, alen - 1), SMN_ERR_ARENA_TOO_SMALL);
    assert_eq!(
        call(&smn_frame { format: 9, ..frame }, &crop, alen),
        SMN_ERR_PIXEL_FORMAT
    );
    assert_eq!(call(&smn_frame { width: 0, ..frame }, &crop, alen), SMN_ERR_FRAME_SIZE);
    assert_eq!(
        call(&smn_frame { stride: w, ..frame }, &crop, alen),
        SMN_ERR_FRAME_STRIDE
    );
    let short_frame = smn_frame {
        len: pixels.len() - 1,
        ..frame
    };
    assert_eq!(call(&short_frame, &crop, alen), SMN_ERR_FRAME_TOO_SHORT);
    assert_eq!(
        call(
            &smn_frame {
                pixels: null(),
                ..frame
            },
            &crop,
            alen
        ),
        SMN_ERR_NULL_POINTER
    );
    assert_eq!(call(&frame, &smn_crop_box { size: 0, ..crop }, alen), SMN_ERR_CROP_BOX);
    assert_eq!(
        call(&frame, &smn_crop_box { left: i32::MIN, ..crop }, alen),
        SMN_ERR_CROP_BOX
    );
    assert_eq!(
        call(&frame, &smn_crop_box { size: i32::MAX, ..crop }, alen),
        SMN_ERR_CROP_BOX
    );
    assert_eq!(
        unsafe { smn_run_frame(&*m, null(), &crop, a, alen, o) },
        SMN_ERR_NULL_POINTER
    );
    assert_eq!(
        unsafe { smn_run_frame(&*m, &frame, null(), a, alen, o) },
        SMN_ERR_NULL_POINTER
    );
    // The arena over the frame's pixels.
    let mut shared = pixels.clone();
    shared.resize(pixels.len() + alen, 0);
    let over = frame_for(&shared[..pixels.len()], SMN_PIXEL_RGB565_LE, w, h, w * 2);
    let status = unsafe { smn_run_frame(&*m, &over, &crop, shared.as_mut_ptr().add(4), alen, o) };
    assert_eq!(status, SMN_ERR_OVERLAPPING_BUFFERS);
    // Grey and RGB888 frames run too.
    let grey = frame_for(&pixels[..(w * h) as usize], SMN_PIXEL_GRAY8, w, h, w);
    assert_eq!(call(&grey, &crop, alen), SMN_OK);
    let rgb888 = frame_for(
        &pixels[..(w * (h - 10) * 3) as usize],
        SMN_PIXEL_RGB888,
        w,
        h - 10,
        w * 3,
    );
    assert_eq!(call(&rgb888, &crop, alen), SMN_OK);
}
