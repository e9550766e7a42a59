//! Two multiply-accumulates per instruction on Armv7E-M (Cortex-M4/M7/M33
//! with the DSP extension): `SXTB16` widens two int8 weights at once into
//! the order in which the patch already holds the matching `i16` values
//! (see [`super::mac`]), `SMLAD` adds both products.
//!
//! The instruction wrappers are inline assembly on `target_arch = "arm"`
//! with the `dsp` feature, and plain-Rust models of the same instructions
//! everywhere else, so the algorithm is tested bit-exactly on the host and
//! the QEMU parity check proves the instructions behave as modelled.
use super::mac::{from as tail, tile_2x2_rows_by_pairs, MacEngine};
use super::portable::Portable;

#[cfg(all(target_arch = "arm", feature = "dsp"))]
#[allow(unsafe_code)]
mod insn {
    //! Register-only instructions (no memory access, no stack), and the
    //! hand-written tile loops.
    use crate::kernels::arm_pairs::{groups_loop, tile_2x2_pairs};
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

    /// `SXTAB16 r, a, x`: `a`'s two halfwords plus the sign-extended
    /// bytes 0 and 2 of `x` (wrapping).
    #[inline(always)]
    pub fn sxtab16(a: u32, x: u32) -> u32 {
        let r: u32;
        // SAFETY: pure register arithmetic.
        unsafe {
            asm!("sxtab16 {r}, {a}, {x}", r = lateout(reg) r, a = in(reg) a, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// `SXTAB16 r, a, x, ROR #8`: the same with bytes 1 and 3.
    #[inline(always)]
    pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        let r: u32;
        // SAFETY: pure register arithmetic.
        unsafe {
            asm!("sxtab16 {r}, {a}, {x}, ror #8", r = lateout(reg) r, a = in(reg) a, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        r
    }

    /// One group of a 2×2 tile, 16 instructions: two weight loads (r5,
    /// r8), two `LDRD` of patch words (r4), four `SXTB16`, eight `SMLAD`
    /// into r0–r3; r6, r7, r10–r12 and lr are scratch. `group!(first)` is
    /// the first group of a tile: its first product into each accumulator
    /// is an `SMUAD`, so the accumulators need no zeroing.
    macro_rules! group {
        () => {
            group!(@ "smlad r0, r6, r12, r0\n", "smlad r1, r6, lr, r1\n", "smlad r2, r6, r12, r2\n", "smlad r3, r6, lr, r3\n")
        };
        (first) => {
            group!(@ "smuad r0, r6, r12\n", "smuad r1, r6, lr\n", "smuad r2, r6, r12\n", "smuad r3, r6, lr\n")
        };
        (@ $a0:literal, $a1:literal, $b0:literal, $b1:literal) => {
            concat!(
                "ldr r10, [r5], #4\n",
                "ldr r11, [r8], #4\n",
                "ldrd r6, r7, [r4], #8\n",
                "sxtb16 r12, r10\n",
                "sxtb16 lr, r11\n",
                "sxtb16 r10, r10, ror #8\n",
                "sxtb16 r11, r11, ror #8\n",
                $a0,
                $a1,
                "smlad r0, r7, r10, r0\n",
                "smlad r1, r7, r11, r1\n",
                "ldrd r6, r7, [r4], #8\n",
                $b0,
                $b1,
                "smlad r2, r7, r10, r2\n",
                "smlad r3, r7, r11, r3\n",
            )
        };
    }

    /// Whole groups of a 2×2 tile ([`super::group_2x2`] repeated `groups`
    /// times) as one hand-scheduled loop (`group!`, unrolled twice): 17
    /// instructions per 16 MACs, with all 14 values in registers (LLVM
    /// spills three of them in the Rust loop).
    ///
    /// Reads exactly `16 · groups` bytes from `pp`, `4 · groups` from `w0`
    /// and from `w1`; the caller checks those lengths, `groups ≥ 1` and
    /// that `pp` is 4-byte aligned (`LDRD` requires it).
    #[inline(always)]
    pub fn tile_2x2_groups(acc: [i32; 4], pp: &[i16], w0: &[i8], w1: &[i8], groups: usize) -> [i32; 4] {
        let [mut a0, mut a1, mut b0, mut b1] = acc;
        // SAFETY: the wrapper in the parent module checked the lengths (so
        // every load stays inside the three slices), `groups ≥ 1` and the
        // alignment of `pp`. r6 and r7, which no operand uses (all are in
        // explicit registers), are saved on the stack and restored.
        unsafe {
            asm!(
                "push {{r6, r7}}",
                groups_loop!(group),
                "pop {{r6, r7}}",
                // Explicit registers: with the `reg` class LLVM may place an
                // operand in r6 (it reserves r6 only in frames that need a base
                // pointer), which the push/pop above would clobber.
                inout("r0") a0,
                inout("r1") a1,
                inout("r2") b0,
                inout("r3") b1,
                inout("r4") pp.as_ptr() => _,
                inout("r5") w0.as_ptr() => _,
                inout("r8") w1.as_ptr() => _,
                inout("r9") groups => _,
                out("r10") _,
                out("r11") _,
                out("r12") _,
                out("lr") _,
                options(readonly),
            );
        }
        [a0, a1, b0, b1]
    }

    // `tile_2x2_pairs`: [`tile_2x2_groups`] for a run of weight-row pairs
    // (see `kernels::arm_pairs`).
    tile_2x2_pairs!(group);

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

    /// Model of `SXTAB16`.
    pub fn sxtab16(a: u32, x: u32) -> u32 {
        let b = sxtb16(x);
        pack(lo(a).wrapping_add(lo(b)), hi(a).wrapping_add(hi(b)))
    }

    /// Model of `SXTAB16 …, ROR #8`.
    pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        sxtab16(a, x.rotate_right(8))
    }

    /// Model of the hand-written loop: [`super::group_2x2`] over whole groups.
    pub fn tile_2x2_groups(acc: [i32; 4], pp: &[i16], w0: &[i8], w1: &[i8], groups: usize) -> [i32; 4] {
        let groups = pp
            .chunks_exact(8)
            .zip(w0.chunks_exact(4))
            .zip(w1.chunks_exact(4))
            .take(groups);
        groups.fold(acc, |acc, ((p, c0), c1)| {
            super::group_2x2(acc, p, super::word(c0), super::word(c1))
        })
    }

    /// Model of the hand-written pair loop: [`tile_2x2_groups`] per row pair.
    pub fn tile_2x2_pairs(pp: &[i16], w: &[i8], stride: usize, groups: usize, out: &mut [[i32; 4]]) {
        for (p, acc) in out.iter_mut().enumerate() {
            let row = |j: usize| w.get(j * stride..).unwrap_or(&[]);
            *acc = tile_2x2_groups([0; 4], pp, row(2 * p), row(2 * p + 1), groups);
        }
    }

    /// Model of `SMLAD` (wrapping, as the hardware; validation rules out overflow).
    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b)).wrapping_add(hi(a) * hi(b))
    }
}

