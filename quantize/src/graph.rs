//! The float network as a list of NHWC layers (a small graph IR shared by the
//! float forward pass, calibration, quantisation and the report).
//!
//! Weights are permuted once from the file's PyTorch layouts to the engine's:
//! conv OIHW → OHWI, fully connected columns from C, H, W flatten order to
//! H, W, C (NHWC) order.
use crate::error::{ModelFileError, QuantizeError};
use crate::float_model::{Arch, FloatModel, Variant, TASK_OUTPUTS};

/// Batch norm in evaluation mode: `y = (x − mean) / √(var + eps) · gamma + beta`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    /// γ.
    pub gamma: Vec<f32>,
    /// β.
    pub beta: Vec<f32>,
    /// Running mean μ.
    pub mean: Vec<f32>,
    /// Running variance σ².
    pub var: Vec<f32>,
    /// ε.
    pub eps: f32,
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOp {
    /// The normalised input image `(pixel − mean) / std`.
    Input,
    /// `k × k` conv, stride 1, zero "same" padding, bias, optional batch norm, ReLU.
    Conv {
        /// Input node.
        input: usize,
        /// Kernel size.
        kernel: usize,
        /// OHWI weights.
        weight: Vec<f32>,
        /// HWIO copy of `weight` (contiguous output channels for the float pass).
        weight_hwio: Vec<f32>,
        /// Bias.
        bias: Vec<f32>,
        /// Batch norm (absent once folded).
        bn: Option<BatchNorm>,
    },
    /// 2×2 max pool, stride 2.
    MaxPool {
        /// Input node.
        input: usize,
    },
    /// Channel concat `(a, b)`, `a` first (the `smn` variant).
    Concat {
        /// Own-branch node.
        a: usize,
        /// Shared node.
        b: usize,
    },
    /// Channel concat `(a, b)` followed by a 1×1 conv with bias, no activation.
    ConcatConv1x1 {
        /// Own-branch node.
        a: usize,
        /// Shared node.
        b: usize,
        /// `out × (c_a + c_b)` weights.
        weight: Vec<f32>,
        /// Bias.
        bias: Vec<f32>,
    },
    /// Fully connected over the NHWC-flattened input, optional ReLU.
    Fc {
        /// Input node.
        input: usize,
        /// `out × in` weights, columns in NHWC order.
        weight: Vec<f32>,
        /// Bias.
        bias: Vec<f32>,
        /// ReLU after the layer.
        relu: bool,
    },
}

/// One layer and its output tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Name, e.g. `shared.0.conv`, `branches.1.fuse.2`, `heads.0.fc2`.
    pub name: String,
    /// Computation.
    pub op: NodeOp,
    /// Output `[height, width, channels]`.
    pub shape: [usize; 3],
    /// `None` for shared layers and the input, `Some(t)` for task `t`'s layers and heads.
    pub task: Option<usize>,
    /// Conv level the node belongs to (heads: the number of levels).
    pub level: usize,
}

impl Node {
    /// Elements of the output.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for an empty output (never, for validated models).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input nodes.
    pub fn inputs(&self) -> Vec<usize> {
        match &self.op {
            NodeOp::Input => vec![],
            NodeOp::Conv { input, .. } | NodeOp::MaxPool { input } | NodeOp::Fc { input, .. } => vec![*input],
            NodeOp::Concat { a, b } | NodeOp::ConcatConv1x1 { a, b, .. } => vec![*a, *b],
        }
    }

    /// True when the output passed through a ReLU (so it is ≥ 0).
    pub fn non_negative(&self, graph: &FloatGraph) -> bool {
        match &self.op {
            NodeOp::Conv { .. } => true,
            NodeOp::Fc { relu, .. } => *relu,
            NodeOp::MaxPool { input } => graph.nodes.get(*input).is_some_and(|n| n.non_negative(graph)),
            _ => false,
        }
    }
}

/// The whole float network in NHWC.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatGraph {
    /// Nodes in a valid execution order (node 0 is the input).
    pub nodes: Vec<Node>,
    /// Input side.
    pub input_size: usize,
    /// Input normalisation mean.
    pub pixel_mean: f32,
    /// Input normalisation std.
    pub pixel_std: f32,
    /// Output node of each task: `[landmarks, logits]`
    /// ([`crate::float_model::TASK_OUTPUTS`] values each).
    pub outputs: [usize; 2],
    /// Variant of the source model.
    pub variant: Variant,
}

