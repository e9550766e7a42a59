//! Deterministic pseudo-random kernel cases for on-device parity.
//!
//! The firmware under QEMU (`tests/firmware`) and the host (`cargo xtask
//! firmware`) run the same [`CASES`] MAC-kernel calls — 2-D convolutions
//! with and without the fused 2×2 max pool, fused concat + 1×1 convs with
//! one and two scales — on shapes the model does not have: every kernel size
//! up to 5×5, strides 1–2, padding, 1–8 input channels (the 3 × 3 × 3 first
//! layer included), odd output-channel counts and more output channels than
//! one block of tiles, odd pixel counts, requantisations on the fast and
//! the general path. Each call's output is hashed into one transcript line.
//! The host's engine is checked against the i64 references by the kernels'
//! unit tests, so equal transcripts make the device's engine (the
//! hand-written `Dsp` and `Scalar` loops) bit-exact on those shapes too.
//!
//! No allocation: the data lives in a caller-given scratch buffer (the
//! firmware reuses its model arena once the model has run).
use crate::format::Window;
use crate::kernels::concat_conv1x1::{concat_conv1x1, ConcatConv1x1Args};
use crate::kernels::conv2d::{conv2d, Conv2dArgs};
use crate::kernels::params::ChannelParams;
use crate::kernels::{OutputStage, Shape};
use crate::rng::Rng;
use crate::transcript::{fnv1a32, Transcript};
use crate::Error;

/// Number of cases (transcript lines `case <i> <hash>`).
pub const CASES: u64 = 64;

/// Scratch bytes [`run`] needs (input, weights and output of the largest case).
pub const SCRATCH_BYTES: usize = 24 * 1024;

/// Most output channels of a case (more than one block of 32 channel pairs).
const MAX_OUT_CHANNELS: usize = 70;

/// Uniform in `lo..=hi`.
fn draw(g: &mut Rng, lo: u64, hi: u64) -> u64 {
    g.range(lo as i64, hi as i64) as u64
}

/// Per-channel bias and requantisation, little-endian as in a blob.
struct Params {
    bias: [u8; 4 * MAX_OUT_CHANNELS],
    multipliers: [u8; 4 * MAX_OUT_CHANNELS],
    shifts: [u8; MAX_OUT_CHANNELS],
    /// Second-side multipliers and shifts of a two-scale concat.
    multipliers_b: [u8; 4 * MAX_OUT_CHANNELS],
    shifts_b: [u8; MAX_OUT_CHANNELS],
}

impl Params {
    /// Random parameters: biases within ±2^20, normalised multipliers,
    /// shifts from −14 (right) to +2 (left: the general path).
    fn random(g: &mut Rng) -> Self {
        let mut p = Params {
            bias: [0; 4 * MAX_OUT_CHANNELS],
            multipliers: [0; 4 * MAX_OUT_CHANNELS],
            shifts: [0; MAX_OUT_CHANNELS],
            multipliers_b: [0; 4 * MAX_OUT_CHANNELS],
            shifts_b: [0; MAX_OUT_CHANNELS],
        };
        let (bias, _) = p.bias.as_chunks_mut::<4>();
        let (mult, _) = p.multipliers.as_chunks_mut::<4>();
        let (mult_b, _) = p.multipliers_b.as_chunks_mut::<4>();
        let rows = bias
            .iter_mut()
            .zip(mult)
            .zip(mult_b)
            .zip(p.shifts.iter_mut().zip(&mut p.shifts_b));
        for (((b, m), mb), (s, sb)) in rows {
            *b = (draw(g, 0, 1 << 21) as i32 - (1 << 20)).to_le_bytes();
            let ((m_a, s_a), (m_b, s_b)) = (g.requant(-14, 2), g.requant(-14, 2));
            (*m, *mb) = (m_a.to_le_bytes(), m_b.to_le_bytes());
            (*s, *sb) = (s_a as i8 as u8, s_b as i8 as u8);
        }
        p
    }

