//! Emitting a quantised graph through firmware-core's `GraphBuilder` in one
//! execution order: fused conv + pool, in-place concats, and the
//! TFLite-style comparison graph (materialised concats, nothing fused).
use crate::calibrate::quant_for_range;
use crate::error::QuantizeError;
use crate::graph::{FloatGraph, NodeOp};
use crate::plan::{quantize_rows, ConcatScales, ExecutionOrder, LayerScales, OrderArena, QuantPlan};
use smn_firmware_core::builder::{Activation, ArenaPlan, GraphBuilder, InputSpec, OutputSpec, TensorId, Weights};
use smn_firmware_core::format::{LandmarkHead, Window};
use smn_firmware_core::kernels::conv2d::MAX_POOLED_PATCH;
use smn_firmware_core::kernels::dot::MAX_PATCH;

/// A graph emitted in one order.
#[derive(Clone, Debug)]
pub(crate) struct Emitted {
    /// The graph, ready to `finish` into a blob.
    pub builder: GraphBuilder,
    /// Blob tensor of each graph node (`None` if not a tensor of this emission).
    pub tensor_of: Vec<Option<TensorId>>,
    /// For a conv emitted fused with its max pool: the pool node, whose
    /// tensor the fused op writes (the conv's own output is never stored).
    pub pooled_by: Vec<Option<usize>>,
    /// Scales of every emitted MAC layer.
    pub scales: Vec<LayerScales>,
}

/// The emission kept among the execution orders, and every order's figures.
#[derive(Clone, Debug)]
pub(crate) struct OrderChoice {
    /// Arena figures of every order (fused and materialised concats).
    pub orders: Vec<OrderArena>,
    /// The order kept.
    pub order: ExecutionOrder,
    /// Its emission.
    pub emitted: Emitted,
}

/// Emits the graph in every [`ExecutionOrder`], both fused and
/// materialised, and keeps the fused emission with the smallest arena
/// among the `wanted` order (`None`: all of them).
pub(crate) fn emit_smallest_arena(
    graph: &FloatGraph,
    plan: &QuantPlan,
    wanted: Option<ExecutionOrder>,
) -> Result<OrderChoice, QuantizeError> {
    let mut orders = Vec::new();
    let mut best: Option<(usize, ExecutionOrder, Emitted)> = None;
    for order in ExecutionOrder::ALL {
        let fused = emit(graph, plan, order, false)?;
        let materialised = emit(graph, plan, order, true)?;
        let (p, pm) = (fused.plan(), materialised.plan());
        orders.push(OrderArena {
            order,
            arena_bytes: p.total,
            naive_bytes: p.naive,
            lower_bound_bytes: p.peak_live,
            materialised_arena_bytes: pm.total,
            materialised_lower_bound_bytes: pm.peak_live,
        });
        let is_wanted = wanted.is_none_or(|o| o == order);
        if is_wanted && best.as_ref().is_none_or(|(total, _, _)| p.total < *total) {
            best = Some((p.total, order, fused));
        }
    }
    let (_, order, emitted) = best.ok_or_else(|| QuantizeError::Internal("no order emitted".into()))?;
    Ok(OrderChoice { orders, order, emitted })
}

impl Emitted {
    /// The arena plan of the emitted graph.
    pub fn plan(&self) -> ArenaPlan {
        self.builder.plan()
    }
}

/// Identity weights of a materialised concat of `c` channels: `w = 127`, `s_w = 1/127`.
fn identity_concat(c: usize, name: &str) -> Result<Weights, QuantizeError> {
    let out_channels = u16::try_from(c).map_err(|_| QuantizeError::Unsupported {
        layer: name.into(),
        reason: format!("{c} concat channels"),
    })?;
    let mut values = vec![0i8; c * c];
    for (i, row) in values.chunks_exact_mut(c.max(1)).enumerate() {
        if let Some(v) = row.get_mut(i) {
            *v = 127;
        }
    }
    Ok(Weights {
        out_channels,
        values,
        scales: vec![1.0 / 127.0; c],
        bias: vec![0; c],
    })
}

