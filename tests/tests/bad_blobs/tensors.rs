//! The tensor table: sizes, scales, placement, overlaps.
use smn_firmware_core::format::{Conv2d, TensorDesc};
use smn_firmware_core::{Error, Model};
use smn_tests::blob_edit::*;

#[test]
fn empty_tensors_are_rejected() {
    rejects(Error::EmptyTensor { tensor: 3 }, |p| tensor(p, 3).channels = 0);
    rejects(Error::EmptyTensor { tensor: 0 }, |p| tensor(p, 0).height = 0);
    rejects(Error::EmptyTensor { tensor: 20 }, |p| tensor(p, 20).width = 0);
}

#[test]
fn invalid_scales_are_rejected() {
    for scale in [
        0.0f32,
        -0.0,
        -1.0,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        rejects(Error::InvalidScale { tensor: 5 }, |p| tensor(p, 5).quant.scale = scale);
        rejects(Error::InvalidScale { tensor: 0 }, |p| tensor(p, 0).quant.scale = scale);
    }
    // The smallest subnormal is finite and positive (t12 feeds only the landmark head).
    accepts(|p| tensor(p, 12).quant.scale = f32::from_bits(1));
    accepts(|p| tensor(p, 20).quant.scale = f32::MAX);
}

#[test]
fn tensors_outside_the_arena_are_rejected() {
    let p = decode(tiny());
    let arena = p.header.arena_bytes;
    rejects(Error::TensorOutsideArena { tensor: 4 }, |p| tensor(p, 4).offset = arena);
    rejects(Error::TensorOutsideArena { tensor: 4 }, |p| {
        tensor(p, 4).offset = arena - 128 + 1
    });
    rejects(Error::TensorOutsideArena { tensor: 0 }, |p| {
        tensor(p, 0).offset = u32::MAX
    });
    // The first tensor (by id) that ends at the arena's end sticks out of a
    // one byte smaller arena.
    let end = |t: &TensorDesc| u64::from(t.offset) + u64::from(t.height) * u64::from(t.width) * u64::from(t.channels);
    let last = std::iter::once(&p.header.input)
        .chain(&p.tensors)
        .position(|t| end(t) == u64::from(arena))
        .unwrap();
    rejects(Error::TensorOutsideArena { tensor: last as u16 }, |p| {
        p.header.arena_bytes -= 1
    });
    rejects(Error::TensorOutsideArena { tensor: 0 }, |p| p.header.arena_bytes = 0);
    // A larger arena and a tensor moved into the new space are fine.
    accepts(|p| p.header.arena_bytes += 1000);
    accepts(|p| {
        p.header.arena_bytes += 1000;
        tensor(p, 4).offset = arena + 1000 - 128;
    });
}

#[test]
fn huge_dimensions_do_not_overflow() {
    // 65535³ bytes at offset u32::MAX: the end needs 49 bits. On 64-bit hosts
    // it is outside any u32 arena; a 32-bit build reports the overflow.
    let huge = if cfg!(target_pointer_width = "64") {
        Error::TensorOutsideArena { tensor: 1 }
    } else {
        Error::SizeOverflow { tensor: 1 }
    };
    rejects(huge, |p| {
        let t = tensor(p, 1);
        (t.height, t.width, t.channels, t.offset) = (u16::MAX, u16::MAX, u16::MAX, u32::MAX);
    });
    rejects(huge, |p| {
        p.header.arena_bytes = u32::MAX;
        let t = tensor(p, 1);
        (t.height, t.width, t.channels) = (u16::MAX, u16::MAX, u16::MAX);
    });
    // 4 GiB arena, a tensor of exactly u32::MAX bytes ending at its end: every
    // tensor fits, the op walk then finds the shapes do not chain.
    rejects(Error::ShapeMismatch { op: 0 }, |p| {
        p.header.arena_bytes = u32::MAX;
        let t = tensor(p, 1);
        // 65535 · 65537 = 2^32 − 1.
        (t.height, t.width, t.channels, t.offset) = (65_535, 1, 1, 0);
    });
    // A 255×255 kernel (padded to keep 16×16): 195075 taps, more than the
    // kernels' patch buffer (and than an i32 accumulator could take).
    rejects(Error::PatchTooLarge { op: 0 }, |p| set_kernel(conv(p, 0), 255, 255));
}