/// Two patch slots as one word, the first in the low half.
#[inline(always)]
fn pair(lo: i16, hi: i16) -> u32 {
    u32::from(lo as u16) | (u32::from(hi as u16) << 16)
}

/// The first four `i8` weights of `w` as one little-endian word; a short
/// chunk (the last, partial group of a row) is padded with zeros.
#[inline(always)]
fn word(w: &[i8]) -> u32 {
    match *w {
        [a, b, c, d, ..] => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        [a, b, c] => u32::from_le_bytes([a as u8, b as u8, c as u8, 0]),
        [a, b] => u32::from_le_bytes([a as u8, b as u8, 0, 0]),
        [a] => u32::from(a as u8),
        _ => 0,
    }
}

/// Slots `i`, `i + 1` of a group as one word (0 past the end).
#[inline(always)]
fn slots(p: &[i16], i: usize) -> u32 {
    match p.get(i..i + 2) {
        Some(&[lo, hi]) => pair(lo, hi),
        _ => 0,
    }
}

/// `acc + Σ` over one group of four: `(x0, x2)·SXTB16(w) + (x1, x3)·SXTB16(w, ROR 8)`.
#[inline(always)]
fn mac4(acc: i32, (p02, p13): (u32, u32), (w02, w13): (u32, u32)) -> i32 {
    insn::smlad(p13, w13, insn::smlad(p02, w02, acc))
}