/// Emits the graph through [`GraphBuilder`] in `order`. With `materialise`,
/// every `concat + 1×1` becomes an identity concat tensor followed by a 1×1
/// `conv2d` (the TFLite-style graph, for comparison).
pub(crate) fn emit(
    graph: &FloatGraph,
    plan: &QuantPlan,
    order: ExecutionOrder,
    materialise: bool,
) -> Result<Emitted, QuantizeError> {
    let internal = |what: String| QuantizeError::Internal(what);
    let n = graph.input_size;
    let side = u16::try_from(n).map_err(|_| QuantizeError::Unsupported {
        layer: "input".into(),
        reason: format!("input size {n}"),
    })?;
    let input_quant = *plan.quants.first().ok_or_else(|| internal("empty graph".into()))?;
    // Concat + 1×1 outputs in place over their own-branch input where it
    // ends there (not in the TFLite-style comparison graph).
    let mut g = GraphBuilder::new(InputSpec {
        height: side,
        width: side,
        mean: [graph.pixel_mean; 3],
        std: [graph.pixel_std; 3],
        quant: input_quant,
    })
    .in_place_concat(!materialise);
    let mut order_idx: Vec<usize> = (0..graph.nodes.len()).collect();
    // The input first (it precedes everything in every order).
    order_idx.sort_by_key(|&i| {
        graph
            .nodes
            .get(i)
            .map(|nd| (!matches!(nd.op, NodeOp::Input), order.key(nd.task, nd.level)))
    });
    let mut tensor_of: Vec<Option<TensorId>> = vec![None; graph.nodes.len()];
    let pooled_by = if materialise {
        // The TFLite-style comparison graph keeps conv and pool apart.
        vec![None; graph.nodes.len()]
    } else {
        fusable_pools(graph)
    };
    let mut scales = Vec::new();
    for i in order_idx {
        if tensor_of.get(i).copied().flatten().is_some() {
            continue; // a max pool already emitted fused with its conv
        }
        let node = graph.nodes.get(i).ok_or_else(|| internal(format!("node {i}")))?;
        let name = node.name.as_str();
        let build = |error| QuantizeError::Build {
            layer: name.to_string(),
            error,
        };
        let t = |j: usize| {
            tensor_of
                .get(j)
                .copied()
                .flatten()
                .ok_or_else(|| internal(format!("{name}: input node {j} not emitted before it")))
        };
        let quant = *plan.quants.get(i).ok_or_else(|| internal(format!("{name}: quant")))?;
        let layer = plan.layers.get(i).and_then(Option::as_ref);
        let weights = || {
            layer
                .map(|l| &l.weights)
                .ok_or_else(|| internal(format!("{name}: no weights")))
        };
        let scale = |j: usize| plan.quants.get(j).map_or(0.0, |q| q.scale);
        let patch_check = |len: usize| {
            if len > MAX_PATCH {
                Err(QuantizeError::Unsupported {
                    layer: name.to_string(),
                    reason: format!("patch of {len} values exceeds firmware-core's MAX_PATCH = {MAX_PATCH}"),
                })
            } else {
                Ok(())
            }
        };
        let mut record = |tensor: TensorId, inputs: Vec<f32>, w: &Weights, out: f32, layer_name: String| {
            scales.push(LayerScales {
                name: layer_name,
                tensor: tensor.0,
                input_scales: inputs,
                weight_scales: w.scales.clone(),
                output_scale: out,
            });
        };
        let out = match &node.op {
            NodeOp::Input => g.input(),
            NodeOp::Conv { input, kernel, .. } => {
                let x = t(*input)?;
                let cin = graph.nodes.get(*input).map_or(0, |nd| nd.shape[2]);
                patch_check(kernel * kernel * cin)?;
                let k = u8::try_from(*kernel).map_err(|_| internal(format!("{name}: kernel")))?;
                let w = weights()?;
                let spec = OutputSpec {
                    quant,
                    activation: Activation::Relu,
                };
                let window = Window::square(k, 1, k / 2);
                if let Some(pool) = pooled_by.get(i).copied().flatten() {
                    // Conv + 2×2 max pool as one op: the pool keeps the conv's
                    // quantisation, so the fused op writes the pool node's tensor.
                    let y = g.conv2d_max_pool(x, window, w, spec).map_err(build)?;
                    record(y, vec![scale(*input)], w, quant.scale, name.to_string());
                    if let Some(slot) = tensor_of.get_mut(pool) {
                        *slot = Some(y);
                    }
                    continue;
                }
                let y = g.conv2d(x, window, w, spec).map_err(build)?;
                record(y, vec![scale(*input)], w, quant.scale, name.to_string());
                y
            }
            NodeOp::MaxPool { input } => g.max_pool(t(*input)?, Window::square(2, 2, 0)).map_err(build)?,
            NodeOp::Concat { a, b } => {
                let c = node.shape[2];
                patch_check(c)?;
                let w = identity_concat(c, name)?;
                let spec = OutputSpec {
                    quant,
                    activation: Activation::None,
                };
                let y = g.concat_conv1x1(t(*a)?, t(*b)?, &w, spec).map_err(build)?;
                record(y, vec![scale(*a), scale(*b)], &w, quant.scale, name.to_string());
                y
            }
            NodeOp::ConcatConv1x1 { a, b, .. } => {
                let l = layer.ok_or_else(|| internal(format!("{name}: no weights")))?;
                let (ca, cb) = (
                    graph.nodes.get(*a).map_or(0, |nd| nd.shape[2]),
                    graph.nodes.get(*b).map_or(0, |nd| nd.shape[2]),
                );
                patch_check(ca + cb)?;
                let spec = OutputSpec {
                    quant,
                    activation: Activation::None,
                };
                if materialise {
                    let (ra, rb) = (
                        plan.ranges.get(*a).copied().unwrap_or_default(),
                        plan.ranges.get(*b).copied().unwrap_or_default(),
                    );
                    let cat_quant = quant_for_range(ra.0.min(rb.0), ra.1.max(rb.1));
                    let iw = identity_concat(ca + cb, name)?;
                    let cat_spec = OutputSpec {
                        quant: cat_quant,
                        activation: Activation::None,
                    };
                    let cat = g.concat_conv1x1(t(*a)?, t(*b)?, &iw, cat_spec).map_err(build)?;
                    let requantised = quantize_rows(name, &dequantised(&l.weights), &l.bias, cat_quant.scale)?;
                    g.conv2d(cat, Window::square(1, 1, 0), &requantised.weights, spec)
                        .map_err(build)?
                } else if let (Some(w), ConcatScales::One) = (&l.one_scale, plan.concat_scales) {
                    let y = g.concat_conv1x1_one_scale(t(*a)?, t(*b)?, w, spec).map_err(build)?;
                    record(y, vec![scale(*a)], w, quant.scale, name.to_string());
                    y
                } else {
                    let y = g.concat_conv1x1(t(*a)?, t(*b)?, &l.weights, spec).map_err(build)?;
                    record(y, vec![scale(*a), scale(*b)], &l.weights, quant.scale, name.to_string());
                    y
                }
            }
            NodeOp::Fc { input, relu, .. } => {
                let w = weights()?;
                let spec = OutputSpec {
                    quant,
                    activation: if *relu { Activation::Relu } else { Activation::None },
                };
                let y = g.fully_connected(t(*input)?, w, spec).map_err(build)?;
                record(y, vec![scale(*input)], w, quant.scale, name.to_string());
                y
            }
        };
        if let Some(slot) = tensor_of.get_mut(i) {
            *slot = Some(out);
        }
        if i == graph.outputs[0] {
            let px = n as f32;
            let head = LandmarkHead {
                input: 0,
                x_scale: px,
                x_offset: -0.5,
                y_scale: px,
                y_offset: -0.5,
            };
            g.landmark_head(out, head).map_err(build)?;
        } else if i == graph.outputs[1] {
            g.attribute_head(out).map_err(build)?;
        }
    }
    Ok(Emitted {
        builder: g,
        tensor_of,
        pooled_by,
        scales,
    })
}

