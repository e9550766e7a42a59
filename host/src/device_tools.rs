//! `smn inspect | infer | simulate | random-model`: tools over firmware-core blobs.
use crate::data::LANDMARK_NAMES;
use anyhow::{bail, Context, Result};
use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};
use smn_firmware_core::format::Op;
use smn_firmware_core::sim::{self, SimulatedDevice};
use smn_firmware_core::{Model, Outputs};
use std::fmt::Write as _;
use std::path::Path;

/// Reads a blob file and validates it, naming the file in any error.
pub fn read_blob(path: &Path) -> Result<Vec<u8>> {
    let blob = std::fs::read(path).with_context(|| format!("cannot read model blob {}", path.display()))?;
    Model::from_bytes(&blob).map_err(|e| anyhow::anyhow!("{}: invalid model blob: {e}", path.display()))?;
    Ok(blob)
}

/// Loads the input image: a raw RGB file of exactly `h × w × 3` bytes, or
/// the built-in synthetic test image when `path` is `None`.
pub fn read_image(path: Option<&Path>, model: &Model<'_>) -> Result<Vec<u8>> {
    let Some(path) = path else {
        return Ok(synthetic_test_image(model.input_height(), model.input_width(), 1));
    };
    let bytes = std::fs::read(path).with_context(|| format!("cannot read image {}", path.display()))?;
    if bytes.len() != model.input_len() {
        bail!(
            "{}: {} bytes, but the model needs a raw RGB image of {}×{}×3 = {} bytes",
            path.display(),
            bytes.len(),
            model.input_width(),
            model.input_height(),
            model.input_len()
        );
    }
    Ok(bytes)
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

/// Runs the model on the simulated `device` and describes the result.
pub fn simulate(blob: &[u8], device: &str, image: Option<&Path>) -> Result<String> {
    let Some(profile) = sim::profile(device) else {
        let names: Vec<&str> = sim::PROFILES.iter().map(|p| p.name).collect();
        bail!("unknown device '{device}' (known: {})", names.join(", "));
    };
    let model = Model::from_bytes(blob)?;
    let image = read_image(image, &model)?;
    let mut dev = SimulatedDevice::new(profile);
    dev.flash(blob)?;
    let r = dev.infer(&image)?;
    let mut s = String::new();
    writeln!(s, "device     {} ({})", profile.name, profile.description)?;
    writeln!(s, "flash      {} of {} bytes", r.flash_used, profile.flash_bytes)?;
    writeln!(
        s,
        "RAM        {} of {} bytes (arena {})",
        r.ram_used, profile.ram_bytes, r.arena_bytes
    )?;
    writeln!(s, "MACs       {}", r.macs)?;
    writeln!(
        s,
        "latency    ~{:.1} ms at {} MHz ({:.2} cycles/MAC, estimate)",
        r.estimated_seconds * 1e3,
        profile.clock_hz / 1_000_000,
        profile.cycles_per_mac()
    )?;
    s.push_str(&format_outputs(&r.outputs));
    Ok(s)
}

/// Writes a random-weight SMN blob (for integration tests; not a trained model).
pub fn random_model(shape: &str, seed: u64, out: &Path) -> Result<String> {
    let shape = match shape {
        "micro" => SmnShape::micro(),
        "tiny" => SmnShape::tiny(),
        other => bail!("unknown shape '{other}' (known: micro, tiny)"),
    };
    let blob = random_smn_blob(&shape, seed)?;
    std::fs::write(out, &blob).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(format!(
        "wrote {} ({} bytes, random weights, seed {seed})\n",
        out.display(),
        blob.len()
    ))
}

/// Counts ops by kind (for reports).
pub fn op_kinds(model: &Model<'_>) -> Result<Vec<(&'static str, usize, u64)>> {
    let mut kinds: Vec<(&'static str, usize, u64)> = Vec::new();
    for op in model.ops() {
        let op: Op<'_> = op?;
        let macs = model.op_macs(&op);
        match kinds.iter_mut().find(|k| k.0 == op.name()) {
            Some(k) => {
                k.1 += 1;
                k.2 += macs;
            }
            None => kinds.push((op.name(), 1, macs)),
        }
    }
    Ok(kinds)
}
