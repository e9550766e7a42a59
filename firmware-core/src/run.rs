//! Executing a validated model.
use crate::arena::split_io;
use crate::format::{Clamp, Op, TensorDesc};
use crate::kernels::attribute_head::attributes;
use crate::kernels::avg_pool::avg_pool;
use crate::kernels::concat_conv1x1::{concat_conv1x1, concat_conv1x1_in_place, ConcatConv1x1Args};
use crate::kernels::conv2d::{conv2d, Conv2dArgs};
use crate::kernels::fully_connected::{fully_connected, FullyConnectedArgs};
use crate::kernels::global_avg_pool::{global_avg_pool, GlobalAvgPoolArgs};
use crate::kernels::input::convert_rgb;
use crate::kernels::landmark_head::landmarks;
use crate::kernels::max_pool::max_pool;
use crate::kernels::params::ChannelParams;
use crate::kernels::pool_window::Pool2dArgs;
use crate::kernels::{OutputStage, Shape};
use crate::model::Model;
use crate::outputs::{OpTrace, Outputs};
use crate::Error;

fn shape(t: &TensorDesc) -> Shape {
    Shape {
        height: usize::from(t.height),
        width: usize::from(t.width),
        channels: usize::from(t.channels),
    }
}

fn stage(t: &TensorDesc, clamp: Clamp) -> OutputStage {
    OutputStage {
        zero_point: i32::from(t.quant.zero_point),
        min: i32::from(clamp.min),
        max: i32::from(clamp.max),
    }
}

impl<'a> Model<'a> {
    /// Runs one forward pass on an RGB image (`height × width × 3` bytes,
    /// row-major, interleaved) using `arena` (at least [`Model::arena_bytes`]).
    pub fn run(&self, image_rgb: &[u8], arena: &mut [u8]) -> Result<Outputs, Error> {
        self.run_observed(image_rgb, arena, &mut |_| {})
    }

