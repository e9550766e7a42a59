//! Max pooling over NHWC int8; padded positions are ignored (`docs/int8-spec.md` §6).
use super::pool_window::{for_each_window, Pool2dArgs};
use super::Shape;
use crate::Error;

/// Runs max pooling into `output` (`output_shape.len()` values); the output
/// keeps the input's quantisation.
pub fn max_pool(args: &Pool2dArgs<'_>, output: &mut [i8], output_shape: Shape) -> Result<(), Error> {
    let Pool2dArgs {
        input,
        input_shape,
        window,
    } = *args;
    let c = input_shape.channels;
    for_each_window(input_shape, window, output, output_shape, |out_px, region| {
        out_px.fill(i8::MIN);
        for iy in region.row..region.row + region.rows {
            for ix in region.col..region.col + region.cols {
                let start = (iy * input_shape.width + ix) * c;
                let px = input.get(start..start + c).ok_or(Error::Internal)?;
                for (o, &v) in out_px.iter_mut().zip(px) {
                    *o = (*o).max(v);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Window;
    use crate::rng::Rng;

    #[test]
    fn matches_reference() {
        let mut rng = Rng::new(51);
        for case in 0..400 {
            let (kh, kw) = (rng.range(1, 4) as u8, rng.range(1, 4) as u8);
            let win = Window {
                kernel_h: kh,
                kernel_w: kw,
                stride_h: rng.range(1, 3) as u8,
                stride_w: rng.range(1, 3) as u8,
                pad_top: rng.below(kh as u64) as u8,
                pad_bottom: rng.below(kh as u64) as u8,
                pad_left: rng.below(kw as u64) as u8,
                pad_right: rng.below(kw as u64) as u8,
            };
            let ins = Shape {
                height: rng.range(kh as i64, 10) as usize,
                width: rng.range(kw as i64, 10) as usize,
                channels: rng.range(1, 6) as usize,
            };
            let outs = Shape {
                height: (ins.height + (win.pad_top + win.pad_bottom) as usize - kh as usize) / win.stride_h as usize
                    + 1,
                width: (ins.width + (win.pad_left + win.pad_right) as usize - kw as usize) / win.stride_w as usize + 1,
                channels: ins.channels,
            };
            let x = rng.vec_i8(ins.len(), Rng::activation);
            let mut out = std::vec![0i8; outs.len()];
            let args = Pool2dArgs {
                input: &x,
                input_shape: ins,
                window: win,
            };
            max_pool(&args, &mut out, outs).unwrap();
            for oy in 0..outs.height {
                for ox in 0..outs.width {
                    for ch in 0..ins.channels {
                        let mut best: Option<i8> = None;
                        for ky in 0..kh as i64 {
                            for kx in 0..kw as i64 {
                                let iy = (oy * win.stride_h as usize) as i64 + ky - win.pad_top as i64;
                                let ix = (ox * win.stride_w as usize) as i64 + kx - win.pad_left as i64;
                                if iy >= 0 && ix >= 0 && (iy as usize) < ins.height && (ix as usize) < ins.width {
                                    let v = x[(iy as usize * ins.width + ix as usize) * ins.channels + ch];
                                    best = Some(best.map_or(v, |b| b.max(v)));
                                }
                            }
                        }
                        assert_eq!(
                            out[(oy * outs.width + ox) * ins.channels + ch],
                            best.unwrap(),
                            "case {case}"
                        );
                    }
                }
            }
        }
    }
}