/// Sets conv `c`'s kernel to `kh × kw` with the padding that keeps the output
/// size (stride 1), and weights of the matching length (±127, alternating).
fn set_kernel(c: &mut Conv2d<'static>, kh: u8, kw: u8) {
    let taps = usize::from(kh) * usize::from(kw) * 3;
    let out_c = c.weights.0.len() / (usize::from(c.window.kernel_h) * usize::from(c.window.kernel_w) * 3);
    c.window.kernel_h = kh;
    c.window.kernel_w = kw;
    c.window.pad_top = kh / 2;
    c.window.pad_bottom = (kh - 1) / 2;
    c.window.pad_left = kw / 2;
    c.window.pad_right = (kw - 1) / 2;
    c.weights = leak((0..out_c * taps).map(|i| [127u8, 0x81][i % 2]).collect());
}

#[test]
fn conv_patch_length_is_limited() {
    use smn_firmware_core::kernels::dot::MAX_PATCH;
    // op 0 reads the 3-channel input: a kh × 26 kernel has kh · 78 taps.
    let kh_max = u8::try_from(MAX_PATCH / (26 * 3)).unwrap();
    accepts(|p| set_kernel(conv(p, 0), kh_max, 26));
    rejects(Error::PatchTooLarge { op: 0 }, |p| {
        set_kernel(conv(p, 0), kh_max + 1, 26)
    });
    accepts(|p| set_kernel(conv(p, 0), 9, 9));
    accepts(|p| set_kernel(conv(p, 0), 1, 1));
    accepts(|p| set_kernel(conv(p, 0), 2, 5));
}

/// Tensor 2 moved to offset `u32::MAX`: its end does not fit a 32-bit
/// address space (`SizeOverflow` there); on a 64-bit host it lies outside
/// the arena. The 32-bit check itself is unit-tested on every host
/// (`validate::tests::tensor_end_past_a_32_bit_address_space_overflows`).
#[test]
fn size_overflow_on_32_bit() {
    let expected = if cfg!(target_pointer_width = "32") {
        Error::SizeOverflow { tensor: 2 }
    } else {
        Error::TensorOutsideArena { tensor: 2 }
    };
    rejects(expected, |p| tensor(p, 2).offset = u32::MAX);
}

#[test]
fn overlapping_live_tensors_are_rejected() {
    // s1 (t2, live until op 14 reads it) moved onto t1 (op 1's input, which writes t2).
    let t1 = decode(tiny()).tensors[0].offset;
    rejects(Error::OverlappingTensors { a: 1, b: 2 }, |p| tensor(p, 2).offset = t1);
    // The landmark output t12 (live until the landmark head, op 20) moved
    // onto t13, which the attribute branch writes meanwhile.
    rejects(Error::OverlappingTensors { a: 12, b: 13 }, |p| tensor(p, 12).offset = 0);
    // A concat's output on its own-branch input `a` (t6, read by no later op):
    // exactly in place is allowed (the kernel reads a pixel pair before
    // writing it) and runs; shifted by a byte it is an overlap.
    let t6 = decode(tiny()).tensors[5].offset;
    accepts(|p| tensor(p, 7).offset = t6);
    let shifted = Model::from_bytes(&build(|p| tensor(p, 7).offset = t6 + 1)).err();
    assert!(
        matches!(shifted, Some(Error::OverlappingTensors { b: 7, .. })),
        "{shifted:?}"
    );
    // On its shared input `b` (t2, read again by op 14): never.
    let t2 = decode(tiny()).tensors[1].offset;
    rejects(Error::OverlappingTensors { a: 2, b: 7 }, |p| tensor(p, 7).offset = t2);
    // The input tensor (live until op 12) under op 0's output.
    let t0 = decode(tiny()).header.input.offset;
    rejects(Error::OverlappingTensors { a: 0, b: 1 }, |p| {
        tensor(p, 1).offset = t0 - 1
    });
}

#[test]
fn declared_but_unwritten_tensors_are_rejected() {
    rejects(Error::NeverWritten { tensor: 21 }, |p| {
        let mut extra = p.tensors[0];
        extra.offset = 0;
        p.tensors.push(extra);
    });
}
