//! Assembles the [`QuantReport`] of an emitted blob from the plan, the
//! calibration, the arena figures, the measurements against the float
//! graph ([`crate::measure`]) and firmware-core's simulated devices.
use crate::calibrate::{Calibration, CalibrationMethod};
use crate::emit::Emitted;
use crate::error::QuantizeError;
use crate::graph::{FloatGraph, NodeOp};
use crate::measure::{measure, sqnr, Measurements};
use crate::plan::{ExecutionOrder, OrderArena, QuantPlan};
use crate::report::{ArenaReport, ConcatOption, DeviceFit, LayerReport, QuantReport};
use smn_firmware_core::sim::PROFILES;
use smn_firmware_core::Model;

/// Everything a report is made of.
pub(crate) struct ReportInputs<'a> {
    /// The BN-folded float graph.
    pub graph: &'a FloatGraph,
    /// Its quantisation plan.
    pub plan: &'a QuantPlan,
    /// The emission the blob was built from.
    pub emitted: &'a Emitted,
    /// The blob.
    pub blob: &'a [u8],
    /// The calibration statistics the plan came from.
    pub calibration: &'a Calibration,
    /// How ranges were chosen from them.
    pub method: CalibrationMethod,
    /// Images to measure the blob against the float graph on.
    pub images: &'a [Vec<u8>],
    /// Arena figures of every order tried.
    pub orders: Vec<OrderArena>,
    /// The order of the blob.
    pub chosen: ExecutionOrder,
}

/// Builds the report for an emitted blob (runs the images through blob and float graph).
pub(crate) fn build_report(inputs: ReportInputs<'_>) -> Result<QuantReport, QuantizeError> {
    let ReportInputs {
        graph,
        plan,
        emitted,
        blob,
        calibration,
        method,
        images,
        orders,
        chosen,
    } = inputs;
    let model = Model::from_bytes(blob)?;
    let measured = measure(graph, plan, emitted, &model, images)?;
    let devices = PROFILES
        .iter()
        .map(|&profile| DeviceFit::simulate(profile, blob))
        .collect::<Result<Vec<_>, _>>()?;
    let plan_figures = emitted.plan();
    Ok(QuantReport {
        variant: graph.variant.name().into(),
        input_size: graph.input_size,
        calibration: method.name(),
        calibration_images: calibration.images,
        report_images: images.len(),
        flash_bytes: blob.len(),
        arena_bytes: model.arena_bytes(),
        macs: model.macs(),
        tensors: model.tensor_count(),
        ops: model.op_count(),
        layers: layer_reports(graph, plan, calibration, &measured),
        arena: ArenaReport {
            chosen,
            arena_bytes: plan_figures.total,
            naive_bytes: plan_figures.naive,
            lower_bound_bytes: plan_figures.peak_live,
            best_materialised_arena_bytes: orders.iter().map(|o| o.materialised_arena_bytes).min().unwrap_or(0),
            orders,
        },
        devices,
        outputs: measured.outputs(),
        concat_options: concat_options(graph, &measured),
    })
}

/// One [`LayerReport`] per graph node.
fn layer_reports(
    graph: &FloatGraph,
    plan: &QuantPlan,
    calibration: &Calibration,
    measured: &Measurements,
) -> Vec<LayerReport> {
    graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let quant = plan.quants[i];
            let errors = &measured.layers[i];
            LayerReport {
                name: node.name.clone(),
                op: op_name(&node.op),
                inputs: node
                    .inputs()
                    .iter()
                    .filter_map(|&j| graph.nodes.get(j).map(|n| n.shape))
                    .collect(),
                output: node.shape,
                scale: quant.scale,
                zero_point: quant.zero_point,
                weight_range: plan.layers.get(i).and_then(Option::as_ref).map(|l| l.w_range),
                calibration_range: calibration.stats.get(i).map_or((0.0, 0.0), |s| (s.min, s.max)),
                clip_range: plan.ranges[i],
                saturated: errors.saturated,
                elements: errors.elements,
                macs: node_macs(graph, i),
                sqnr_db: errors.sqnr_db(),
            }
        })
        .collect()
}

/// One [`ConcatOption`] per fused `concat + 1×1`.
fn concat_options(graph: &FloatGraph, measured: &Measurements) -> Vec<ConcatOption> {
    graph
        .nodes
        .iter()
        .zip(measured.layers.iter().zip(&measured.concats))
        .filter(|(node, _)| matches!(node.op, NodeOp::ConcatConv1x1 { .. }))
        .map(|(node, (layer, c))| ConcatOption {
            layer: node.name.clone(),
            emitted_sqnr_db: layer.sqnr_db(),
            one_scale_sqnr_db: sqnr(c.signal, c.one_scale),
            shared_requantised_to_own_sqnr_db: sqnr(c.signal, c.shared_to_own),
            common_concat_scale_sqnr_db: sqnr(c.signal, c.common_scale),
            fused_single_rounding_sqnr_db: sqnr(c.signal, c.single_rounding),
            fused_f64_model_sqnr_db: sqnr(c.signal, c.fused_f64),
        })
        .collect()
}

/// The firmware-core op a node becomes, for the report.
fn op_name(op: &NodeOp) -> String {
    match op {
        NodeOp::Input => "Input (LUT)".into(),
        NodeOp::Conv { kernel, .. } => format!("Conv2d {kernel}×{kernel}+ReLU"),
        NodeOp::MaxPool { .. } => "MaxPool2d 2×2".into(),
        NodeOp::Concat { .. } => "Concat (identity ConcatConv1x1)".into(),
        NodeOp::ConcatConv1x1 { .. } => "ConcatConv1x1".into(),
        NodeOp::Fc { relu: true, .. } => "FullyConnected+ReLU".into(),
        NodeOp::Fc { .. } => "FullyConnected".into(),
    }
}

/// Nominal multiply-accumulates of node `i` (padded taps included).
fn node_macs(graph: &FloatGraph, i: usize) -> u64 {
    let Some(node) = graph.nodes.get(i) else { return 0 };
    let [h, w, c] = node.shape;
    let ch = |j: usize| graph.nodes.get(j).map_or(0, |n| n.shape[2]) as u64;
    let len = |j: usize| graph.nodes.get(j).map_or(0, |n| n.len()) as u64;
    let out = (h * w * c) as u64;
    match &node.op {
        NodeOp::Conv { input, kernel, .. } => out * (kernel * kernel) as u64 * ch(*input),
        NodeOp::Concat { a, b } | NodeOp::ConcatConv1x1 { a, b, .. } => out * (ch(*a) + ch(*b)),
        NodeOp::Fc { input, .. } => out * len(*input),
        _ => 0,
    }
}
