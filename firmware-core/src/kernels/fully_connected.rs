//! Fully connected layer over a flattened NHWC tensor (`docs/int8-spec.md` §4):
//! `y[o] = clamp(zp_out + MBQM(bias[o] + Σ w[o][i]·(x[i] − zp_in), M[o], sh[o]))`.
use super::mac::MacEngine;
use super::params::ChannelParams;
use super::requant::multiply_by_quantized_multiplier;
use super::simd_dispatch::with_best_simd;
use super::{Native, OutputStage};
use crate::Error;
use core::num::NonZeroUsize;

/// Everything a fully connected layer reads.
#[derive(Clone, Copy, Debug)]
pub struct FullyConnectedArgs<'a> {
    /// The flattened input.
    pub input: &'a [i8],
    /// Input zero point (subtracted from every input value).
    pub input_zero_point: i32,
    /// `out × input.len()` weights, row-major.
    pub weights: &'a [i8],
    /// Per-output bias and requantisation.
    pub channels: ChannelParams<'a>,
    /// Output zero point and clamp.
    pub output_stage: OutputStage,
}

/// Runs the layer into `output` (one value per weight row).
pub fn fully_connected(args: &FullyConnectedArgs<'_>, output: &mut [i8]) -> Result<(), Error> {
    with_best_simd(
        #[inline(always)]
        || fully_connected_with::<Native>(args, output),
    )
}

/// [`fully_connected`] on a chosen MAC engine (the tests run both).
#[inline(always)]
pub(crate) fn fully_connected_with<E: MacEngine>(
    args: &FullyConnectedArgs<'_>,
    output: &mut [i8],
) -> Result<(), Error> {
    let FullyConnectedArgs {
        input,
        input_zero_point,
        weights,
        channels,
        output_stage,
    } = *args;
    // `NonZeroUsize` (see conv2d): no `chunks_exact` panic path.
    let row_len = NonZeroUsize::new(input.len()).ok_or(Error::Internal)?.get();
    let finish = |acc: i32, ch: super::params::Channel| {
        output_stage.finish(multiply_by_quantized_multiplier(
            ch.bias.wrapping_add(acc),
            ch.multiplier,
            ch.shift,
        ))
    };
    let mut rows = weights.chunks_exact(row_len).zip(channels.iter());
    // Two output channels per pass over the input.
    for outs in output.chunks_mut(2) {
        let (Some((w0, c0)), second) = (rows.next(), if outs.len() == 2 { rows.next() } else { None }) else {
            return Err(Error::Internal);
        };
        let (w1, c1) = second.unwrap_or((w0, c0));
        let [a0, a1] = E::dot_offset_1x2(input, -input_zero_point, w0, w1);
        for (o, (acc, ch)) in outs.iter_mut().zip([(a0, c0), (a1, c1)]) {
            *o = finish(acc, ch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{random_params, requant_ref};
    use crate::rng::Rng;

    #[test]
    fn matches_reference() {
        random_cases::<crate::kernels::portable::Portable>(41);
        random_cases::<crate::kernels::dsp::Dsp>(42);
        random_cases::<crate::kernels::scalar::Scalar>(43);
    }

    fn random_cases<E: MacEngine>(seed: u64) {
        let mut rng = Rng::new(seed);
        for case in 0..500 {
            let (n, m) = (rng.range(1, 300) as usize, rng.range(1, 50) as usize);
            let x = rng.vec_i8(n, Rng::activation);
            let w = rng.vec_i8(n * m, Rng::weight);
            let p = random_params(&mut rng, m, 1 << 18);
            let (zpi, zpo) = (rng.activation() as i64, rng.activation() as i64);
            let (lo, hi) = if case % 2 == 0 { (zpo, 127) } else { (-128, 127) };
            let mut out = std::vec![0i8; m];
            let params = ChannelParams {
                bias: &p.bias,
                multipliers: &p.mult,
                shifts: &p.shift,
            };
            let stage = OutputStage {
                zero_point: zpo as i32,
                min: lo as i32,
                max: hi as i32,
            };
            let args = FullyConnectedArgs {
                input: &x,
                input_zero_point: zpi as i32,
                weights: &w,
                channels: params,
                output_stage: stage,
            };
            fully_connected_with::<E>(&args, &mut out).unwrap();
            for o in 0..m {
                let (b, mu, s) = p.raw[o];
                let acc: i64 = b as i64 + (0..n).map(|i| (x[i] as i64 - zpi) * w[o * n + i] as i64).sum::<i64>();
                assert_eq!(
                    out[o] as i64,
                    (requant_ref(acc, mu, s) + zpo).clamp(lo, hi),
                    "case {case} o {o}"
                );
            }
        }
    }
}