/// Four `i8` values widened and offset: `(x0 + o, x2 + o)`, `(x1 + o, x3 + o)`
/// (`o` holds the offset in both halfwords), one `SXTAB16` each.
#[inline(always)]
fn widen_add(x: u32, o: u32) -> (u32, u32) {
    (insn::sxtab16(o, x), insn::sxtab16_ror8(o, x))
}

/// A weight word widened to `(w0, w2)`, `(w1, w3)`.
#[inline(always)]
fn widen(w: u32) -> (u32, u32) {
    (insn::sxtb16(w), insn::sxtb16_ror8(w))
}

/// One group of a 2×2 tile: eight slots `p` (pixel 0 then pixel 1), weight
/// words `c0`, `c1` of the two channels. Written so that few values are
/// live at once (each patch word is used right after its load).
#[inline(always)]
fn group_2x2(acc: [i32; 4], p: &[i16], c0: u32, c1: u32) -> [i32; 4] {
    let [mut a0, mut a1, mut b0, mut b1] = acc;
    let (c0_02, c1_02) = (insn::sxtb16(c0), insn::sxtb16(c1));
    let x = slots(p, 0);
    a0 = insn::smlad(x, c0_02, a0);
    a1 = insn::smlad(x, c1_02, a1);
    let x = slots(p, 4);
    b0 = insn::smlad(x, c0_02, b0);
    b1 = insn::smlad(x, c1_02, b1);
    let (c0_13, c1_13) = (insn::sxtb16_ror8(c0), insn::sxtb16_ror8(c1));
    let x = slots(p, 2);
    a0 = insn::smlad(x, c0_13, a0);
    a1 = insn::smlad(x, c1_13, a1);
    let x = slots(p, 6);
    b0 = insn::smlad(x, c0_13, b0);
    b1 = insn::smlad(x, c1_13, b1);
    [a0, a1, b0, b1]
}

/// One group of pixel 0 × two channels.
#[inline(always)]
fn group_1x2(acc: [i32; 2], p: &[i16], c0: u32, c1: u32) -> [i32; 2] {
    let x = (slots(p, 0), slots(p, 2));
    [mac4(acc[0], x, widen(c0)), mac4(acc[1], x, widen(c1))]
}

/// Armv7E-M engine: two MACs per `SMLAD`, weights widened four at a time by
/// `SXTB16` and paired with patch words in the swapped-middle layout (see
/// [`super::mac`]). On other targets the instructions are plain-Rust models.
#[derive(Clone, Copy, Debug)]
pub struct Dsp;

impl MacEngine for Dsp {
    const INTERLEAVED: bool = true;

    /// One word load and two `SXTAB16` (widen and add): the swapped-middle
    /// order is exactly the order `SXTB16` produces.
    #[inline(always)]
    fn group_values(x: [i8; 4], offset: i16) -> [i16; 4] {
        let o = pair(offset, offset);
        let (a, b) = widen_add(u32::from_le_bytes(x.map(|v| v as u8)), o);
        [
            a as u16 as i16,
            (a >> 16) as u16 as i16,
            b as u16 as i16,
            (b >> 16) as u16 as i16,
        ]
    }

