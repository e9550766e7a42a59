//! The quantisation plan of a float graph: activation quantisation from
//! calibration, per-channel int8 weights, and the execution orders the
//! emitter can use.
use crate::calibrate::{quant_for_range, Calibration, CalibrationMethod};
use crate::error::QuantizeError;
use crate::graph::{FloatGraph, NodeOp};
use serde::Serialize;
use smn_firmware_core::builder::Weights;
use smn_firmware_core::format::Quant;

/// How a fused concat + 1×1 handles the scales of its two inputs
/// (`docs/int8-spec.md` §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcatScales {
    /// One accumulator scale (§5.1, format version 3): the `b` weights are
    /// quantised per unit of `a`'s scale, one requantisation per output.
    #[default]
    One,
    /// Each input at its own scale, two requantisations per output (§5;
    /// readable by format-version-1 and -2 firmware).
    Two,
}

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
    pub(crate) fn key(&self, task: Option<usize>, level: usize) -> (usize, usize, usize) {
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

/// Scales of one emitted MAC layer (for checks and the report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerScales {
    /// Layer name.
    pub name: String,
    /// Blob tensor id of the layer's output.
    pub tensor: u16,
    /// Input scale(s): `[s_in]`; `[s_a, s_b]` for a two-scale concat,
    /// `[s_a]` for a one-scale one (its accumulator is in `a`'s units).
    pub input_scales: Vec<f32>,
    /// Per-output-channel weight scales.
    pub weight_scales: Vec<f32>,
    /// Output scale.
    pub output_scale: f32,
}

/// Int8 weights of a node, with the float values they came from.
#[derive(Clone, Debug)]
pub(crate) struct QLayer {
    pub weights: Weights,
    /// A fused concat + 1×1's weights in one scale (`docs/int8-spec.md`
    /// §5.1): the `b` columns multiplied by `s_b / s_a` before quantising,
    /// so both inputs share the accumulator scale `s_a · s_w[c]`. `None`
    /// for other layers.
    pub one_scale: Option<Weights>,
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
    /// Which concat weights [`QLayer`] the emitter uses.
    pub concat_scales: ConcatScales,
}

/// `round(real / scale)` per channel into `[−127, 127]`; scale = max |w| / 127.
pub(crate) fn quantize_rows(name: &str, w: &[f32], bias: &[f32], s_in: f32) -> Result<QLayer, QuantizeError> {
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
        one_scale: None,
        bias: bias.to_vec(),
        w_range,
    })
}

/// `w` (`rows × k`, row-major) with columns `from..` of every row multiplied
/// by `factor`: a concat's `b` weights expressed per unit of `a`'s scale.
fn rescale_columns(w: &[f32], rows: usize, from: usize, factor: f64) -> Vec<f32> {
    let k = w.len() / rows.max(1);
    w.chunks(k.max(1))
        .flat_map(|row| {
            row.iter()
                .enumerate()
                .map(move |(i, &v)| if i < from { v } else { (f64::from(v) * factor) as f32 })
        })
        .collect()
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
    concat_scales: ConcatScales,
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
            NodeOp::ConcatConv1x1 { a, b, weight, bias } => {
                let (s_a, s_b) = (scale_of(*a)?, scale_of(*b)?);
                // Both forms, for the emitter and the report's comparison.
                let mut layer = quantize_rows(&node.name, weight, bias, s_a)?;
                let ca = graph
                    .nodes
                    .get(*a)
                    .map(|nd| nd.shape[2])
                    .ok_or_else(|| internal("concat input"))?;
                let rescaled = rescale_columns(weight, bias.len(), ca, f64::from(s_b) / f64::from(s_a));
                layer.one_scale = Some(quantize_rows(&node.name, &rescaled, bias, s_a)?.weights);
                Some(layer)
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
    Ok(QuantPlan {
        quants,
        ranges,
        layers,
        concat_scales,
    })
}
