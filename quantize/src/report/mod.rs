//! What quantisation did and how closely the int8 blob follows the float
//! model: per-layer scales, ranges, saturation and SQNR, arena plans,
//! device fit, and the concat-scale comparison (`docs/int8-spec.md` §5).
//!
//! This module holds the report's types; [`QuantReport::to_markdown`] and
//! [`QuantReport::summary`] render it (`render`), [`DeviceFit`] places the
//! blob on firmware-core's simulated devices (`device_fit`). The other
//! figures are measured and assembled elsewhere (modules `measure` and
//! `build_report`); this module depends on none of that.
mod device_fit;
mod render;

use crate::plan::{ExecutionOrder, OrderArena};
use serde::Serialize;

pub use device_fit::DeviceFit;

/// One layer (graph node) of the quantised model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerReport {
    /// Name, e.g. `shared.0.conv`, `branches.1.fuse.2`.
    pub name: String,
    /// Firmware-core op (`Conv2d+ReLU`, `MaxPool2d`, `ConcatConv1x1`, …).
    pub op: String,
    /// Input shapes `[h, w, c]`.
    pub inputs: Vec<[usize; 3]>,
    /// Output shape `[h, w, c]`.
    pub output: [usize; 3],
    /// Output scale.
    pub scale: f32,
    /// Output zero point.
    pub zero_point: i8,
    /// Float weight range (MAC layers).
    pub weight_range: Option<(f32, f32)>,
    /// Float activation range seen during calibration.
    pub calibration_range: (f32, f32),
    /// Clip range chosen by the calibration method.
    pub clip_range: (f32, f32),
    /// Int8 outputs stuck at −128 or 127 while the float value lies beyond
    /// the representable range, over the report images.
    pub saturated: u64,
    /// Output elements compared (over the report images).
    pub elements: u64,
    /// Multiply-accumulates (nominal, padded taps included).
    pub macs: u64,
    /// Signal-to-quantisation-noise ratio of the dequantised int8 output vs
    /// the float output of the same layer (errors accumulated from the input), dB.
    pub sqnr_db: f64,
}

/// Int8 vs float on the final outputs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputAgreement {
    /// Mean |int8 − float| landmark coordinate, pixels of the model input.
    pub landmark_mean_abs_px: f64,
    /// Largest |int8 − float| landmark coordinate, pixels.
    pub landmark_max_abs_px: f64,
    /// SQNR of the landmark pixel coordinates, dB.
    pub landmark_sqnr_db: f64,
    /// SQNR of the dequantised logits, dB.
    pub logit_sqnr_db: f64,
    /// Pearson correlation of int8 and float logits.
    pub logit_correlation: f64,
    /// Fraction of attribute flags (`logit > 0`) that agree.
    pub flag_agreement: f64,
}

/// Error of a stage-2 `concat + 1×1` under three ways of handling the two input scales.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConcatOption {
    /// Layer name.
    pub layer: String,
    /// What is emitted: the blob's own output (one scale (d) by default,
    /// two scales (a) with `ConcatScales::Two`).
    pub emitted_sqnr_db: f64,
    /// (d) fused, one scale: the `b` weights per unit of `a`'s scale, one
    /// accumulator, one rounding (f64 simulation of the §5.1 kernel).
    pub one_scale_sqnr_db: f64,
    /// (b) the shared input requantised to the own input's scale/zero point first (f64 simulation).
    pub shared_requantised_to_own_sqnr_db: f64,
    /// (c) both inputs requantised to one concat scale covering both ranges, as a
    /// materialised int8 concat would (f64 simulation).
    pub common_concat_scale_sqnr_db: f64,
    /// (a') fused with one rounding of `acc_a · r_a + acc_b · r_b` (what a kernel
    /// with a single output rounding would give; f64 simulation).
    pub fused_single_rounding_sqnr_db: f64,
    /// (a) fused, two scales, two roundings (f64 simulation of the §5
    /// kernel; equals the blob's figure up to rounding ties when it is emitted).
    pub fused_f64_model_sqnr_db: f64,
}

/// Arena figures: every order tried, and the chosen one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArenaReport {
    /// Order of the emitted blob.
    pub chosen: ExecutionOrder,
    /// Arena bytes of the emitted blob.
    pub arena_bytes: usize,
    /// Sum of all tensors (no reuse) of the emitted blob.
    pub naive_bytes: usize,
    /// Lower bound (most bytes live at once) of the emitted blob.
    pub lower_bound_bytes: usize,
    /// Smallest materialised-concat arena over all orders.
    pub best_materialised_arena_bytes: usize,
    /// Every order.
    pub orders: Vec<OrderArena>,
}

/// The quantisation report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuantReport {
    /// Source variant name.
    pub variant: String,
    /// Input side.
    pub input_size: usize,
    /// Calibration method.
    pub calibration: String,
    /// Images calibration saw.
    pub calibration_images: usize,
    /// Images the int8-vs-float measurements ran on.
    pub report_images: usize,
    /// Blob bytes (flash).
    pub flash_bytes: usize,
    /// Arena bytes (RAM for activations).
    pub arena_bytes: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Tensors in the blob (input included).
    pub tensors: usize,
    /// Ops in the blob.
    pub ops: usize,
    /// Per layer, in network order.
    pub layers: Vec<LayerReport>,
    /// Arena plans.
    pub arena: ArenaReport,
    /// Fit per device profile.
    pub devices: Vec<DeviceFit>,
    /// Final outputs, int8 vs float.
    pub outputs: OutputAgreement,
    /// The concat-scale comparison for every fused concat + 1×1.
    pub concat_options: Vec<ConcatOption>,
}

impl QuantReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