    #[inline(always)]
    fn tile_2x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 4] {
        let mut acc = [0i32; 4];
        let full = (w0.len().min(w1.len()) / 4).min(pp.len() / 8);
        if full > 0 {
            if (pp.as_ptr() as usize).is_multiple_of(4) {
                acc = insn::tile_2x2_groups(acc, pp, w0, w1, full);
            } else {
                // A misaligned patch (never from the kernels' aligned scratch).
                let groups = pp
                    .as_chunks::<8>()
                    .0
                    .iter()
                    .zip(w0.as_chunks::<4>().0)
                    .zip(w1.as_chunks::<4>().0);
                for ((p, c0), c1) in groups.take(full) {
                    acc = group_2x2(acc, p, word(c0), word(c1));
                }
            }
        }
        let (r0, r1) = (tail(w0, 4 * full), tail(w1, 4 * full));
        if !r0.is_empty() || !r1.is_empty() {
            acc = group_2x2(acc, tail(pp, 8 * full), word(r0), word(r1));
        }
        acc
    }

    #[inline(always)]
    fn tile_2x2_rows(pp: &[i16], weights: &[i8], stride: usize, k: usize, out: &mut [[i32; 4]]) {
        // The assembly loop's `LDRD` needs a word-aligned patch.
        let aligned = (pp.as_ptr() as usize).is_multiple_of(4);
        tile_2x2_rows_by_pairs::<Self>((pp, weights, stride, k), out, aligned, |groups, head| {
            insn::tile_2x2_pairs(pp, weights, stride, groups, head)
        });
    }

    #[inline(always)]
    fn tile_1x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 2] {
        let mut acc = [0i32; 2];
        // Array chunks: no divide-by-zero panic path where LLVM does not inline.
        let ((q0, _), (q1, _)) = (w0.as_chunks::<4>(), w1.as_chunks::<4>());
        let full = q0.len().min(q1.len());
        for ((c0, c1), p) in q0.iter().zip(q1).zip(pp.as_chunks::<8>().0) {
            acc = group_1x2(acc, p, word(c0), word(c1));
        }
        let (r0, r1) = (tail(w0, 4 * full), tail(w1, 4 * full));
        if !r0.is_empty() || !r1.is_empty() {
            acc = group_1x2(acc, tail(pp, 8 * full), word(r0), word(r1));
        }
        acc
    }

    #[inline(always)]
    fn dot_offset_1x2(x: &[i8], offset: i32, w0: &[i8], w1: &[i8]) -> [i32; 2] {
        // (x0 + o, x2 + o) and (x1 + o, x3 + o) by two SXTAB16: the same
        // pairing as the weights, so no patch is needed.
        let o = pair(offset as i16, offset as i16);
        let mut acc = [0i32; 2];
        for ((xq, c0), c1) in x.chunks_exact(4).zip(w0.chunks_exact(4)).zip(w1.chunks_exact(4)) {
            let xs = widen_add(word(xq), o);
            acc[0] = mac4(acc[0], xs, widen(word(c0)));
            acc[1] = mac4(acc[1], xs, widen(word(c1)));
        }
        let done = x.len().min(w0.len()).min(w1.len()) & !3;
        let rest = Portable::dot_offset_1x2(tail(x, done), offset, tail(w0, done), tail(w1, done));
        [acc[0].wrapping_add(rest[0]), acc[1].wrapping_add(rest[1])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_models_follow_the_arm_definitions() {
        assert_eq!(insn::sxtb16(0x80_7F_FF_01), 0x007F_0001);
        assert_eq!(insn::sxtb16(0x00_80_00_FF), 0xFF80_FFFF);
        assert_eq!(insn::sxtb16_ror8(0x80_00_7F_00), 0xFF80_007F);
        assert_eq!(insn::sxtab16(0x0001_FFFF, 0x00FF_0002), 0x0000_0001);
        assert_eq!(insn::sxtab16(0x7FFF_0005, 0x0001_0080), 0x8000_FF85);
        assert_eq!(insn::sxtab16_ror8(0x0010_0020, 0x8000_7F00), 0xFF90_009F);
        assert_eq!(insn::smlad(0x0002_FFFF, 0x0003_0004, 10), 10 - 4 + 6);
    }
}
