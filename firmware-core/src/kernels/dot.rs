//! Gathering pair patches for the MAC kernels: the `i16` values
//! `x − zero_point` of two output pixels, laid out as the chosen
//! [`MacEngine`] reads them (see [`super::mac`] for the layout), and the
//! weight rows the tiles multiply them with.
use super::mac::{padded, MacEngine};

pub use crate::limits::MAX_PATCH;

/// Stack scratch for pair patches, 4-byte aligned: the `Dsp` engine loads
/// two slots at a time with `LDRD`, which requires word alignment.
#[repr(C, align(4))]
pub struct PatchScratch<const N: usize>(pub [i16; N]);

impl<const N: usize> PatchScratch<N> {
    /// All slots zero.
    #[inline(always)]
    pub fn new() -> Self {
        PatchScratch([0; N])
    }
}

impl<const N: usize> Default for PatchScratch<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Row `j` of a `rows × k` weight matrix, extended by the bytes that follow
/// it up to [`padded`]`(k)` where the matrix has them (all rows but possibly
/// the last), so that the tiles read whole groups of four without a partial
/// tail. `None` past the last row.
#[inline(always)]
pub fn weight_row(weights: &[i8], k: usize, j: usize) -> Option<&[i8]> {
    let start = j.checked_mul(k)?;
    let end = start.checked_add(k)?;
    if end > weights.len() {
        return None;
    }
    weights.get(start..(start + padded(k)).min(weights.len()))
}

/// Writes `x[i] + offset` as values `start + i` of pixel `pixel` (0 or 1)
/// into the pair patch `pp` (slots outside `pp` are skipped; callers size
/// the patch so that none are).
#[inline(always)]
pub fn gather<E: MacEngine>(pp: &mut [i16], pixel: usize, start: usize, x: &[i8], offset: i16) {
    let half = pp.len() / 2;
    if !E::INTERLEAVED {
        let dst = pp.get_mut(pixel * half + start..).unwrap_or(&mut []);
        for (d, &v) in dst.iter_mut().zip(x) {
            *d = i16::from(v) + offset;
        }
        return;
    }
    let put = |pp: &mut [i16], i: usize, v: i8| {
        if let Some(d) = pp.get_mut(E::slot(i, pixel, half)) {
            *d = i16::from(v) + offset;
        }
    };
    // Values up to the next group boundary one by one, then whole groups.
    let head = ((4 - start % 4) % 4).min(x.len());
    let (x_head, x_body) = x.split_at(head);
    for (i, &v) in x_head.iter().enumerate() {
        put(pp, start + i, v);
    }
    let first_group = (start + head) / 4;
    // Array chunks (not `chunks_exact`): their lengths need no division, so
    // no divide-by-zero panic path survives where LLVM does not inline.
    let (quads, rest) = x_body.as_chunks::<4>();
    gather_groups::<E>(pp, pixel, first_group, quads, offset);
    let tail_start = start + x.len() - rest.len();
    for (i, &v) in rest.iter().enumerate() {
        put(pp, tail_start + i, v);
    }
}

/// Writes `quads` (plus `offset`) as the interleaved layout's groups
/// `first_group..` of pixel `pixel` (0 or 1) of the pair patch `pp` (groups
/// outside `pp` are skipped). Interleaved engines only: see [`gather`].
#[inline(always)]
fn gather_groups<E: MacEngine>(pp: &mut [i16], pixel: usize, first_group: usize, quads: &[[i8; 4]], offset: i16) {
    let (groups, _) = pp.get_mut(8 * first_group..).unwrap_or(&mut []).as_chunks_mut::<8>();
    for ([a0, a1, a2, a3, b0, b1, b2, b3], &q) in groups.iter_mut().zip(quads) {
        let v = E::group_values(q, offset);
        if pixel == 0 {
            [*a0, *a1, *a2, *a3] = v;
        } else {
            [*b0, *b1, *b2, *b3] = v;
        }
    }
}

/// Writes values `x + offset` of group `g` (values `4g..4g+4`) of pixel
/// `pixel` into the pair patch `pp`.
#[inline(always)]
fn put_group<E: MacEngine>(pp: &mut [i16], pixel: usize, g: usize, x: [i8; 4], offset: i16) {
    if E::INTERLEAVED {
        if let Some([d0, d1, d2, d3]) = pp.get_mut(8 * g + 4 * pixel..8 * g + 4 * pixel + 4) {
            [*d0, *d1, *d2, *d3] = E::group_values(x, offset);
        }
    } else {
        let at = pixel * (pp.len() / 2) + 4 * g;
        if let Some([d0, d1, d2, d3]) = pp.get_mut(at..at + 4) {
            [*d0, *d1, *d2, *d3] = x.map(|v| i16::from(v) + offset);
        }
    }
}

