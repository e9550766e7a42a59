//! `f32` reference forward pass over a [`FloatGraph`] in NHWC, as described
//! in `docs/float-model.md`.
use crate::error::QuantizeError;
use crate::float_model::{FloatModel, ATTRIBUTE_OUTPUTS, LANDMARK_OUTPUTS};
use crate::graph::{BatchNorm, FloatGraph, NodeOp};
use rayon::prelude::*;

/// What the float network outputs for one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatOutputs {
    /// `x0, y0, …, x4, y4`, normalised: pixel `= u · input_size − 0.5`.
    pub landmarks: [f32; LANDMARK_OUTPUTS],
    /// CelebA attribute logits.
    pub logits: [f32; ATTRIBUTE_OUTPUTS],
}

impl FloatOutputs {
    /// Landmarks in pixels of the model input, as the int8 landmark head reports them.
    pub fn landmark_pixels(&self, input_size: usize) -> [f32; LANDMARK_OUTPUTS] {
        self.landmarks.map(|u| u * input_size as f32 - 0.5)
    }
}

/// The normalised input `[size, size, 3]` of an RGB HWC image.
fn normalise(graph: &FloatGraph, image: &[u8]) -> Result<Vec<f32>, QuantizeError> {
    let expected = graph.input_size * graph.input_size * 3;
    if image.len() != expected {
        return Err(QuantizeError::Image(format!(
            "expected {expected} bytes ({0}×{0} RGB), got {1}",
            graph.input_size,
            image.len()
        )));
    }
    let (m, s) = (graph.pixel_mean, graph.pixel_std);
    Ok(image.iter().map(|&p| (f32::from(p) - m) / s).collect())
}

fn conv(
    x: &[f32],
    [h, w, cin]: [usize; 3],
    k: usize,
    w_hwio: &[f32],
    bias: &[f32],
    bn: Option<&BatchNorm>,
) -> Vec<f32> {
    let cout = bias.len();
    let pad = k / 2;
    let mut y = vec![0f32; h * w * cout];
    for (oy, row) in y.chunks_exact_mut(w * cout).enumerate() {
        for (ox, acc) in row.chunks_exact_mut(cout).enumerate() {
            acc.copy_from_slice(bias);
            for ky in 0..k {
                let Some(iy) = (oy + ky).checked_sub(pad).filter(|&v| v < h) else {
                    continue;
                };
                for kx in 0..k {
                    let Some(ix) = (ox + kx).checked_sub(pad).filter(|&v| v < w) else {
                        continue;
                    };
                    let px = &x[(iy * w + ix) * cin..][..cin];
                    let taps = &w_hwio[(ky * k + kx) * cin * cout..][..cin * cout];
                    for (&xv, wrow) in px.iter().zip(taps.chunks_exact(cout)) {
                        for (a, &wv) in acc.iter_mut().zip(wrow) {
                            *a += xv * wv;
                        }
                    }
                }
            }
            if let Some(bn) = bn {
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = (*a - bn.mean[c]) / (bn.var[c] + bn.eps).sqrt() * bn.gamma[c] + bn.beta[c];
                }
            }
            for a in acc.iter_mut() {
                *a = a.max(0.0);
            }
        }
    }
    y
}

fn max_pool(x: &[f32], [h, w, c]: [usize; 3]) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut y = vec![f32::NEG_INFINITY; oh * ow * c];
    for oy in 0..oh {
        for ox in 0..ow {
            let out = &mut y[(oy * ow + ox) * c..][..c];
            for dy in 0..2 {
                for dx in 0..2 {
                    let px = &x[((2 * oy + dy) * w + 2 * ox + dx) * c..][..c];
                    for (o, &v) in out.iter_mut().zip(px) {
                        *o = o.max(v);
                    }
                }
            }
        }
    }
    y
}

