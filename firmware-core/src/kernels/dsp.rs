//! Two multiply-accumulates per instruction on Armv7E-M (Cortex-M4/M7/M33
//! with the DSP extension), CMSIS-NN style: `SXTB16` widens two int8 weights
//! at once, `PKHBT`/`PKHTB` pair the matching `i16` patch values, `SMLAD`
//! adds both products.
//!
//! The instruction wrappers are inline assembly on `target_arch = "arm"`
//! with the `dsp` feature, and plain-Rust models of the same instructions
//! everywhere else, so the algorithm is tested bit-exactly on the host and
//! the QEMU parity check proves the instructions behave as modelled.
use super::dot::dot_patch_portable;

#[cfg(all(target_arch = "arm", feature = "dsp"))]
#[allow(unsafe_code)]
mod insn {
    //! Register-only instructions (no memory access, no stack).
    use core::arch::asm;

    /// `SXTB16 r, x`: sign-extend bytes 0 and 2 into two halfwords.
    #[inline(always)]
    pub fn sxtb16(x: u32) -> u32 {
        let r: u32;
        // SAFETY: pure register arithmetic.
        unsafe {
            asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `SXTB16 r, x, ROR #8`: sign-extend bytes 1 and 3.
    #[inline(always)]
    pub fn sxtb16_ror8(x: u32) -> u32 {
        let r: u32;
        // SAFETY: pure register arithmetic.
        unsafe {
            asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `PKHBT r, a, b, LSL #16`: low half of `a`, low half of `b` on top.
    #[inline(always)]
    pub fn pkhbt_lsl16(a: u32, b: u32) -> u32 {
        let r: u32;
        // SAFETY: pure register arithmetic.
        unsafe {
            asm!("pkhbt {r}, {a}, {b}, lsl #16", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `PKHTB r, a, b, ASR #16`: high half of `a` on top, high half of `b` below.
    #[inline(always)]
    pub fn pkhtb_asr16(a: u32, b: u32) -> u32 {
        let r: u32;
        // SAFETY: pure register arithmetic.
        unsafe {
            asm!("pkhtb {r}, {a}, {b}, asr #16", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `SMLAD r, a, b, acc`: `acc + a.lo·b.lo + a.hi·b.hi` (signed halfwords).
    #[inline(always)]
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: pure register arithmetic (it may set the sticky Q flag on
        // overflow, which validation rules out; flags are not declared preserved).
        unsafe {
            asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack))
        };
        r
    }
}

#[cfg(not(all(target_arch = "arm", feature = "dsp")))]
mod insn {
    //! Plain-Rust models of the Armv7E-M instructions (Arm ARM A7.7).

    fn lo(x: u32) -> i32 {
        i32::from(x as u16 as i16)
    }

    fn hi(x: u32) -> i32 {
        i32::from((x >> 16) as u16 as i16)
    }

    fn pack(lo: i32, hi: i32) -> u32 {
        (lo as u32 & 0xFFFF) | ((hi as u32) << 16)
    }

    /// Model of `SXTB16`.
    pub fn sxtb16(x: u32) -> u32 {
        pack(i32::from(x as u8 as i8), i32::from((x >> 16) as u8 as i8))
    }

    /// Model of `SXTB16 …, ROR #8`.
    pub fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }

    /// Model of `PKHBT …, LSL #16`.
    pub fn pkhbt_lsl16(a: u32, b: u32) -> u32 {
        (a & 0xFFFF) | (b << 16)
    }

    /// Model of `PKHTB …, ASR #16`.
    pub fn pkhtb_asr16(a: u32, b: u32) -> u32 {
        (a & 0xFFFF_0000) | ((b as i32 >> 16) as u32 & 0xFFFF)
    }

    /// Model of `SMLAD` (wrapping, as the hardware; validation rules out overflow).
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b)).wrapping_add(hi(a) * hi(b))
    }
}

/// Two consecutive `i16` as one word, the first in the low half.
#[inline(always)]
fn pair(p: &[i16]) -> u32 {
    match *p {
        [a, b, ..] => u32::from(a as u16) | (u32::from(b as u16) << 16),
        [a] => u32::from(a as u16),
        [] => 0,
    }
}

/// `Σ patch[i] · w[i]` with two MACs per `SMLAD`; same result as
/// [`dot_patch_portable`] (exact integer sum, no overflow after validation).
#[inline(always)]
pub fn dot_patch_dsp(patch: &[i16], w: &[i8]) -> i32 {
    let mut acc = 0i32;
    let mut p_quads = patch.chunks_exact(4);
    let mut w_quads = w.chunks_exact(4);
    for (p, wq) in (&mut p_quads).zip(&mut w_quads) {
        let w4 = word(wq);
        let (p01, p23) = (pair(p), pair(p.get(2..).unwrap_or(&[])));
        let w02 = insn::sxtb16(w4); // (w0, w2)
        let w13 = insn::sxtb16_ror8(w4); // (w1, w3)
        let p02 = insn::pkhbt_lsl16(p01, p23); // (p0, p2)
        let p13 = insn::pkhtb_asr16(p23, p01); // (p1, p3)
        acc = insn::smlad(p02, w02, acc);
        acc = insn::smlad(p13, w13, acc);
    }
    acc.wrapping_add(dot_patch_portable(p_quads.remainder(), w_quads.remainder()))
}

/// Four `i8` weights as one little-endian word (0 for a short chunk).
#[inline(always)]
fn word(w: &[i8]) -> u32 {
    match *w {
        [a, b, c, d] => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        _ => 0,
    }
}

/// `(Σ patch[i] · w0[i], Σ patch[i] · w1[i])` for two output channels:
/// each pair of patch words is loaded and repacked once for both, so four
/// `SMLAD` share the work of two. Same results as two
/// [`dot_patch_portable`] calls when the three slices have equal length.
#[inline(always)]
pub fn dot_patch2_dsp(patch: &[i16], w0: &[i8], w1: &[i8]) -> (i32, i32) {
    let (mut acc0, mut acc1) = (0i32, 0i32);
    let mut p_quads = patch.chunks_exact(4);
    let mut w0_quads = w0.chunks_exact(4);
    let mut w1_quads = w1.chunks_exact(4);
    for ((p, a), b) in (&mut p_quads).zip(&mut w0_quads).zip(&mut w1_quads) {
        let (p01, p23) = (pair(p), pair(p.get(2..).unwrap_or(&[])));
        let p02 = insn::pkhbt_lsl16(p01, p23); // (p0, p2)
        let p13 = insn::pkhtb_asr16(p23, p01); // (p1, p3)
        let (a4, b4) = (word(a), word(b));
        acc0 = insn::smlad(p02, insn::sxtb16(a4), acc0);
        acc0 = insn::smlad(p13, insn::sxtb16_ror8(a4), acc0);
        acc1 = insn::smlad(p02, insn::sxtb16(b4), acc1);
        acc1 = insn::smlad(p13, insn::sxtb16_ror8(b4), acc1);
    }
    let rest = p_quads.remainder();
    (
        acc0.wrapping_add(dot_patch_portable(rest, w0_quads.remainder())),
        acc1.wrapping_add(dot_patch_portable(rest, w1_quads.remainder())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn instruction_models_follow_the_arm_definitions() {
        assert_eq!(insn::sxtb16(0x80_7F_FF_01), 0x007F_0001);
        assert_eq!(insn::sxtb16(0x00_80_00_FF), 0xFF80_FFFF);
        assert_eq!(insn::sxtb16_ror8(0x80_00_7F_00), 0xFF80_007F);
        assert_eq!(insn::pkhbt_lsl16(0xAAAA_1111, 0xBBBB_2222), 0x2222_1111);
        assert_eq!(insn::pkhtb_asr16(0xAAAA_1111, 0xBBBB_2222), 0xAAAA_BBBB);
        assert_eq!(insn::smlad(0x0002_FFFF, 0x0003_0004, 10), 10 - 4 + 6);
    }

    #[test]
    fn matches_i64_reference() {
        let mut rng = Rng::new(13);
        for _ in 0..3_000 {
            let n = rng.below(300) as usize;
            let p: std::vec::Vec<i16> = (0..n).map(|_| rng.range(-255, 255) as i16).collect();
            let w = rng.vec_i8(n, Rng::weight);
            let want: i64 = p.iter().zip(&w).map(|(&a, &b)| a as i64 * b as i64).sum();
            assert_eq!(dot_patch_dsp(&p, &w) as i64, want);
            let w1 = rng.vec_i8(n, Rng::weight);
            let want1: i64 = p.iter().zip(&w1).map(|(&a, &b)| a as i64 * b as i64).sum();
            let (got0, got1) = dot_patch2_dsp(&p, &w, &w1);
            assert_eq!((got0 as i64, got1 as i64), (want, want1));
        }
    }
}
