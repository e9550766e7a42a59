//! Random-weight Separation Multi-task Network graphs, for tests, benches
//! and the Cortex-M4 firmware before trained models exist.
//!
//! ```text
//! input ─┬─ conv─pool ─ s1 ─ conv─pool ─ s2 … sL            (shared layers)
//!        ├─ conv─pool ─ a1 ─ cat1x1(a1,s1) ─ conv─pool ─ a2 … cat1x1(aL,sL) ─ fc ─ fc(10) → landmarks
//!        └─ conv─pool ─ b1 ─ cat1x1(b1,s1) ─ conv─pool ─ b2 … cat1x1(bL,sL) ─ fc ─ fc(40) → attributes
//! ```
//! Each task layer `l ≥ 2` sees `concat(own l−1, shared l−1)` through a fused
//! 1×1 conv that restores the stage-1 width, then a 3×3 conv + ReLU and a 2×2
//! max pool, exactly the shape of the shared layer.
use super::{Activation, BuildError, GraphBuilder, InputSpec, OutputSpec, TensorId, Weights};
use crate::format::{LandmarkHead, Quant, Window};
use crate::outputs::{ATTRIBUTE_COUNT, LANDMARK_COUNT};
use crate::rng::Rng;
use alloc::vec::Vec;

/// Sizes of a random SMN graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmnShape {
    /// Input height.
    pub input_height: u16,
    /// Input width.
    pub input_width: u16,
    /// Output channels of each conv level (each followed by a 2×2 max pool).
    pub channels: Vec<u16>,
    /// Hidden units of each head's first fully connected layer.
    pub hidden: u16,
    /// Emit each conv + max pool as one [`crate::format::Op::Conv2dMaxPool`]
    /// (the full-resolution tensor is never stored) instead of two ops.
    pub fused_pool: bool,
    /// The arena-lean schedule: each shared level is emitted just before its
    /// first use (task 0 runs to its head first, then task 1), and concat +
    /// 1×1 outputs are stored in place over their own-branch input
    /// ([`super::GraphBuilder::in_place_concat`]). Otherwise all shared
    /// levels come first and every tensor gets its own bytes.
    pub lean_schedule: bool,
    /// Emit every fused concat + 1×1 in one scale (format version 3,
    /// `docs/int8-spec.md` §5.1) instead of two.
    pub one_scale_concat: bool,
}

impl SmnShape {
    /// Cortex-M4-sized: 64×64 input, 4 levels (16-32-32-64), hidden 64,
    /// conv + pool fused, arena-lean schedule.
    pub fn micro() -> Self {
        SmnShape {
            input_height: 64,
            input_width: 64,
            channels: alloc::vec![16, 32, 32, 64],
            hidden: 64,
            fused_pool: true,
            lean_schedule: true,
            one_scale_concat: true,
        }
    }

    /// Very small, for fast tests: 16×16 input, 2 levels (4-8), hidden 8,
    /// separate conv and pool ops, shared levels first (the layout the
    /// malformed-blob tests edit).
    pub fn tiny() -> Self {
        SmnShape {
            input_height: 16,
            input_width: 16,
            channels: alloc::vec![4, 8],
            hidden: 8,
            fused_pool: false,
            lean_schedule: false,
            one_scale_concat: true,
        }
    }
}

const CONV3: Window = Window::square(3, 1, 1);

/// Draws layers with He-like weight ranges and activation scales that keep
/// values spread over the int8 range.
struct Layers<'r> {
    rng: &'r mut Rng,
}

impl Layers<'_> {
    fn weights(&mut self, out: u16, fan_in: usize, s_in: f32) -> Weights {
        let n = usize::from(out) * fan_in;
        let values: Vec<i8> = (0..n).map(|_| self.rng.range(-127, 127) as i8).collect();
        // real weights ~ U(−r, r), r = sqrt(6 / fan_in), spread over ±127 per channel
        let range = (6.0 / fan_in as f64).sqrt();
        let scales: Vec<f32> = (0..out)
            .map(|_| (range * (0.8 + 0.4 * self.rng.unit()) / 127.0) as f32)
            .collect();
        let bias = scales
            .iter()
            .map(|&sw| {
                let real = 0.05 * (2.0 * self.rng.unit() - 1.0);
                (real / (f64::from(s_in) * f64::from(sw))).round() as i32
            })
            .collect();
        Weights {
            out_channels: out,
            values,
            scales,
            bias,
        }
    }

    /// ReLU output: real range [0, ~4·std] of the previous layer.
    fn relu_out(&mut self, s_in: f32) -> OutputSpec {
        let scale = s_in * (0.7 + 0.3 * self.rng.unit() as f32);
        OutputSpec {
            quant: Quant {
                scale,
                zero_point: -128,
            },
            activation: Activation::Relu,
        }
    }
}