    /// Like [`Model::run`], calling `observer` with every tensor an op writes,
    /// right after the op (for parity checks, tracing and calibration).
    pub fn run_observed(
        &self,
        image_rgb: &[u8],
        arena: &mut [u8],
        observer: &mut dyn FnMut(OpTrace<'_>),
    ) -> Result<Outputs, Error> {
        if image_rgb.len() != self.input_len() {
            return Err(Error::InputSize {
                expected: self.input_len(),
                found: image_rgb.len(),
            });
        }
        let needed = self.arena_bytes();
        let found = arena.len();
        let arena = arena.get_mut(..needed).ok_or(Error::ArenaTooSmall { needed, found })?;
        let arena: &mut [i8] = bytemuck::must_cast_slice_mut(arena);
        let input = arena.get_mut(self.range(0)?).ok_or(Error::Internal)?;
        if !convert_rgb(image_rgb, self.header.input_lut.0, input) {
            return Err(Error::Internal);
        }
        let mut outputs = Outputs::default();
        for (op_index, op) in self.ops().enumerate() {
            let op = op?;
            self.execute(&op, arena, &mut outputs)?;
            if let Some(tensor) = op.output() {
                let data = arena.get(self.range(tensor)?).ok_or(Error::Internal)?;
                observer(OpTrace {
                    op_index,
                    tensor: usize::from(tensor),
                    data,
                });
            }
        }
        Ok(outputs)
    }

    fn execute(&self, op: &Op<'_>, arena: &mut [i8], outputs: &mut Outputs) -> Result<(), Error> {
        match op {
            Op::Conv2d(c) | Op::Conv2dMaxPool(c) => {
                let (input, output) = (self.desc(c.input)?, self.desc(c.output)?);
                let ([x], y) = split_io(arena, self.range(c.output)?, [self.range(c.input)?])?;
                let args = Conv2dArgs {
                    input: x,
                    input_shape: shape(input),
                    input_zero_point: i32::from(input.quant.zero_point),
                    window: c.window,
                    weights: bytemuck::must_cast_slice(c.weights.0),
                    channels: ChannelParams {
                        bias: c.bias.0,
                        multipliers: c.requant.multipliers.0,
                        shifts: c.requant.shifts.0,
                    },
                    output_stage: stage(output, c.clamp),
                    pool_2x2: matches!(op, Op::Conv2dMaxPool(_)),
                };
                conv2d(&args, y, shape(output))
            }
            Op::ConcatConv1x1(c) => {
                let (ta, tb, output) = (self.desc(c.input_a)?, self.desc(c.input_b)?, self.desc(c.output)?);
                let in_place = output.offset == ta.offset; // validated: `a` ends here
                let (a, b, y) = if in_place {
                    let ([b], a_then_y) = split_io(arena, self.range(c.input_a)?, [self.range(c.input_b)?])?;
                    (None, b, a_then_y)
                } else {
                    let ([a, b], y) = split_io(
                        arena,
                        self.range(c.output)?,
                        [self.range(c.input_a)?, self.range(c.input_b)?],
                    )?;
                    (Some(a), b, y)
                };
                let args = ConcatConv1x1Args {
                    a_channels: usize::from(ta.channels),
                    a_zero_point: i32::from(ta.quant.zero_point),
                    b,
                    b_channels: usize::from(tb.channels),
                    b_zero_point: i32::from(tb.quant.zero_point),
                    weights: bytemuck::must_cast_slice(c.weights.0),
                    channels_a: ChannelParams {
                        bias: c.bias.0,
                        multipliers: c.requant_a.multipliers.0,
                        shifts: c.requant_a.shifts.0,
                    },
                    multipliers_b: c.requant_b.multipliers.0,
                    shifts_b: c.requant_b.shifts.0,
                    output_stage: stage(output, c.clamp),
                };
                match a {
                    Some(a) => concat_conv1x1(&args, a, y, usize::from(output.channels)),
                    None => concat_conv1x1_in_place(&args, y, usize::from(output.channels)),
                }
            }
            Op::MaxPool2d(p) | Op::AvgPool2d(p) => {
                let (input, output) = (self.desc(p.input)?, self.desc(p.output)?);
                let ([x], y) = split_io(arena, self.range(p.output)?, [self.range(p.input)?])?;
                let args = Pool2dArgs {
                    input: x,
                    input_shape: shape(input),
                    window: p.window,
                };
                if matches!(op, Op::MaxPool2d(_)) {
                    max_pool(&args, y, shape(output))
                } else {
                    avg_pool(&args, y, shape(output))
                }
            }
            Op::GlobalAvgPool(p) => {
                let input = self.desc(p.input)?;
                let ([x], y) = split_io(arena, self.range(p.output)?, [self.range(p.input)?])?;
                let args = GlobalAvgPoolArgs {
                    input: x,
                    input_shape: shape(input),
                };
                global_avg_pool(&args, y)
            }
            Op::FullyConnected(f) => {
                let (input, output) = (self.desc(f.input)?, self.desc(f.output)?);
                let ([x], y) = split_io(arena, self.range(f.output)?, [self.range(f.input)?])?;
                let params = ChannelParams {
                    bias: f.bias.0,
                    multipliers: f.requant.multipliers.0,
                    shifts: f.requant.shifts.0,
                };
                let args = FullyConnectedArgs {
                    input: x,
                    input_zero_point: i32::from(input.quant.zero_point),
                    weights: bytemuck::must_cast_slice(f.weights.0),
                    channels: params,
                    output_stage: stage(output, f.clamp),
                };
                fully_connected(&args, y)
            }
            Op::LandmarkHead(h) => {
                let input = self.desc(h.input)?;
                let q = arena.get(self.range(h.input)?).ok_or(Error::Internal)?;
                for (dst, &src) in outputs.landmarks_q.iter_mut().zip(q) {
                    *dst = src;
                }
                landmarks(q, input.quant, h, &mut outputs.landmarks);
                Ok(())
            }
            Op::AttributeHead(h) => {
                let input = self.desc(h.input)?;
                let q = arena.get(self.range(h.input)?).ok_or(Error::Internal)?;
                for (dst, &src) in outputs.attribute_logits_q.iter_mut().zip(q) {
                    *dst = src;
                }
                attributes(
                    q,
                    input.quant,
                    &mut outputs.attribute_probs,
                    &mut outputs.attribute_flags,
                );
                Ok(())
            }
        }
    }
}
