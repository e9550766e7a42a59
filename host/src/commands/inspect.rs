//! `smn inspect`: what an int8 blob holds — input, arena, flash, ops and MACs.
use super::blob_file::read_blob;
use anyhow::Result;
use clap::Args;
use smn_firmware_core::Model;
use std::fmt::Write as _;
use std::path::PathBuf;

/// `smn inspect` options.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Model blob (.smnq).
    pub blob: PathBuf,
}

/// Runs `smn inspect`.
pub fn run(args: &InspectArgs) -> Result<String> {
    inspect(&read_blob(&args.blob)?)
}

/// A human-readable description of the blob: header, tensors, ops, MACs.
pub fn inspect(blob: &[u8]) -> Result<String> {
    let model = Model::from_bytes(blob)?;
    let mut s = String::new();
    writeln!(s, "input      {}×{}×3 RGB", model.input_width(), model.input_height())?;
    writeln!(s, "flash      {} bytes (blob)", model.blob_len())?;
    writeln!(s, "arena      {} bytes", model.arena_bytes())?;
    writeln!(s, "MACs       {}", model.macs())?;
    writeln!(s, "tensors    {}", model.tensor_count())?;
    writeln!(s, "ops        {}", model.op_count())?;
    writeln!(s)?;
    writeln!(
        s,
        "{:>3}  {:<15} {:>14} {:>16} {:>12}",
        "op", "kind", "inputs", "output (HxWxC)", "MACs"
    )?;
    for (i, op) in model.ops().enumerate() {
        let op = op?;
        let (a, b) = op.inputs();
        let inputs = match b {
            Some(b) => format!("t{a}, t{b}"),
            None => format!("t{a}"),
        };
        let output = match op.output().and_then(|t| model.tensor(usize::from(t)).map(|d| (t, d))) {
            Some((t, d)) => format!("t{t} {}x{}x{}", d.height, d.width, d.channels),
            None => "(outputs)".to_string(),
        };
        writeln!(
            s,
            "{i:>3}  {:<15} {inputs:>14} {output:>16} {:>12}",
            op.name(),
            model.op_macs(&op)
        )?;
    }
    Ok(s)
}
