//! The [`MacEngine`] for microcontrollers without the DSP extension
//! (Cortex-M0+/M3, or any Arm build without the `dsp` feature): the `Dsp`
//! engine's interleaved pair patch (one pointer walks both pixels), read
//! one value at a time and multiplied with plain `MUL`/`MLA`. Per group of
//! four values: eight patch loads, eight weight loads and sixteen MACs, with
//! three pointers and four accumulators, so LLVM keeps everything in
//! registers (the natural-order `Portable` loop, built for x86 vectors,
//! walks four pointers and spills on a 13-register core).
use super::mac::{from as tail, padded, tile_2x2_rows_from, whole_group_pairs, MacEngine};
use super::portable::Portable;

/// Plain-Rust engine on the interleaved, middle-swapped layout (see
/// [`super::mac`]).
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
        let groups = padded(k) / 4;
        let (patch, _) = pp.as_chunks::<8>();
        let patch = patch.get(..groups).unwrap_or(&[]);
        let fast = if patch.len() == groups {
            whole_group_pairs(weights.len(), stride, groups, out.len())
        } else {
            0
        };
        let Some((head, rest)) = out.split_at_mut_checked(fast) else {
            return;
        };
        for (p, acc) in head.iter_mut().enumerate() {
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
        tile_2x2_rows_from::<Self>(pp, weights, stride, k, fast, rest);
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
