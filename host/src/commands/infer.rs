//! `smn infer`: run an int8 blob on the host (the firmware's code) and print
//! the landmarks and the attributes that are on.
use super::blob_file::{read_blob, read_image};
use crate::data::LANDMARK_NAMES;
use anyhow::Result;
use clap::Args;
use smn_firmware_core::{Model, Outputs};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `smn infer` options.
#[derive(Args, Debug)]
pub struct InferArgs {
    /// Model blob (.smnq).
    pub blob: PathBuf,
    /// Raw RGB image of the model's input size (default: built-in test image).
    #[arg(long)]
    pub image: Option<PathBuf>,
}

/// Runs `smn infer`.
pub fn run(args: &InferArgs) -> Result<String> {
    let bytes = read_blob(&args.blob)?;
    let model = Model::from_bytes(&bytes)?;
    let image = read_image(args.image.as_deref(), &model)?;
    let mut arena = vec![0u8; model.arena_bytes()];
    let out = model.run(&image, &mut arena)?;
    Ok(format_outputs(&out))
}

/// Formats the outputs for people.
pub fn format_outputs(out: &Outputs) -> String {
    let mut s = String::new();
    for (name, [x, y]) in LANDMARK_NAMES.iter().zip(out.landmarks) {
        let _ = writeln!(s, "{name:<12} x {x:8.2}  y {y:8.2}");
    }
    let on: Vec<String> = out
        .attribute_flags
        .iter()
        .zip(out.attribute_probs)
        .enumerate()
        .filter(|(_, (f, _))| **f)
        .map(|(i, (_, p))| format!("{i}:{p:.2}"))
        .collect();
    let _ = writeln!(s, "attributes on (index:probability): {}", on.join(" "));
    s
}