fn conv_pool(
    g: &mut GraphBuilder,
    l: &mut Layers<'_>,
    x: TensorId,
    out: u16,
    fused: bool,
) -> Result<TensorId, BuildError> {
    let t = *g.tensor(x)?;
    let w = l.weights(out, 9 * usize::from(t.channels), t.quant.scale);
    let spec = l.relu_out(t.quant.scale);
    if fused {
        g.conv2d_max_pool(x, CONV3, &w, spec)
    } else {
        let y = g.conv2d(x, CONV3, &w, spec)?;
        g.max_pool(y, Window::square(2, 2, 0))
    }
}

fn fuse(
    g: &mut GraphBuilder,
    l: &mut Layers<'_>,
    (own, shared): (TensorId, TensorId),
    one_scale: bool,
) -> Result<TensorId, BuildError> {
    let (a, b) = (*g.tensor(own)?, *g.tensor(shared)?);
    let w = l.weights(
        a.channels,
        usize::from(a.channels) + usize::from(b.channels),
        a.quant.scale,
    );
    let spec = l.relu_out(a.quant.scale.max(b.quant.scale));
    if one_scale {
        let rho = f64::from(b.quant.scale) / f64::from(a.quant.scale);
        let w = w.to_one_scale(usize::from(a.channels), rho);
        g.concat_conv1x1_one_scale(own, shared, &w, spec)
    } else {
        g.concat_conv1x1(own, shared, &w, spec)
    }
}

fn head(
    g: &mut GraphBuilder,
    l: &mut Layers<'_>,
    x: TensorId,
    hidden: u16,
    outputs: u16,
    out: Quant,
) -> Result<TensorId, BuildError> {
    let t = *g.tensor(x)?;
    let n_in = usize::from(t.height) * usize::from(t.width) * usize::from(t.channels);
    let w1 = l.weights(hidden, n_in, t.quant.scale);
    let spec1 = l.relu_out(t.quant.scale);
    let h = g.fully_connected(x, &w1, spec1)?;
    let th = *g.tensor(h)?;
    let w2 = l.weights(outputs, usize::from(hidden), th.quant.scale);
    g.fully_connected(
        h,
        &w2,
        OutputSpec {
            quant: out,
            activation: Activation::None,
        },
    )
}

