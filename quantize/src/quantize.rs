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
//!
//! [`quantize_graph`] only orchestrates: module `plan` decides every
//! quantisation, `emit` builds the graph in every [`ExecutionOrder`] and
//! keeps the smallest arena, `build_report` assembles the [`QuantReport`]
//! from what `measure` (and `concat_scales`) find against the float graph.
use crate::build_report::{build_report, ReportInputs};
use crate::calibrate::{calibrate, Calibration, CalibrationMethod};
use crate::emit::emit_smallest_arena;
use crate::error::QuantizeError;
use crate::float_model::FloatModel;
use crate::fold::fold_batch_norm;
use crate::graph::{FloatGraph, NodeOp};
use crate::plan::plan_quantisation;
pub use crate::plan::{ConcatScales, ExecutionOrder, LayerScales, OrderArena};
pub use crate::report::QuantReport;

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
    /// How fused concat + 1×1 layers handle their two input scales.
    pub concat_scales: ConcatScales,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            calibration: CalibrationMethod::Percentile(99.99),
            order: None,
            report_images: 64,
            concat_scales: ConcatScales::default(),
        }
    }
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
    let plan = plan_quantisation(graph, calibration, options.calibration, options.concat_scales)?;
    let choice = emit_smallest_arena(graph, &plan, options.order)?;
    let blob = choice
        .emitted
        .builder
        .clone()
        .finish()
        .map_err(|error| QuantizeError::Build {
            layer: "finish".into(),
            error,
        })?;
    let report = build_report(ReportInputs {
        graph,
        plan: &plan,
        emitted: &choice.emitted,
        blob: &blob,
        calibration,
        method: options.calibration,
        images: report_images,
        orders: choice.orders,
        chosen: choice.order,
    })?;
    Ok(Quantized {
        blob,
        report,
        layers: choice.emitted.scales,
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
