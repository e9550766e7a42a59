//! Global average pooling: `H × W × C → 1 × 1 × C`, the rounded mean of
//! every position per channel (`docs/int8-spec.md` §6).
use super::avg_pool::average_region;
use super::pool_window::Region;
use super::Shape;
use crate::Error;

/// Everything a global average pooling op reads.
#[derive(Clone, Copy, Debug)]
pub struct GlobalAvgPoolArgs<'a> {
    /// Input data, `input_shape.len()` values.
    pub input: &'a [i8],
    /// Input shape.
    pub input_shape: Shape,
}

/// Runs global average pooling into `output` (`input_shape.channels` values).
pub fn global_avg_pool(args: &GlobalAvgPoolArgs<'_>, output: &mut [i8]) -> Result<(), Error> {
    let GlobalAvgPoolArgs { input, input_shape } = *args;
    let region = Region {
        row: 0,
        rows: input_shape.height,
        col: 0,
        cols: input_shape.width,
    };
    average_region(input, input_shape, region, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn matches_reference() {
        let mut rng = Rng::new(71);
        for _ in 0..300 {
            let s = Shape {
                height: rng.range(1, 20) as usize,
                width: rng.range(1, 20) as usize,
                channels: rng.range(1, 80) as usize,
            };
            let x = rng.vec_i8(s.len(), Rng::activation);
            let mut out = std::vec![0i8; s.channels];
            let args = GlobalAvgPoolArgs {
                input: &x,
                input_shape: s,
            };
            global_avg_pool(&args, &mut out).unwrap();
            for ch in 0..s.channels {
                let sum: f64 = x.iter().skip(ch).step_by(s.channels).map(|&v| v as f64).sum();
                assert_eq!(out[ch], (sum / (s.height * s.width) as f64).round() as i8);
            }
        }
    }
}
