//! The [`MacEngine`] for microcontrollers without the DSP extension
//! (Cortex-M0+/M3, or any Arm build without the `dsp` feature): the `Dsp`
//! engine's interleaved pair patch (one pointer walks both pixels), read
//! one value at a time and multiplied with plain `MUL`/`MLA`. Per group of
//! four values: eight patch loads, eight weight loads and sixteen MACs, with
//! three pointers and four accumulators, so LLVM keeps everything in
//! registers (the natural-order `Portable` loop, built for x86 vectors,
//! walks four pointers and spills on a 13-register core).
use super::mac::{from as tail, tile_2x2_rows_by_pairs, MacEngine};
use super::portable::Portable;

/// The group of four values for the shared pair loop
/// (`kernels::arm_pairs`), in Armv7-M base instructions (no DSP extension):
/// per value two `LDRSB` (one weight of each row), two `LDRSH` (the slot of
/// each pixel) and four `MLA` — 32 instructions per 16 MACs, every operand in
/// a register. Armv7 and later only (Thumb-2 or Arm state); Armv6-M
/// (Cortex-M0/M0+), which lacks these forms, has no 32-bit compare-and-swap
/// and so keeps the Rust loop.
#[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
#[allow(unsafe_code)]
mod insn {
    use crate::kernels::arm_pairs::tile_2x2_pairs;

    /// Loads for one value: weight byte `$j` of both rows (r10, r11 from r5,
    /// r8) and byte offsets `$s`, `$t` of the patch (r6, r7: the value's slot
    /// in pixels 0 and 1, from r4).
    macro_rules! loads {
        ($j:literal, $s:literal, $t:literal) => {
            concat!(
                "ldrsb r10, [r5, #",
                $j,
                "]\n",
                "ldrsb r11, [r8, #",
                $j,
                "]\n",
                "ldrsh r6, [r4, #",
                $s,
                "]\n",
                "ldrsh r7, [r4, #",
                $t,
                "]\n",
            )
        };
    }

    /// The four products of one value into r0–r3: added (`MLA`), or for a
    /// tile's first value written (`MUL`).
    macro_rules! products {
        (add) => {
            "mla r0, r6, r10, r0\nmla r1, r6, r11, r1\nmla r2, r7, r10, r2\nmla r3, r7, r11, r3\n"
        };
        (first) => {
            "mul r0, r6, r10\nmul r1, r6, r11\nmul r2, r7, r10\nmul r3, r7, r11\n"
        };
    }

    /// One group: slots 1, 2, 3 (`x2`, `x1`, `x3`: weights 2, 1, 3) at
    /// offsets, then slot 0 (weight 0) with post-incremented loads that
    /// advance the three pointers.
    macro_rules! group {
        () => {
            group!(@ add)
        };
        (first) => {
            group!(@ first)
        };
        (@ $first:ident) => {
            concat!(
                loads!("2", "2", "10"),
                products!($first),
                loads!("1", "4", "12"),
                products!(add),
                loads!("3", "6", "14"),
                products!(add),
                "ldrsb r10, [r5], #4\n",
                "ldrsb r11, [r8], #4\n",
                "ldrsh r7, [r4, #8]\n",
                "ldrsh r6, [r4], #16\n",
                products!(add),
            )
        };
    }

    tile_2x2_pairs!(group);
}

/// Plain-Rust engine on the interleaved, middle-swapped layout (see
/// [`super::mac`]); on Armv7 its whole-group pairs run the assembly loop of
/// `insn`.
#[derive(Clone, Copy, Debug)]
pub struct Scalar;

/// A group's four weights in the patch's slot order `(w0, w2, w1, w3)`.
#[inline(always)]
fn swapped(w: &[i8; 4]) -> [i32; 4] {
    [w[0], w[2], w[1], w[3]].map(i32::from)
}

/// `acc + Σ p[i]·w[i]` over one group (slot order).
#[inline(always)]
fn dot4(acc: i32, p: &[i16], w: [i32; 4]) -> i32 {
    p.iter()
        .zip(w)
        .fold(acc, |acc, (&x, w)| acc.wrapping_add(i32::from(x) * w))
}