    /// The first `n` channels' bias and `a`-side requantisation.
    fn channels(&self, n: usize) -> Result<ChannelParams<'_>, Error> {
        Ok(ChannelParams {
            bias: self.bias.get(..4 * n).ok_or(Error::Internal)?,
            multipliers: self.multipliers.get(..4 * n).ok_or(Error::Internal)?,
            shifts: self.shifts.get(..n).ok_or(Error::Internal)?,
        })
    }
}

/// A random output stage: any zero point, ReLU-style or full clamp.
fn output_stage(g: &mut Rng) -> OutputStage {
    let zero_point = i32::from(g.i8_any());
    let min = if g.below(2) == 0 { zero_point } else { -128 };
    OutputStage {
        zero_point,
        min,
        max: 127,
    }
}

/// Splits `scratch` into input, weights and output of the given lengths.
fn split(scratch: &mut [i8], lens: [usize; 3]) -> Result<[&mut [i8]; 3], Error> {
    let [a, b, c] = lens;
    let (input, rest) = scratch.split_at_mut_checked(a).ok_or(Error::Internal)?;
    let (weights, rest) = rest.split_at_mut_checked(b).ok_or(Error::Internal)?;
    let output = rest.get_mut(..c).ok_or(Error::Internal)?;
    Ok([input, weights, output])
}

/// A `kh × kw` window with strides in `1..=max_stride` and every padding
/// below its kernel side; `range(lo, hi)` draws uniformly from `lo..=hi`
/// (also the conv kernel's unit test's shape generator).
pub(crate) fn random_window((kh, kw): (u8, u8), max_stride: u64, mut range: impl FnMut(u64, u64) -> u64) -> Window {
    let mut below = |k: u8| range(0, u64::from(k).saturating_sub(1)) as u8;
    let (pad_top, pad_bottom, pad_left, pad_right) = (below(kh), below(kh), below(kw), below(kw));
    Window {
        kernel_h: kh,
        kernel_w: kw,
        stride_h: range(1, max_stride) as u8,
        stride_w: range(1, max_stride) as u8,
        pad_top,
        pad_bottom,
        pad_left,
        pad_right,
    }
}

/// One random convolution (case `i`); returns its output hash.
fn conv_case(g: &mut Rng, i: u64, scratch: &mut [i8]) -> Result<u32, Error> {
    let first_layer = i % 8 == 3;
    let kh = if first_layer { 3 } else { draw(g, 1, 5) as u8 };
    let kw = if first_layer { 3 } else { draw(g, 1, 5) as u8 };
    let window = random_window((kh, kw), 2, |lo, hi| draw(g, lo, hi));
    let input_shape = Shape {
        height: draw(g, u64::from(kh), 10) as usize,
        width: draw(g, u64::from(kw), 10) as usize,
        channels: if first_layer { 3 } else { draw(g, 1, 8) as usize },
    };
    let conv_len = |n: usize, pad: u8, k: u8, s: u8| (n + usize::from(pad) - usize::from(k)) / usize::from(s) + 1;
    let (h, w) = (
        conv_len(
            input_shape.height,
            window.pad_top + window.pad_bottom,
            kh,
            window.stride_h,
        ),
        conv_len(
            input_shape.width,
            window.pad_left + window.pad_right,
            kw,
            window.stride_w,
        ),
    );
    let out_c = if i % 10 == 7 {
        draw(g, 65, MAX_OUT_CHANNELS as u64)
    } else {
        draw(g, 1, 9)
    } as usize;
    let pool_2x2 = i % 3 == 1 && h >= 2 && w >= 2;
    let output_shape = Shape {
        height: if pool_2x2 { h / 2 } else { h },
        width: if pool_2x2 { w / 2 } else { w },
        channels: out_c,
    };
    let k = usize::from(kh) * usize::from(kw) * input_shape.channels;
    let [input, weights, output] = split(scratch, [input_shape.len(), out_c * k, output_shape.len()])?;
    input.iter_mut().for_each(|v| *v = g.activation());
    weights.iter_mut().for_each(|v| *v = g.weight());
    let params = Params::random(g);
    let args = Conv2dArgs {
        input,
        input_shape,
        input_zero_point: i32::from(g.i8_any()),
        window,
        weights,
        channels: params.channels(out_c)?,
        output_stage: output_stage(g),
        pool_2x2,
    };
    conv2d(&args, output, output_shape)?;
    Ok(fnv1a32(output))
}

