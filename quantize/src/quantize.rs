//! Float graph → int8 firmware-core blob (`docs/int8-spec.md` §1–§7).
//!
//! * Activations: per-tensor asymmetric int8 from calibration
//!   ([`crate::calibrate::quant_for_range`]); the input's range is known
//!   analytically: `[(0 − mean) / std, (255 − mean) / std]`.
//! * Weights: per-output-channel symmetric int8 in `[−127, 127]`,
//!   `s_w[c] = max |w[c]| / 127`; biases `i32` at `s_in · s_w[c]` (`s_a · s_w[c]`
//!   for a concat).
//! * Conv + BN + ReLU → `conv2d` with fused ReLU (BN folded beforehand);
//!   2×2 max pool keeps the quantisation; `join` with a 1×1 → `concat_conv1x1`
//!   (own branch = `a`, shared = `b`); the `smn` variant's plain concat → an
//!   identity `concat_conv1x1` (weights 127, `s_w = 1/127`, zero bias: one
//!   exact rounding per value); heads → `fully_connected` (+ReLU for fc1).
use crate::calibrate::{calibrate, quant_for_range, Calibration, CalibrationMethod};
use crate::error::QuantizeError;
use crate::float_model::FloatModel;
use crate::fold::fold_batch_norm;
use crate::graph::{FloatGraph, NodeOp};
use crate::report::build_report;
pub use crate::report::QuantReport;
use serde::Serialize;
use smn_firmware_core::builder::{Activation, ArenaPlan, GraphBuilder, InputSpec, OutputSpec, TensorId, Weights};
use smn_firmware_core::format::{LandmarkHead, Quant, Window};
use smn_firmware_core::kernels::conv2d::MAX_POOLED_PATCH;
use smn_firmware_core::kernels::dot::MAX_PATCH;

/// The order in which the layers are emitted (and run); it decides tensor
/// lifetimes and so the arena size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionOrder {
    /// For each level: the shared level, then each branch's level (heads last).
    LevelMajor,
    /// All shared levels, then branch 0 down to its head, then branch 1.
    DepthFirst,
    /// All shared levels, then the branches level by level, interleaved.
    SharedFirst,
    /// Branch 0 down to its head, each shared level emitted just before
    /// branch 0 first needs it, then branch 1: with fused conv + pool and
    /// in-place concats the smallest arena of the four on SMN graphs.
    Lean,
}

impl ExecutionOrder {
    /// Every order, in the order they are tried.
    pub const ALL: [ExecutionOrder; 4] = [
        ExecutionOrder::LevelMajor,
        ExecutionOrder::DepthFirst,
        ExecutionOrder::SharedFirst,
        ExecutionOrder::Lean,
    ];

    /// Name for reports and the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ExecutionOrder::LevelMajor => "level-major",
            ExecutionOrder::DepthFirst => "depth-first",
            ExecutionOrder::SharedFirst => "shared-first",
            ExecutionOrder::Lean => "lean",
        }
    }

    /// Parses [`ExecutionOrder::name`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Sort key of a node; a stable sort by it keeps each group's own order.
    fn key(&self, task: Option<usize>, level: usize) -> (usize, usize, usize) {
        let rank = task.map_or(0, |t| t + 1);
        match self {
            ExecutionOrder::LevelMajor => (level, rank, 0),
            ExecutionOrder::DepthFirst => (rank, level, 0),
            ExecutionOrder::SharedFirst => (usize::from(rank > 0), level, rank),
            // Branch nodes of level l read shared level l − 1: shared level l
            // goes right before branch 0's level l + 1.
            ExecutionOrder::Lean => match task {
                None => (0, level + 1, 0),
                Some(0) => (0, level, 1),
                Some(t) => (t, level, 0),
            },
        }
    }
}

/// Options of [`quantize`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeOptions {
    /// How activation ranges are chosen.
    pub calibration: CalibrationMethod,
    /// Emission order; `None` tries every [`ExecutionOrder`] and keeps the smallest arena.
    pub order: Option<ExecutionOrder>,
    /// How many of the calibration images the report's int8-vs-float
    /// measurements (SQNR, saturation, concat options) run on.
    pub report_images: usize,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            calibration: CalibrationMethod::Percentile(99.99),
            order: None,
            report_images: 64,
        }
    }
}

/// Scales of one emitted MAC layer (for checks and the report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerScales {
    /// Layer name.
    pub name: String,
    /// Blob tensor id of the layer's output.
    pub tensor: u16,
    /// Input scale(s): `[s_in]`, or `[s_a, s_b]` for a concat.
    pub input_scales: Vec<f32>,
    /// Per-output-channel weight scales.
    pub weight_scales: Vec<f32>,
    /// Output scale.
    pub output_scale: f32,
}

