//! The op graph: ids, order, shapes and windows.
use smn_firmware_core::format::{Clamp, Op, MAX_TENSORS};
use smn_firmware_core::Error;
use smn_tests::blob_edit::*;

#[test]
fn unknown_tensor_ids_are_rejected() {
    rejects(Error::UnknownTensor { op: 0, tensor: 21 }, |p| conv(p, 0).input = 21);
    rejects(Error::UnknownTensor { op: 0, tensor: 21 }, |p| conv(p, 0).output = 21);
    rejects(Error::UnknownTensor { op: 6, tensor: 500 }, |p| {
        concat(p, 6).input_b = 500
    });
    rejects(
        Error::UnknownTensor {
            op: 1,
            tensor: u16::MAX,
        },
        |p| pool(p, 1).output = u16::MAX,
    );
    rejects(
        Error::UnknownTensor {
            op: 20,
            tensor: u16::MAX,
        },
        |p| landmark(p, 20).input = u16::MAX,
    );
    rejects(
        Error::UnknownTensor {
            op: 10,
            tensor: MAX_TENSORS as u16,
        },
        |p| fc(p, 10).input = MAX_TENSORS as u16,
    );
}

#[test]
fn reads_before_writes_are_rejected() {
    rejects(Error::ReadBeforeWrite { op: 0, tensor: 1 }, |p| p.ops.swap(0, 1));
    rejects(Error::ReadBeforeWrite { op: 2, tensor: 5 }, |p| conv(p, 2).input = 5);
    rejects(Error::ReadBeforeWrite { op: 6, tensor: 9 }, |p| {
        concat(p, 6).input_b = 9
    });
    rejects(Error::ReadBeforeWrite { op: 0, tensor: 12 }, |p| {
        let head = p.ops.remove(20);
        p.ops.insert(0, head);
    });
    // An op reading its own output.
    rejects(Error::ReadBeforeWrite { op: 0, tensor: 1 }, |p| conv(p, 0).input = 1);
}

#[test]
fn tensors_written_twice_are_rejected() {
    rejects(Error::WrittenTwice { op: 4, tensor: 1 }, |p| conv(p, 4).output = 1);
    rejects(Error::WrittenTwice { op: 0, tensor: 0 }, |p| conv(p, 0).output = 0);
    rejects(Error::WrittenTwice { op: 1, tensor: 1 }, |p| p.ops.insert(1, p.ops[0]));
    rejects(Error::WrittenTwice { op: 19, tensor: 12 }, |p| fc(p, 19).output = 12);
}

// ---------------------------------------------------------------------------
// Op graph: shapes and windows
// ---------------------------------------------------------------------------

#[test]
fn shapes_that_do_not_chain_are_rejected() {
    rejects(Error::ShapeMismatch { op: 0 }, |p| tensor(p, 1).height = 15);
    rejects(Error::ShapeMismatch { op: 1 }, |p| tensor(p, 2).width = 7);
    rejects(Error::ShapeMismatch { op: 1 }, |p| tensor(p, 2).channels = 5);
    rejects(Error::ShapeMismatch { op: 6 }, |p| tensor(p, 7).width = 7);
    rejects(Error::ShapeMismatch { op: 9 }, |p| concat(p, 9).input_b = 2); // 8×8 next to 4×4
    rejects(Error::ShapeMismatch { op: 10 }, |p| tensor(p, 11).height = 2);
    // A window that fits but gives another size: 5×5 kernel, padding 1.
    rejects(Error::ShapeMismatch { op: 0 }, |p| {
        let w = &mut conv(p, 0).window;
        (w.kernel_h, w.kernel_w) = (5, 5);
    });
    // Pool over the wrong input (4 channels in, 8 out).
    rejects(Error::ShapeMismatch { op: 3 }, |p| pool(p, 3).input = 1);
    // Stride 1 instead of 2: 15 rows out, not 8.
    rejects(Error::ShapeMismatch { op: 1 }, |p| pool(p, 1).window.stride_h = 1);
}

#[test]
fn invalid_windows_are_rejected() {
    rejects(Error::InvalidWindow { op: 0 }, |p| conv(p, 0).window.stride_h = 0);
    rejects(Error::InvalidWindow { op: 0 }, |p| conv(p, 0).window.kernel_w = 0);
    rejects(Error::InvalidWindow { op: 0 }, |p| conv(p, 0).window.pad_top = 3);
    rejects(Error::InvalidWindow { op: 1 }, |p| pool(p, 1).window.pad_right = 2);
    rejects(Error::InvalidWindow { op: 3 }, |p| {
        let w = &mut pool(p, 3).window;
        (w.kernel_h, w.kernel_w) = (255, 255);
    });
    // Padding below the kernel size is valid: 2×2/2 over 16 + 1 columns still gives 8.
    accepts(|p| pool(p, 1).window.pad_right = 1);
    accepts(|p| {
        p.ops[1] = Op::AvgPool2d(*pool(p, 1));
        pool(p, 1).window.pad_left = 1;
    });
}

#[test]
fn invalid_clamps_and_quant_mismatches_are_rejected() {
    rejects(Error::InvalidClamp { op: 0 }, |p| {
        conv(p, 0).clamp = Clamp { min: 5, max: 4 }
    });
    rejects(Error::InvalidClamp { op: 6 }, |p| {
        concat(p, 6).clamp = Clamp { min: 127, max: -128 }
    });
    rejects(Error::InvalidClamp { op: 19 }, |p| {
        fc(p, 19).clamp = Clamp { min: 0, max: -1 }
    });
    accepts(|p| conv(p, 0).clamp = Clamp { min: 7, max: 7 });
    rejects(Error::QuantMismatch { op: 1 }, |p| tensor(p, 2).quant.zero_point = -127);
    rejects(Error::QuantMismatch { op: 1 }, |p| {
        let q = &mut tensor(p, 2).quant;
        q.scale = f32::from_bits(q.scale.to_bits() + 1);
    });
    // Average pooling has the same requirement.
    rejects(Error::QuantMismatch { op: 1 }, |p| {
        p.ops[1] = Op::AvgPool2d(*pool(p, 1));
        tensor(p, 2).quant.zero_point = 0;
    });
    accepts(|p| p.ops[1] = Op::AvgPool2d(*pool(p, 1)));
}