/// The first four weights of `w`, zero-padded (a row's last partial group).
#[inline(always)]
fn padded_group(w: &[i8]) -> [i8; 4] {
    let mut g = [0i8; 4];
    for (d, &s) in g.iter_mut().zip(w) {
        *d = s;
    }
    g
}

/// One group of a 2×2 tile: eight slots `p` (pixel 0 then pixel 1).
#[inline(always)]
fn group_2x2(acc: [i32; 4], p: &[i16; 8], c0: &[i8; 4], c1: &[i8; 4]) -> [i32; 4] {
    let (w0, w1) = (swapped(c0), swapped(c1));
    let (p0, p1) = p.split_at(4);
    [
        dot4(acc[0], p0, w0),
        dot4(acc[1], p0, w1),
        dot4(acc[2], p1, w0),
        dot4(acc[3], p1, w1),
    ]
}

/// `groups` whole groups of the pairs of rows `2p`, `2p + 1` (rows `stride`
/// apart) for every `out[p]`, which the caller checked lie inside
/// `weights`: the assembly loop on Armv7.
#[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
#[inline(always)]
fn whole_pairs(pp: &[i16], weights: &[i8], stride: usize, groups: usize, out: &mut [[i32; 4]]) {
    insn::tile_2x2_pairs(pp, weights, stride, groups, out);
}

/// `groups` whole groups of the pairs of rows `2p`, `2p + 1` (rows `stride`
/// apart) for every `out[p]`: the Rust loop elsewhere.
#[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
#[inline(always)]
fn whole_pairs(pp: &[i16], weights: &[i8], stride: usize, groups: usize, out: &mut [[i32; 4]]) {
    let (patch, _) = pp.as_chunks::<8>();
    let patch = patch.get(..groups).unwrap_or(&[]);
    for (p, acc) in out.iter_mut().enumerate() {
        let row = |j: usize| {
            tail(weights, j * stride)
                .get(..4 * groups)
                .unwrap_or(&[])
                .as_chunks::<4>()
                .0
        };
        let (q0, q1) = (row(2 * p), row(2 * p + 1));
        *acc = patch
            .iter()
            .zip(q0)
            .zip(q1)
            .fold([0; 4], |a, ((p, c0), c1)| group_2x2(a, p, c0, c1));
    }
}

impl MacEngine for Scalar {
    const INTERLEAVED: bool = true;

    #[inline(always)]
    fn tile_2x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 4] {
        let (groups, _) = pp.as_chunks::<8>();
        let ((q0, _), (q1, _)) = (w0.as_chunks::<4>(), w1.as_chunks::<4>());
        let mut acc = [0i32; 4];
        for ((p, c0), c1) in groups.iter().zip(q0).zip(q1) {
            acc = group_2x2(acc, p, c0, c1);
        }
        let full = q0.len().min(q1.len());
        let (r0, r1) = (tail(w0, 4 * full), tail(w1, 4 * full));
        if let Some(p) = groups.get(full).filter(|_| !r0.is_empty() || !r1.is_empty()) {
            acc = group_2x2(acc, p, &padded_group(r0), &padded_group(r1));
        }
        acc
    }

    /// Whole groups for every pair whose rows can be read that long (all
    /// but possibly the matrix's last pair): no partial last group and no
    /// per-tile slicing; the rest one tile at a time.
    #[inline(always)]
    fn tile_2x2_rows(pp: &[i16], weights: &[i8], stride: usize, k: usize, out: &mut [[i32; 4]]) {
        tile_2x2_rows_by_pairs::<Self>((pp, weights, stride, k), out, true, |groups, head| {
            whole_pairs(pp, weights, stride, groups, head)
        });
    }

    #[inline(always)]
    fn tile_1x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 2] {
        let [a0, a1, _, _] = Self::tile_2x2(pp, w0, w1);
        [a0, a1]
    }

    #[inline(always)]
    fn dot_offset_1x2(x: &[i8], offset: i32, w0: &[i8], w1: &[i8]) -> [i32; 2] {
        Portable::dot_offset_1x2(x, offset, w0, w1)
    }
}
