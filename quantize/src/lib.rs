//! # smn-quantize
//!
//! Converts a float SMN network exported by `smn export`
//! (`docs/float-model.md`) into an int8 blob for `smn-firmware-core`
//! (`docs/int8-spec.md`), with a report of what the conversion costs.
//!
//! ```no_run
//! use smn_quantize::{emit_rust, quantize, FloatModel, QuantizeOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = FloatModel::read("model.safetensors")?;
//! // RGB u8 images, input_size × input_size × 3, HWC (the host loads them).
//! let images: Vec<Vec<u8>> = vec![vec![128; model.arch.input_size.pow(2) * 3]; 8];
//! let q = quantize(&model, &images, &QuantizeOptions::default())?;
//! std::fs::write("model.smnq", &q.blob)?;
//! std::fs::write("model.rs", emit_rust(&q.blob, "SMN_MODEL"))?;
//! std::fs::write("report.md", q.report.to_markdown())?;
//! # Ok(()) }
//! ```
//!
//! The steps, each usable on its own:
//!
//! 1. [`FloatModel::read`] / [`FloatModel::from_bytes`] parse and validate the
//!    safetensors file (every error names the file and the tensor or key).
//! 2. [`fold::fold_batch_norm`] folds batch norm into the convs;
//!    [`FloatGraph::new`] permutes the weights to NHWC/OHWI;
//!    [`float_forward::forward`] is the `f32` reference.
//! 3. [`calibrate::calibrate`] collects per-tensor statistics; a
//!    [`CalibrationMethod`] turns them into ranges.
//! 4. [`quantize::quantize_graph`] quantises, emits the graph through
//!    firmware-core's `GraphBuilder` in every [`ExecutionOrder`], keeps the
//!    smallest arena and measures the blob against the float graph
//!    ([`QuantReport`]).
//! 5. [`emit_rust()`] turns the blob into a `static` for `include!`.
mod build_report;
pub mod calibrate;
mod concat_scales;
mod emit;
pub mod emit_rust;
pub mod error;
pub mod float_forward;
pub mod float_model;
pub mod fold;
pub mod graph;
mod measure;
mod plan;
pub mod quantize;
pub mod report;

pub use calibrate::{calibrate, CalibrationMethod};
pub use emit_rust::emit_rust;
pub use error::{ModelFileError, QuantizeError};
pub use float_forward::FloatOutputs;
pub use float_model::{Arch, FloatModel, FloatTensor, Variant};
pub use graph::FloatGraph;
pub use quantize::{quantize, ConcatScales, ExecutionOrder, QuantizeOptions, Quantized};
pub use report::QuantReport;
