//! Parsing the firmware's device-only lines (`icount …`, `device …`).
use smn_firmware_core::Model;

/// Lines starting with these prefixes carry device-only measurements
/// (instruction counts, stack use): they are excluded from the parity
/// comparison and parsed for the report.
pub(crate) const ICOUNT_PREFIX: &str = "icount ";
/// See [`ICOUNT_PREFIX`].
pub(crate) const DEVICE_PREFIX: &str = "device ";
/// Per-op lines of the profiled pass: `icount layer <op_index> <ticks>`.
const LAYER_PREFIX: &str = "icount layer ";

/// The value of the firmware's `<prefix><key> <n>` line.
pub(crate) fn device_value(device: &str, prefix: &str, key: &str) -> Result<u64, String> {
    device
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("the firmware output has no `{prefix}{key} <n>` line"))
}

/// Per op type: ticks from the firmware's `icount op <type> <ticks>` lines and
/// MACs from the blob (the two heads are reported together as `Heads`).
pub(super) fn op_types(device: &str, blob: &[u8]) -> Result<Vec<(String, u64, u64)>, String> {
    let model = Model::from_bytes(blob).map_err(|e| format!("host: the model blob does not load: {e}"))?;
    let mut out: Vec<(String, u64, u64)> = Vec::new();
    for line in device.lines().filter_map(|l| l.strip_prefix("icount op ")) {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(ticks)) = (parts.next(), parts.next().and_then(|t| t.parse().ok())) else {
            return Err(format!("malformed firmware line `icount op {line}`"));
        };
        let macs = model
            .ops()
            .filter_map(Result::ok)
            .filter(|op| op.name() == name)
            .map(|op| model.op_macs(&op))
            .sum();
        out.push((name.to_string(), ticks, macs));
    }
    Ok(out)
}

/// Per op type of the blob: (name, units of work, assumed rate) from
/// `sim::op_work` and `sim::M4_OP_RATES` (the two heads together as `Heads`).
pub(super) fn op_rates(blob: &[u8]) -> Result<Vec<(String, u64, f64)>, String> {
    use smn_firmware_core::sim::{op_work, M4_OP_RATES};
    let model = Model::from_bytes(blob).map_err(|e| format!("host: the model blob does not load: {e}"))?;
    let mut out: Vec<(String, u64, f64)> = Vec::new();
    for op in model.ops().filter_map(Result::ok) {
        let name = if op.output().is_none() { "Heads" } else { op.name() };
        let (work, rate) = (op_work(&model, &op), M4_OP_RATES.rate(&op));
        match out.iter_mut().find(|r| r.0 == name) {
            Some(r) => r.1 += work,
            None => out.push((name.to_string(), work, rate)),
        }
    }
    Ok(out)
}

/// Per tensor-writing op: ticks from the firmware's `icount layer <op> <ticks>` lines.
pub(super) fn op_ticks(device: &str) -> Result<Vec<(usize, u64)>, String> {
    device
        .lines()
        .filter_map(|l| l.strip_prefix(LAYER_PREFIX))
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (
                parts.next().and_then(|i| i.parse().ok()),
                parts.next().and_then(|t| t.parse().ok()),
                parts.next(),
            ) {
                (Some(op), Some(ticks), None) => Ok((op, ticks)),
                _ => Err(format!("malformed firmware line `{LAYER_PREFIX}{line}`")),
            }
        })
        .collect()
}