/// A quantised model.
#[derive(Clone, Debug)]
pub struct Quantized {
    /// The firmware-core blob (validated by `Model::from_bytes`).
    pub blob: Vec<u8>,
    /// What was done and how well it matches the float model.
    pub report: QuantReport,
    /// Scales of every MAC layer in the blob.
    pub layers: Vec<LayerScales>,
}

/// Int8 weights of a node, with the float values they came from.
#[derive(Clone, Debug)]
pub(crate) struct QLayer {
    pub weights: Weights,
    /// Float bias (to re-derive `bias_q` at another input scale).
    pub bias: Vec<f32>,
    /// Float weight range.
    pub w_range: (f32, f32),
}

/// Quantisation decisions for every node of a (BN-folded) graph.
#[derive(Clone, Debug)]
pub(crate) struct QuantPlan {
    /// Output quantisation per node.
    pub quants: Vec<Quant>,
    /// Clip range per node (before widening to include 0).
    pub ranges: Vec<(f32, f32)>,
    /// Weights per MAC node.
    pub layers: Vec<Option<QLayer>>,
}

/// A graph emitted in one order.
#[derive(Clone, Debug)]
pub(crate) struct Emitted {
    pub builder: GraphBuilder,
    /// Blob tensor of each graph node (`None` if not a tensor of this emission).
    pub tensor_of: Vec<Option<TensorId>>,
    /// For a conv emitted fused with its max pool: the pool node, whose
    /// tensor the fused op writes (the conv's own output is never stored).
    pub pooled_by: Vec<Option<usize>>,
    pub scales: Vec<LayerScales>,
}

impl Emitted {
    pub fn plan(&self) -> ArenaPlan {
        self.builder.plan()
    }
}