fn concat(a: &[f32], ca: usize, b: &[f32], cb: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(a.len() + b.len());
    for (pa, pb) in a.chunks_exact(ca).zip(b.chunks_exact(cb)) {
        y.extend_from_slice(pa);
        y.extend_from_slice(pb);
    }
    y
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn concat_conv1x1(a: &[f32], ca: usize, b: &[f32], cb: usize, weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let mut y = Vec::with_capacity(a.len() / ca.max(1) * bias.len());
    for (pa, pb) in a.chunks_exact(ca).zip(b.chunks_exact(cb)) {
        for (row, &b0) in weight.chunks_exact(ca + cb).zip(bias) {
            y.push(b0 + dot(&row[..ca], pa) + dot(&row[ca..], pb));
        }
    }
    y
}

fn fc(x: &[f32], weight: &[f32], bias: &[f32], relu: bool) -> Vec<f32> {
    weight
        .chunks_exact(x.len().max(1))
        .zip(bias)
        .map(|(row, &b0)| {
            let v = b0 + dot(row, x);
            if relu {
                v.max(0.0)
            } else {
                v
            }
        })
        .collect()
}

/// Runs the graph on one RGB `u8` image (`input_size² × 3`, HWC) and returns
/// the output of every node, in node order (node 0: the normalised input).
pub fn forward_all(graph: &FloatGraph, image: &[u8]) -> Result<Vec<Vec<f32>>, QuantizeError> {
    let mut values: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes.len());
    let shape_of = |values: &Vec<Vec<f32>>, i: usize| -> Result<[usize; 3], QuantizeError> {
        if i >= values.len() {
            return Err(QuantizeError::Internal(format!("node input {i} not computed yet")));
        }
        graph
            .nodes
            .get(i)
            .map(|n| n.shape)
            .ok_or_else(|| QuantizeError::Internal(format!("no node {i}")))
    };
    for node in &graph.nodes {
        let v = match &node.op {
            NodeOp::Input => normalise(graph, image)?,
            NodeOp::Conv {
                input,
                kernel,
                weight_hwio,
                bias,
                bn,
                ..
            } => {
                let s = shape_of(&values, *input)?;
                conv(&values[*input], s, *kernel, weight_hwio, bias, bn.as_ref())
            }
            NodeOp::MaxPool { input } => {
                let s = shape_of(&values, *input)?;
                max_pool(&values[*input], s)
            }
            NodeOp::Concat { a, b } => {
                let (sa, sb) = (shape_of(&values, *a)?, shape_of(&values, *b)?);
                concat(&values[*a], sa[2], &values[*b], sb[2])
            }
            NodeOp::ConcatConv1x1 { a, b, weight, bias } => {
                let (sa, sb) = (shape_of(&values, *a)?, shape_of(&values, *b)?);
                concat_conv1x1(&values[*a], sa[2], &values[*b], sb[2], weight, bias)
            }
            NodeOp::Fc {
                input,
                weight,
                bias,
                relu,
            } => {
                shape_of(&values, *input)?;
                fc(&values[*input], weight, bias, *relu)
            }
        };
        if v.len() != node.len() {
            return Err(QuantizeError::Internal(format!(
                "node {}: computed {} values for shape {:?}",
                node.name,
                v.len(),
                node.shape
            )));
        }
        values.push(v);
    }
    Ok(values)
}

/// The two task outputs from the values [`forward_all`] returned.
pub fn outputs_of(graph: &FloatGraph, values: &[Vec<f32>]) -> Result<FloatOutputs, QuantizeError> {
    let get = |i: usize| {
        values
            .get(i)
            .ok_or_else(|| QuantizeError::Internal("missing output node".into()))
    };
    let mut out = FloatOutputs {
        landmarks: [0.0; LANDMARK_OUTPUTS],
        logits: [0.0; ATTRIBUTE_OUTPUTS],
    };
    let (l, a) = (get(graph.outputs[0])?, get(graph.outputs[1])?);
    if l.len() != LANDMARK_OUTPUTS || a.len() != ATTRIBUTE_OUTPUTS {
        return Err(QuantizeError::Internal("output node sizes".into()));
    }
    out.landmarks.copy_from_slice(l);
    out.logits.copy_from_slice(a);
    Ok(out)
}

/// Runs the graph on one image.
pub fn forward(graph: &FloatGraph, image: &[u8]) -> Result<FloatOutputs, QuantizeError> {
    outputs_of(graph, &forward_all(graph, image)?)
}

/// Runs the graph on many images in parallel (rayon).
pub fn forward_batch(graph: &FloatGraph, images: &[Vec<u8>]) -> Result<Vec<FloatOutputs>, QuantizeError> {
    images.par_iter().map(|img| forward(graph, img)).collect()
}

impl FloatModel {
    /// Float forward pass on one image (builds the graph each call; for many
    /// images build a [`FloatGraph`] once and use [`forward_batch`]).
    pub fn forward(&self, image: &[u8]) -> Result<FloatOutputs, QuantizeError> {
        forward(&FloatGraph::new(self)?, image)
    }
}