/// For each conv node whose only consumer is a max pool: that pool node
/// (the pair becomes one `Conv2dMaxPool` op).
fn fusable_pools(graph: &FloatGraph) -> Vec<Option<usize>> {
    let mut consumers = vec![0usize; graph.nodes.len()];
    for node in &graph.nodes {
        for j in node.inputs() {
            if let Some(c) = consumers.get_mut(j) {
                *c += 1;
            }
        }
    }
    let mut pooled_by = vec![None; graph.nodes.len()];
    for (p, node) in graph.nodes.iter().enumerate() {
        if let NodeOp::MaxPool { input } = node.op {
            // Four patches must fit the fused kernel's scratch.
            let is_conv = graph.nodes.get(input).is_some_and(|n| match n.op {
                NodeOp::Conv { input: x, kernel, .. } => {
                    let cin = graph.nodes.get(x).map_or(usize::MAX, |nd| nd.shape[2]);
                    kernel.saturating_mul(kernel).saturating_mul(cin) <= MAX_POOLED_PATCH
                }
                _ => false,
            });
            // A conv that is a model output must keep its own tensor.
            let is_output = graph.outputs.contains(&input);
            if is_conv && !is_output && !graph.outputs.contains(&p) && consumers.get(input) == Some(&1) {
                if let Some(slot) = pooled_by.get_mut(input) {
                    *slot = Some(p);
                }
            }
        }
    }
    pooled_by
}

/// Float values of int8 weights (`s_w[c] · w`), in the same layout.
fn dequantised(w: &Weights) -> Vec<f32> {
    let per = w.values.len() / w.scales.len().max(1);
    w.values
        .chunks_exact(per.max(1))
        .zip(&w.scales)
        .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
        .collect()
}