/// One random fused concat + 1×1 conv (case `i`: two scales when odd);
/// returns its output hash.
fn concat_case(g: &mut Rng, i: u64, scratch: &mut [i8]) -> Result<u32, Error> {
    let pixels = draw(g, 1, 40) as usize;
    let (ca, cb) = (draw(g, 1, 20) as usize, draw(g, 1, 20) as usize);
    let out_c = if i % 10 == 5 {
        draw(g, 65, MAX_OUT_CHANNELS as u64)
    } else {
        draw(g, 1, 9)
    } as usize;
    let [inputs, weights, output] = split(scratch, [pixels * (ca + cb), out_c * (ca + cb), pixels * out_c])?;
    inputs.iter_mut().for_each(|v| *v = g.activation());
    weights.iter_mut().for_each(|v| *v = g.weight());
    let (a, b) = inputs.split_at(pixels * ca);
    let params = Params::random(g);
    // Two scales when odd: the `b` side's own requantisation.
    let (multipliers_b, shifts_b): (&[u8], &[u8]) = if i % 2 == 1 {
        (
            params.multipliers_b.get(..4 * out_c).ok_or(Error::Internal)?,
            params.shifts_b.get(..out_c).ok_or(Error::Internal)?,
        )
    } else {
        (&[], &[])
    };
    let args = ConcatConv1x1Args {
        a_channels: ca,
        a_zero_point: i32::from(g.i8_any()),
        b,
        b_channels: cb,
        b_zero_point: i32::from(g.i8_any()),
        weights,
        channels_a: params.channels(out_c)?,
        multipliers_b,
        shifts_b,
        output_stage: output_stage(g),
    };
    concat_conv1x1(&args, a, output, out_c)?;
    Ok(fnv1a32(output))
}

/// Runs every case with the build's engine, writing `case <i> <hash>`
/// lines; `scratch` holds at least [`SCRATCH_BYTES`] bytes.
pub fn run<F: FnMut(&[u8])>(t: &mut Transcript<F>, scratch: &mut [u8]) -> Result<(), Error> {
    let scratch: &mut [i8] = bytemuck::must_cast_slice_mut(scratch.get_mut(..SCRATCH_BYTES).ok_or(Error::Internal)?);
    let mut g = Rng::new(0x534d_4e5f_4b43_0001);
    for i in 0..CASES {
        let hash = if i % 4 == 2 {
            concat_case(&mut g, i, scratch)?
        } else {
            conv_case(&mut g, i, scratch)?
        };
        t.case(i, hash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn transcript(scratch: &mut [u8]) -> Result<String, Error> {
        let mut text = Vec::new();
        run(&mut Transcript::new(|b: &[u8]| text.extend_from_slice(b)), scratch)?;
        Ok(String::from_utf8(text).unwrap())
    }

    #[test]
    fn every_case_runs_and_writes_one_line() {
        let text = transcript(&mut std::vec![0u8; SCRATCH_BYTES]).unwrap();
        assert_eq!(text.lines().count() as u64, CASES);
        for (i, line) in text.lines().enumerate() {
            assert!(line.starts_with(&std::format!("case {i} ")), "{line}");
        }
        // Deterministic, whatever the scratch held before.
        assert_eq!(transcript(&mut std::vec![0x5Au8; SCRATCH_BYTES + 7]).unwrap(), text);
        // A short scratch is an error, not a panic.
        assert!(transcript(&mut std::vec![0u8; SCRATCH_BYTES - 1]).is_err());
    }
}