/// Transposes a row-major 4-D tensor of `shape`: output axis `j` is input
/// axis `axes[j]`. The caller has validated `data.len()` against `shape`.
fn permute4(data: &[f32], shape: [usize; 4], axes: [usize; 4]) -> Vec<f32> {
    let strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
    let [n0, n1, n2, n3] = axes.map(|a| shape[a]);
    let [s0, s1, s2, s3] = axes.map(|a| strides[a]);
    let mut out = Vec::with_capacity(data.len());
    for a in 0..n0 {
        for b in 0..n1 {
            for c in 0..n2 {
                out.extend((0..n3).map(|d| data[a * s0 + b * s1 + c * s2 + d * s3]));
            }
        }
    }
    out
}

/// OIHW → OHWI (and FC columns `[out, C, H, W]` → `[out, H, W, C]`).
const TO_CHANNELS_LAST: [usize; 4] = [0, 2, 3, 1];
/// OHWI → HWIO.
const OHWI_TO_HWIO: [usize; 4] = [1, 2, 3, 0];

struct Builder<'m> {
    model: &'m FloatModel,
    nodes: Vec<Node>,
}

impl Builder<'_> {
    fn data(&self, name: &str) -> Result<Vec<f32>, ModelFileError> {
        Ok(self.model.tensor(name)?.data.clone())
    }

    fn push(&mut self, name: String, op: NodeOp, shape: [usize; 3], task: Option<usize>, level: usize) -> usize {
        self.nodes.push(Node {
            name,
            op,
            shape,
            task,
            level,
        });
        self.nodes.len() - 1
    }

    fn shape(&self, node: usize) -> [usize; 3] {
        self.nodes.get(node).map_or([0; 3], |n| n.shape)
    }

    /// `{prefix}` conv (+BN +ReLU) then 2×2 max pool; returns the pool node.
    fn level(
        &mut self,
        prefix: &str,
        input: usize,
        cout: usize,
        task: Option<usize>,
        level: usize,
    ) -> Result<usize, ModelFileError> {
        let arch: &Arch = &self.model.arch;
        let k = arch.kernel_size;
        let [h, w, cin] = self.shape(input);
        let weight = permute4(
            &self.data(&format!("{prefix}.conv.weight"))?,
            [cout, cin, k, k],
            TO_CHANNELS_LAST,
        );
        let weight_hwio = permute4(&weight, [cout, k, k, cin], OHWI_TO_HWIO);
        let bn = if arch.batch_norm {
            Some(BatchNorm {
                gamma: self.data(&format!("{prefix}.bn.weight"))?,
                beta: self.data(&format!("{prefix}.bn.bias"))?,
                mean: self.data(&format!("{prefix}.bn.running_mean"))?,
                var: self.data(&format!("{prefix}.bn.running_var"))?,
                eps: self.model.bn_epsilon,
            })
        } else {
            None
        };
        let conv = NodeOp::Conv {
            input,
            kernel: k,
            weight,
            weight_hwio,
            bias: self.data(&format!("{prefix}.conv.bias"))?,
            bn,
        };
        let c = self.push(format!("{prefix}.conv"), conv, [h, w, cout], task, level);
        Ok(self.push(
            format!("{prefix}.pool"),
            NodeOp::MaxPool { input: c },
            [h / 2, w / 2, cout],
            task,
            level,
        ))
    }

    fn head(
        &mut self,
        prefix: &str,
        input: usize,
        outputs: usize,
        task: usize,
        level: usize,
    ) -> Result<usize, ModelFileError> {
        let shape = self.shape(input);
        let hidden = self.model.arch.hidden;
        // The file's FC columns run over C, H, W; the int8 graph is channels-last.
        let [h, w, c] = shape;
        let w1 = permute4(
            &self.data(&format!("{prefix}.fc1.weight"))?,
            [hidden, c, h, w],
            TO_CHANNELS_LAST,
        );
        let fc1 = NodeOp::Fc {
            input,
            weight: w1,
            bias: self.data(&format!("{prefix}.fc1.bias"))?,
            relu: true,
        };
        let h = self.push(format!("{prefix}.fc1"), fc1, [1, 1, hidden], Some(task), level);
        let fc2 = NodeOp::Fc {
            input: h,
            weight: self.data(&format!("{prefix}.fc2.weight"))?,
            bias: self.data(&format!("{prefix}.fc2.bias"))?,
            relu: false,
        };
        Ok(self.push(format!("{prefix}.fc2"), fc2, [1, 1, outputs], Some(task), level))
    }

    /// `join(l, own, shared)`: concat, through `fuse.{l}` when the variant has it.
    fn join(&mut self, t: usize, l: usize, own: usize, shared: usize, level: usize) -> Result<usize, ModelFileError> {
        let [h, w, ca] = self.shape(own);
        let cb = self.shape(shared)[2];
        if self.model.variant.has_1x1() {
            let prefix = format!("branches.{t}.fuse.{l}");
            let weight = self.data(&format!("{prefix}.weight"))?;
            let bias = self.data(&format!("{prefix}.bias"))?;
            let out = bias.len();
            let op = NodeOp::ConcatConv1x1 {
                a: own,
                b: shared,
                weight,
                bias,
            };
            Ok(self.push(prefix, op, [h, w, out], Some(t), level))
        } else {
            let op = NodeOp::Concat { a: own, b: shared };
            Ok(self.push(format!("branches.{t}.concat.{l}"), op, [h, w, ca + cb], Some(t), level))
        }
    }
}

