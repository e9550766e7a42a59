//! The plain-Rust [`MacEngine`]: two natural-order blocks per pair patch
//! (see [`super::mac`]), one long loop over contiguous slices per tile, which
//! LLVM vectorises on x86.
use super::mac::MacEngine;

/// Plain-Rust engine (natural order within each group).
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl MacEngine for Portable {
    const INTERLEAVED: bool = false;

    #[inline(always)]
    fn tile_2x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 4] {
        let (pa, pb) = pp.split_at(pp.len() / 2);
        let mut acc = [0i32; 4];
        // One pass over contiguous slices: each patch value and weight is
        // loaded once for two MACs, and LLVM vectorises the four sums.
        for (((&a, &b), &c0), &c1) in pa.iter().zip(pb).zip(w0).zip(w1) {
            let (a, b, c0, c1) = (i32::from(a), i32::from(b), i32::from(c0), i32::from(c1));
            acc[0] = acc[0].wrapping_add(a * c0);
            acc[1] = acc[1].wrapping_add(a * c1);
            acc[2] = acc[2].wrapping_add(b * c0);
            acc[3] = acc[3].wrapping_add(b * c1);
        }
        acc
    }

    #[inline(always)]
    fn tile_1x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 2] {
        let pa = pp.get(..pp.len() / 2).unwrap_or(&[]);
        let mut acc = [0i32; 2];
        for ((&a, &c0), &c1) in pa.iter().zip(w0).zip(w1) {
            let a = i32::from(a);
            acc[0] = acc[0].wrapping_add(a * i32::from(c0));
            acc[1] = acc[1].wrapping_add(a * i32::from(c1));
        }
        acc
    }

    #[inline(always)]
    fn dot_offset_1x2(x: &[i8], offset: i32, w0: &[i8], w1: &[i8]) -> [i32; 2] {
        let mut acc = [0i32; 2];
        for ((&v, &c0), &c1) in x.iter().zip(w0).zip(w1) {
            let v = i32::from(v) + offset;
            acc[0] = acc[0].wrapping_add(v * i32::from(c0));
            acc[1] = acc[1].wrapping_add(v * i32::from(c1));
        }
        acc
    }
}