/// `round(real / scale)` per channel into `[−127, 127]`; scale = max |w| / 127.
fn quantize_rows(name: &str, w: &[f32], bias: &[f32], s_in: f32) -> Result<QLayer, QuantizeError> {
    let out = bias.len();
    let per = w.len() / out.max(1);
    if per * out != w.len() || out == 0 {
        return Err(QuantizeError::Internal(format!("{name}: weight/bias sizes")));
    }
    let out_channels = u16::try_from(out).map_err(|_| QuantizeError::Unsupported {
        layer: name.into(),
        reason: format!("{out} output channels (at most 65535)"),
    })?;
    let mut values = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(out);
    let mut bias_q = Vec::with_capacity(out);
    let bound = (f64::from(i32::MAX) - 255.0 * 127.0 * per as f64).max(0.0);
    for (row, &b) in w.chunks_exact(per.max(1)).zip(bias) {
        let peak = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s_w = if peak > 0.0 { peak / 127.0 } else { 1.0 / 127.0 };
        values.extend(
            row.iter()
                .map(|&v| (f64::from(v) / f64::from(s_w)).round().clamp(-127.0, 127.0) as i8),
        );
        let bq = (f64::from(b) / (f64::from(s_in) * f64::from(s_w))).round();
        if bq.abs() > bound {
            return Err(QuantizeError::Unsupported {
                layer: name.into(),
                reason: format!(
                    "bias {b} at scale s_in·s_w = {} overflows the int32 accumulator bound",
                    s_in * s_w
                ),
            });
        }
        scales.push(s_w);
        bias_q.push(bq as i32);
    }
    let w_range = w.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    Ok(QLayer {
        weights: Weights {
            out_channels,
            values,
            scales,
            bias: bias_q,
        },
        bias: bias.to_vec(),
        w_range,
    })
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

/// The analytic range of the normalised input.
fn input_range(graph: &FloatGraph) -> (f32, f32) {
    let (m, s) = (graph.pixel_mean, graph.pixel_std);
    let (a, b) = ((0.0 - m) / s, (255.0 - m) / s);
    (a.min(b), a.max(b))
}

/// Chooses every output quantisation and quantises every weight.
pub(crate) fn plan_quantisation(
    graph: &FloatGraph,
    calibration: &Calibration,
    method: CalibrationMethod,
) -> Result<QuantPlan, QuantizeError> {
    let n = graph.nodes.len();
    if calibration.stats.len() != n {
        return Err(QuantizeError::Calibration(format!(
            "statistics for {} tensors, graph has {n}",
            calibration.stats.len()
        )));
    }
    let mut quants: Vec<Quant> = Vec::with_capacity(n);
    let mut ranges: Vec<(f32, f32)> = Vec::with_capacity(n);
    let mut layers = Vec::with_capacity(n);
    let internal = |what: &str| QuantizeError::Internal(what.into());
    for (node, stats) in graph.nodes.iter().zip(&calibration.stats) {
        let (range, quant) = match &node.op {
            NodeOp::Input => {
                let r = input_range(graph);
                (r, quant_for_range(r.0, r.1))
            }
            NodeOp::MaxPool { input } => {
                let r = *ranges.get(*input).ok_or_else(|| internal("pool input"))?;
                let q = *quants.get(*input).ok_or_else(|| internal("pool input"))?;
                (r, q)
            }
            _ => {
                let (mut lo, hi) = stats.range(method)?;
                if node.non_negative(graph) {
                    lo = 0.0;
                }
                ((lo, hi), quant_for_range(lo, hi))
            }
        };
        let scale_of = |i: usize| quants.get(i).map(|q| q.scale).ok_or_else(|| internal("input scale"));
        let layer = match &node.op {
            NodeOp::Conv {
                input, weight, bias, ..
            } => Some(quantize_rows(&node.name, weight, bias, scale_of(*input)?)?),
            NodeOp::ConcatConv1x1 { a, weight, bias, .. } => {
                Some(quantize_rows(&node.name, weight, bias, scale_of(*a)?)?)
            }
            NodeOp::Fc {
                input, weight, bias, ..
            } => Some(quantize_rows(&node.name, weight, bias, scale_of(*input)?)?),
            _ => None,
        };
        ranges.push(range);
        quants.push(quant);
        layers.push(layer);
    }
    Ok(QuantPlan { quants, ranges, layers })
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

/// Arena figures of one execution order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderArena {
    /// The order.
    pub order: ExecutionOrder,
    /// Arena bytes of the fused-concat graph (what is emitted).
    pub arena_bytes: usize,
    /// Sum of all tensor sizes (no reuse).
    pub naive_bytes: usize,
    /// Lower bound: most bytes live at one time.
    pub lower_bound_bytes: usize,
    /// Arena bytes of the materialised-concat (TFLite-style) graph in the same order.
    pub materialised_arena_bytes: usize,
    /// Its lower bound.
    pub materialised_lower_bound_bytes: usize,
}

/// Quantises a validated, BN-folded graph with given calibration statistics.
/// `report_images` are run through both the int8 blob and the float graph.
pub fn quantize_graph(
    graph: &FloatGraph,
    calibration: &Calibration,
    report_images: &[Vec<u8>],
    options: &QuantizeOptions,
) -> Result<Quantized, QuantizeError> {
    if graph
        .nodes
        .iter()
        .any(|nd| matches!(&nd.op, NodeOp::Conv { bn: Some(_), .. }))
    {
        return Err(QuantizeError::Internal(
            "quantize_graph needs a BN-folded graph (fold::fold_batch_norm)".into(),
        ));
    }
    let plan = plan_quantisation(graph, calibration, options.calibration)?;
    let mut orders = Vec::new();
    let mut best: Option<(usize, ExecutionOrder, Emitted)> = None;
    for order in ExecutionOrder::ALL {
        let e = emit(graph, &plan, order, false)?;
        let m = emit(graph, &plan, order, true)?;
        let (p, pm) = (e.plan(), m.plan());
        orders.push(OrderArena {
            order,
            arena_bytes: p.total,
            naive_bytes: p.naive,
            lower_bound_bytes: p.peak_live,
            materialised_arena_bytes: pm.total,
            materialised_lower_bound_bytes: pm.peak_live,
        });
        let wanted = options.order.is_none_or(|o| o == order);
        if wanted && best.as_ref().is_none_or(|(total, _, _)| p.total < *total) {
            best = Some((p.total, order, e));
        }
    }
    let (_, chosen_order, chosen) = best.ok_or_else(|| QuantizeError::Internal("no order emitted".into()))?;
    let blob = chosen.builder.clone().finish().map_err(|error| QuantizeError::Build {
        layer: "finish".into(),
        error,
    })?;
    let report = build_report(
        graph,
        &plan,
        &chosen,
        &blob,
        calibration,
        report_images,
        options,
        orders,
        chosen_order,
    )?;
    Ok(Quantized {
        blob,
        report,
        layers: chosen.scales,
    })
}

/// The whole pipeline: validate, fold batch norm, calibrate on `images`
/// (RGB `u8`, `input_size² × 3`, HWC), quantise, emit the blob and measure
/// it against the float model on the first `options.report_images` images.
pub fn quantize(model: &FloatModel, images: &[Vec<u8>], options: &QuantizeOptions) -> Result<Quantized, QuantizeError> {
    let folded = fold_batch_norm(model)?;
    let graph = FloatGraph::new(&folded)?;
    let calibration = calibrate(&graph, images)?;
    let report_images = images.get(..options.report_images.min(images.len())).unwrap_or(images);
    quantize_graph(&graph, &calibration, report_images, options)
}