/// Writes the concatenation of `spans` (plus `offset`) as values `0..` of
/// pixel `pixel` into the pair patch `pp`, a whole group of four at a time:
/// values that straddle two spans are carried over, so a patch whose kernel
/// rows are not multiples of four long (3 input channels: rows of 9) costs
/// no per-value slot arithmetic. The last, partial group is completed with
/// the zero point (value 0 after the offset), as the padding slots are.
#[inline(always)]
pub fn gather_spans<'x, E: MacEngine>(
    pp: &mut [i16],
    pixel: usize,
    spans: impl Iterator<Item = &'x [i8]>,
    offset: i16,
) {
    let zero = i8::try_from(-offset).unwrap_or(0);
    let (mut carry, mut held, mut g) = ([zero; 4], 0usize, 0usize);
    for span in spans {
        let mut rest = span;
        // Complete a group begun in the previous span.
        while held > 0 {
            let Some((&v, tail)) = rest.split_first() else { break };
            if let Some(c) = carry.get_mut(held) {
                *c = v;
            }
            held += 1;
            rest = tail;
            if held == 4 {
                put_group::<E>(pp, pixel, g, carry, offset);
                (g, held) = (g + 1, 0);
            }
        }
        let quads = rest.chunks_exact(4);
        let left = quads.remainder();
        for q in quads {
            if let &[a, b, c, d] = q {
                put_group::<E>(pp, pixel, g, [a, b, c, d], offset);
            }
            g += 1;
        }
        for (c, &v) in carry.iter_mut().zip(left) {
            *c = v;
        }
        held += left.len();
    }
    if held > 0 {
        for c in carry.iter_mut().skip(held) {
            *c = zero;
        }
        put_group::<E>(pp, pixel, g, carry, offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::dsp::Dsp;
    use crate::kernels::mac::pair_len;
    use crate::kernels::portable::Portable;
    use crate::kernels::test_util::pair_patch_of;
    use crate::rng::Rng;
    use std::vec::Vec;

    fn dot_ref(x: &[i8], off: i64, w: &[i8]) -> i32 {
        x.iter().zip(w).map(|(&a, &b)| (a as i64 + off) * b as i64).sum::<i64>() as i32
    }

    fn engine_matches<E: MacEngine>(seed: u64) {
        let mut rng = Rng::new(seed);
        for _ in 0..3_000 {
            let n = rng.below(300) as usize;
            let (xa, xb) = (rng.vec_i8(n, Rng::activation), rng.vec_i8(n, Rng::activation));
            let (w0, w1) = (rng.vec_i8(n, Rng::weight), rng.vec_i8(n, Rng::weight));
            let off = rng.range(-127, 128);
            let pp = pair_patch_of::<E>(&xa, &xb, off as i16);
            let want = [
                dot_ref(&xa, off, &w0),
                dot_ref(&xa, off, &w1),
                dot_ref(&xb, off, &w0),
                dot_ref(&xb, off, &w1),
            ];
            assert_eq!(E::tile_2x2(&pp, &w0, &w1), want);
            assert_eq!(E::tile_1x2(&pp, &w0, &w1), [want[0], want[1]]);
            assert_eq!(E::tile_2x1(&pp, &w1), [want[1], want[3]]);
            assert_eq!(E::tile_1x1(&pp, &w0), want[0]);
            assert_eq!(E::dot_offset_1x2(&xa, off as i32, &w0, &w1), [want[0], want[1]]);
            // Rows extended to whole groups by the next row's bytes: same sums.
            let m: Vec<i8> = w0
                .iter()
                .chain(&w1)
                .copied()
                .chain(rng.vec_i8(3, Rng::weight))
                .collect();
            let (e0, e1) = (weight_row(&m, n, 0).unwrap(), weight_row(&m, n, 1).unwrap());
            assert_eq!(e0.len(), padded(n));
            assert_eq!(E::tile_2x2(&pp, e0, e1), want);
            assert_eq!(E::tile_2x2(&pp, e0, &w1), want);
            assert_eq!(E::tile_1x2(&pp, &w0, e1), [want[0], want[1]]);
            if n >= 2 {
                assert_eq!(weight_row(&m, n, 3), None);
            }
        }
    }

    /// `tile_2x2_rows` against the i64 reference on strided rows (the
    /// concat kernel's halves), with the matrix cut right after the last
    /// row's `k` values or a few bytes later.
    fn rows_match<E: MacEngine>(seed: u64) {
        let mut rng = Rng::new(seed);
        for _ in 0..1_000 {
            let k = rng.range(1, 70) as usize;
            let stride = k + rng.below(6) as usize;
            let rows = rng.range(2, 12) as usize;
            let len = (rows - 1) * stride + k + rng.below(4) as usize;
            let w = rng.vec_i8(len, Rng::weight);
            let (xa, xb) = (rng.vec_i8(k, Rng::activation), rng.vec_i8(k, Rng::activation));
            let off = rng.range(-127, 128);
            let pp = pair_patch_of::<E>(&xa, &xb, off as i16);
            let pairs = rows / 2;
            let mut got = std::vec![[7i32; 4]; pairs];
            E::tile_2x2_rows(&pp, &w, stride, k, &mut got);
            let row = |j: usize| -> Vec<i8> { (0..k).map(|i| w.get(j * stride + i).copied().unwrap_or(0)).collect() };
            for (p, g) in got.iter().enumerate() {
                let (r0, r1) = (row(2 * p), row(2 * p + 1));
                let want = [
                    dot_ref(&xa, off, &r0),
                    dot_ref(&xa, off, &r1),
                    dot_ref(&xb, off, &r0),
                    dot_ref(&xb, off, &r1),
                ];
                assert_eq!(*g, want, "pair {p} of {pairs}, k {k}, stride {stride}, rows {rows}");
            }
        }
    }

    #[test]
    fn tile_2x2_rows_match_i64_reference() {
        rows_match::<Portable>(13);
        rows_match::<Dsp>(14);
        rows_match::<crate::kernels::scalar::Scalar>(15);
    }

    #[test]
    fn portable_engine_matches_i64_reference() {
        engine_matches::<Portable>(11);
    }

    #[test]
    fn dsp_engine_matches_i64_reference() {
        engine_matches::<Dsp>(12);
    }

    #[test]
    fn scalar_engine_matches_i64_reference() {
        engine_matches::<crate::kernels::scalar::Scalar>(16);
    }

    fn gather_case<E: MacEngine>(rng: &mut Rng) {
        let (start, n, pixel) = (rng.below(9) as usize, rng.below(40) as usize, rng.below(2) as usize);
        let x = rng.vec_i8(n, Rng::activation);
        let mut p = std::vec![i16::MIN; pair_len(start + n)];
        gather::<E>(&mut p, pixel, start, &x, -3);
        for (i, &v) in x.iter().enumerate() {
            assert_eq!(p[E::slot(start + i, pixel, p.len() / 2)], v as i16 - 3);
        }
        assert_eq!(p.iter().filter(|&&v| v != i16::MIN).count(), n);
    }

    fn spans_case<E: MacEngine>(rng: &mut Rng) {
        let rows: Vec<Vec<i8>> = (0..rng.below(5))
            .map(|_| {
                let n = rng.below(12) as usize;
                rng.vec_i8(n, Rng::activation)
            })
            .collect();
        let all: Vec<i8> = rows.iter().flatten().copied().collect();
        let pixel = rng.below(2) as usize;
        let offset = rng.range(-127, 128) as i16;
        let mut want = std::vec![7i16; pair_len(all.len())];
        let mut got = want.clone();
        gather::<E>(&mut want, pixel, 0, &all, offset);
        gather_spans::<E>(&mut got, pixel, rows.iter().map(Vec::as_slice), offset);
        // Same values; the partial last group is completed with 0 (x = zero point).
        for i in 0..padded(all.len()) {
            let slot = E::slot(i, pixel, got.len() / 2);
            let expect = if i < all.len() { want[slot] } else { 0 };
            assert_eq!(got[slot], expect, "value {i} of {}", all.len());
        }
    }

    #[test]
    fn gather_spans_equals_gather_of_the_concatenation() {
        let mut rng = Rng::new(6);
        for _ in 0..1_000 {
            spans_case::<Portable>(&mut rng);
            spans_case::<Dsp>(&mut rng);
        }
    }

    #[test]
    fn gather_places_every_value_once_at_any_start() {
        let mut rng = Rng::new(5);
        for _ in 0..500 {
            gather_case::<Portable>(&mut rng);
            gather_case::<Dsp>(&mut rng);
            gather_case::<crate::kernels::scalar::Scalar>(&mut rng);
        }
    }
}
