//! Helpers shared by the kernels' reference tests.
use super::dot::gather;
use super::mac::{pair_len, MacEngine};
use crate::rng::Rng;
use std::vec::Vec;

/// A random per-channel parameter set in blob byte form.
pub(crate) struct Params {
    pub bias: Vec<u8>,
    pub mult: Vec<u8>,
    pub shift: Vec<u8>,
    pub raw: Vec<(i32, i32, i32)>,
}

/// `n` channels of random bias (within ±`bias_mag`), multiplier and shift.
pub(crate) fn random_params(rng: &mut Rng, n: usize, bias_mag: i64) -> Params {
    let mut p = Params {
        bias: Vec::new(),
        mult: Vec::new(),
        shift: Vec::new(),
        raw: Vec::new(),
    };
    for _ in 0..n {
        let b = rng.range(-bias_mag, bias_mag) as i32;
        let (m, s) = rng.requant(-14, 2);
        p.bias.extend_from_slice(&b.to_le_bytes());
        p.mult.extend_from_slice(&m.to_le_bytes());
        p.shift.push(s as i8 as u8);
        p.raw.push((b, m, s));
    }
    p
}

/// Independent requantisation reference in i64/i128 (see requant tests).
pub(crate) fn requant_ref(acc: i64, m: i32, s: i32) -> i64 {
    let left = s.max(0) as u32;
    let right = (-s).max(0) as u32;
    let x = (acc << left).clamp(i32::MIN as i64, i32::MAX as i64) as i128;
    let p = x * m as i128;
    let hi = (p + (1i128 << 30)).div_euclid(1i128 << 31);
    let hi = hi.clamp(i32::MIN as i128, i32::MAX as i128);
    if right == 0 {
        return hi as i64;
    }
    let d = 1i128 << right;
    let mag = (hi.abs() + d / 2) / d;
    (if hi < 0 { -mag } else { mag }) as i64
}

/// The pair patch of `xa` (pixel 0) and `xb` (pixel 1) plus `offset` in `E`'s layout.
pub(crate) fn pair_patch_of<E: MacEngine>(xa: &[i8], xb: &[i8], offset: i16) -> Vec<i16> {
    let mut p = std::vec![0i16; pair_len(xa.len().max(xb.len()))];
    gather::<E>(&mut p, 0, 0, xa, offset);
    gather::<E>(&mut p, 1, 0, xb, offset);
    p
}