/// A complete SMN graph with random weights; deterministic for a `seed`.
pub fn random_smn_blob(shape: &SmnShape, seed: u64) -> Result<Vec<u8>, BuildError> {
    if shape.channels.is_empty() {
        return Err(BuildError::Shape("an SMN needs at least one conv level".into()));
    }
    let mut rng = Rng::new(seed);
    let mut l = Layers { rng: &mut rng };
    let input = InputSpec {
        height: shape.input_height,
        width: shape.input_width,
        mean: [127.5; 3],
        std: [127.5; 3],
        quant: Quant {
            scale: 1.0 / 127.0,
            zero_point: 0,
        },
    };
    let mut g = GraphBuilder::new(input).in_place_concat(shape.lean_schedule);
    let x = g.input();
    // Shared level `i` (0-based), emitted on first use.
    let mut shared: Vec<TensorId> = Vec::new();
    let mut shared_level = |g: &mut GraphBuilder, l: &mut Layers<'_>, i: usize| -> Result<TensorId, BuildError> {
        while shared.len() <= i {
            let (prev, &c) = (
                shared.last().copied().unwrap_or(x),
                shape
                    .channels
                    .get(shared.len())
                    .ok_or_else(|| BuildError::Shape("shared level past the last".into()))?,
            );
            shared.push(conv_pool(g, l, prev, c, shape.fused_pool)?);
        }
        shared
            .get(i)
            .copied()
            .ok_or_else(|| BuildError::Shape("shared level".into()))
    };
    if !shape.lean_schedule && !shape.channels.is_empty() {
        shared_level(&mut g, &mut l, shape.channels.len() - 1)?;
    }
    let task_outputs = [
        (
            2 * LANDMARK_COUNT as u16,
            Quant {
                scale: 1.0 / 255.0,
                zero_point: -128,
            },
        ),
        (
            ATTRIBUTE_COUNT as u16,
            Quant {
                scale: 0.05,
                zero_point: 0,
            },
        ),
    ];
    let mut heads = Vec::new();
    for (outputs, out_quant) in task_outputs {
        // Level 1 sees the input; level l ≥ 2 sees concat(own l−1, shared l−1).
        let mut own: Option<TensorId> = None;
        for (level, &c) in shape.channels.iter().enumerate() {
            let x_l = match own {
                Some(prev) => {
                    let s = shared_level(&mut g, &mut l, level - 1)?;
                    fuse(&mut g, &mut l, (prev, s), shape.one_scale_concat)?
                }
                None => x,
            };
            own = Some(conv_pool(&mut g, &mut l, x_l, c, shape.fused_pool)?);
        }
        let Some(own) = own else {
            return Err(BuildError::Shape("an SMN needs at least one conv level".into()));
        };
        let last_shared = shared_level(&mut g, &mut l, shape.channels.len() - 1)?;
        let fused = fuse(&mut g, &mut l, (own, last_shared), shape.one_scale_concat)?;
        heads.push(head(&mut g, &mut l, fused, shape.hidden, outputs, out_quant)?);
    }
    let [landmarks, attributes] = heads[..] else {
        return Err(BuildError::Shape("expected two task heads".into()));
    };
    let (w, h) = (f32::from(shape.input_width), f32::from(shape.input_height));
    g.landmark_head(
        landmarks,
        LandmarkHead {
            input: 0,
            x_scale: w,
            x_offset: 0.0,
            y_scale: h,
            y_offset: 0.0,
        },
    )?;
    g.attribute_head(attributes)?;
    g.finish()
}

/// A deterministic RGB test image: a face-like ellipse with eyes and mouth on
/// a gradient background, plus seeded noise.
pub fn synthetic_test_image(height: usize, width: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut img = Vec::with_capacity(height * width * 3);
    let (h, w) = (height.max(1) as f64, width.max(1) as f64);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f64 / w, y as f64 / h);
            let face = ((u - 0.5) / 0.32).powi(2) + ((v - 0.5) / 0.42).powi(2) < 1.0;
            let eye = ((u - 0.37).powi(2) + (v - 0.42).powi(2)).sqrt() < 0.05
                || ((u - 0.63).powi(2) + (v - 0.42).powi(2)).sqrt() < 0.05;
            let mouth = (v - 0.7).abs() < 0.025 && (u - 0.5).abs() < 0.14;
            let base: [f64; 3] = if eye || mouth {
                [40.0, 30.0, 30.0]
            } else if face {
                [220.0, 180.0, 150.0]
            } else {
                [60.0 + 120.0 * u, 90.0 + 60.0 * v, 160.0 - 80.0 * u]
            };
            for c in base {
                let noise = 16.0 * (rng.unit() - 0.5);
                img.push((c + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Model;

    #[test]
    fn micro_and_tiny_graphs_validate_and_run() {
        for shape in [SmnShape::tiny(), SmnShape::micro()] {
            let blob = random_smn_blob(&shape, 7).unwrap();
            let model = Model::from_bytes(&blob).unwrap();
            let img = synthetic_test_image(model.input_height(), model.input_width(), 1);
            let mut arena = alloc::vec![0u8; model.arena_bytes()];
            let mut distinct = alloc::collections::BTreeSet::new();
            let out = model
                .run_observed(&img, &mut arena, &mut |t| {
                    distinct.insert(crate::transcript::fnv1a32(t.data));
                })
                .unwrap();
            assert!(distinct.len() > 10, "op outputs should differ");
            assert!(out.landmarks.iter().flatten().all(|v| v.is_finite()));
            // Same blob twice: identical bytes (the builder is deterministic).
            assert_eq!(blob, random_smn_blob(&shape, 7).unwrap());
        }
    }
}