impl FloatGraph {
    /// Builds the NHWC graph of a model (validated first). Batch norm stays
    /// explicit; fold it first with [`crate::fold::fold_batch_norm`] to quantise.
    pub fn new(model: &FloatModel) -> Result<FloatGraph, QuantizeError> {
        model.validate()?;
        let arch = &model.arch;
        let n = arch.input_size;
        let mut b = Builder {
            model,
            nodes: Vec::new(),
        };
        let input = b.push("input".into(), NodeOp::Input, [n, n, 3], None, 0);
        let levels = arch.channels.len();
        let mut shared = Vec::with_capacity(levels);
        let mut s = input;
        for (l, &c) in arch.channels.iter().enumerate() {
            s = b.level(&format!("shared.{l}"), s, c, None, l)?;
            shared.push(s);
        }
        let mut outputs = [0usize; 2];
        for (t, (&outs, out)) in TASK_OUTPUTS.iter().zip(outputs.iter_mut()).enumerate() {
            if !model.variant.is_stage2() {
                *out = b.head(&format!("heads.{t}"), s, outs, t, levels)?;
                continue;
            }
            let mut h = input;
            for (l, &c) in arch.channels.iter().enumerate() {
                if l > 0 {
                    let prev = *shared
                        .get(l - 1)
                        .ok_or_else(|| QuantizeError::Internal("level".into()))?;
                    h = b.join(t, l - 1, h, prev, l)?;
                }
                h = b.level(&format!("branches.{t}.blocks.{l}"), h, c, Some(t), l)?;
            }
            let last = *shared
                .last()
                .ok_or_else(|| QuantizeError::Internal("no levels".into()))?;
            h = b.join(t, levels - 1, h, last, levels)?;
            *out = b.head(&format!("branches.{t}.head"), h, outs, t, levels)?;
        }
        Ok(FloatGraph {
            nodes: b.nodes,
            input_size: n,
            pixel_mean: model.pixel_mean,
            pixel_std: model.pixel_std,
            outputs,
            variant: model.variant,
        })
    }

    /// Node by name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute4_moves_every_element_to_its_permuted_index() {
        let (o, i, kh, kw) = (2, 3, 4, 5);
        let data: Vec<f32> = (0..o * i * kh * kw).map(|v| v as f32).collect();
        let ohwi = permute4(&data, [o, i, kh, kw], TO_CHANNELS_LAST);
        let hwio = permute4(&ohwi, [o, kh, kw, i], OHWI_TO_HWIO);
        for oc in 0..o {
            for ic in 0..i {
                for y in 0..kh {
                    for x in 0..kw {
                        let v = data[((oc * i + ic) * kh + y) * kw + x];
                        assert_eq!(ohwi[((oc * kh + y) * kw + x) * i + ic], v);
                        assert_eq!(hwio[((y * kw + x) * i + ic) * o + oc], v);
                    }
                }
            }
        }
    }
}
