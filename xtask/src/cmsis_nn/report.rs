//! The TFLM-style arena estimate and the per-layer table.

use std::collections::HashMap;
use std::fmt::Write as _;

use smn_firmware_core::builder::{plan_arena, Lifetime};
use smn_firmware_core::format::Op;
use smn_firmware_core::{ATTRIBUTE_COUNT, LANDMARK_COUNT};

use super::cases::{Step, TensorKey, Tensors};

// ---------------------------------------------------------------------------
// Arena estimate.

/// TFLite-Micro-style arena of `steps` run in order after the input
/// (`input`, written at time 0): every tensor lives from its write to its
/// last read, placed greedy by size ([`plan_arena`]). Returns the bytes.
pub(super) fn tflm_arena(input: (TensorKey, usize), steps: &[Step]) -> usize {
    let mut index: HashMap<TensorKey, usize> = HashMap::from([(input.0, 0)]);
    let mut sizes = vec![input.1];
    let mut lives = vec![Lifetime { first: 0, last: 0 }];
    for (time, step) in (1u32..).zip(steps) {
        for key in &step.reads {
            if let Some(life) = index.get(key).and_then(|&i| lives.get_mut(i)) {
                life.last = life.last.max(time);
            }
        }
        if let Some((key, bytes)) = step.writes {
            index.insert(key, sizes.len());
            sizes.push(bytes);
            lives.push(Lifetime {
                first: time,
                last: time,
            });
        }
    }
    plan_arena(&sizes, &lives).total
}

// ---------------------------------------------------------------------------
// The table.

/// One row of the per-layer table.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Row {
    pub(super) op: String,
    pub(super) kind: String,
    pub(super) shape: String,
    pub(super) macs: u64,
    pub(super) ours: Option<u64>,
    pub(super) cmsis: Option<u64>,
    pub(super) exact: String,
}

pub(super) fn per_mac(instructions: Option<u64>, macs: u64) -> String {
    match instructions {
        Some(i) if macs > 0 => format!("{:.2}", i as f64 / macs as f64),
        _ => "-".into(),
    }
}

pub(super) fn count(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

pub(super) fn ratio(ours: u64, cmsis: u64) -> f64 {
    if cmsis == 0 {
        0.0
    } else {
        ours as f64 / cmsis as f64
    }
}

/// The per-layer table: op, kind, shape, MACs, instructions and
/// instructions/MAC of both, their ratio and whether the outputs are equal.
pub(super) fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>5}  {:<15} {:<29} {:>8}  {:>13} {:>6}  {:>13} {:>6}  {:>5}  bit-exact",
        "op", "kind", "shape", "MACs", "firmware-core", "/MAC", "CMSIS-NN", "/MAC", "ratio"
    );
    for r in rows {
        let ratio = match (r.ours, r.cmsis) {
            (Some(o), Some(c)) if c > 0 => format!("{:.2}", ratio(o, c)),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "{:>5}  {:<15} {:<29} {:>8}  {:>13} {:>6}  {:>13} {:>6}  {:>5}  {}",
            r.op,
            r.kind,
            r.shape,
            r.macs,
            count(r.ours),
            per_mac(r.ours, r.macs),
            count(r.cmsis),
            per_mac(r.cmsis, r.macs),
            ratio,
            r.exact
        );
    }
    s
}

/// Instructions of firmware-core and CMSIS-NN summed over some layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Pair {
    pub(super) ours: u64,
    pub(super) cmsis: u64,
}

impl Pair {
    pub(super) fn add(&mut self, other: Pair) {
        self.ours += other.ours;
        self.cmsis += other.cmsis;
    }

    /// firmware-core / CMSIS-NN (0 without CMSIS-NN instructions).
    pub(super) fn ratio(&self) -> f64 {
        ratio(self.ours, self.cmsis)
    }
}

/// The closing line of `cargo xtask cmsis-nn`.
pub(super) fn ratio_line(conv: Pair, concat: Pair, whole: Pair) -> String {
    format!(
        "firmware-core/CMSIS-NN instructions: conv {:.2}, concat+1x1 {:.2}, whole network {:.2}",
        conv.ratio(),
        concat.ratio(),
        whole.ratio()
    )
}

pub(super) fn shape_of(t: &Tensors<'_>, op: &Op<'_>) -> Result<String, String> {
    let out = |id: u16| t.dims(id);
    Ok(match op {
        Op::Conv2d(c) => format!(
            "{} -> {} k{}s{}",
            t.dims(c.input)?,
            out(c.output)?,
            c.window.kernel_h,
            c.window.stride_h
        ),
        Op::Conv2dMaxPool(c) => format!(
            "{} -> {} k{}s{}+pool2",
            t.dims(c.input)?,
            out(c.output)?,
            c.window.kernel_h,
            c.window.stride_h
        ),
        Op::ConcatConv1x1(c) => {
            let (a, b) = (t.dims(c.input_a)?, t.dims(c.input_b)?);
            format!("{}x{}x({}+{}) -> {}", a.h, a.w, a.c, b.c, out(c.output)?)
        }
        Op::MaxPool2d(p) | Op::AvgPool2d(p) => format!(
            "{} -> {} k{}s{}",
            t.dims(p.input)?,
            out(p.output)?,
            p.window.kernel_h,
            p.window.stride_h
        ),
        Op::GlobalAvgPool(p) => format!("{} -> {}", t.dims(p.input)?, out(p.output)?),
        Op::FullyConnected(f) => format!("{} -> {}", t.dims(f.input)?.len(), out(f.output)?.c),
        Op::LandmarkHead(h) => format!("{} -> {LANDMARK_COUNT} landmarks", t.dims(h.input)?.len()),
        Op::AttributeHead(h) => format!("{} -> {ATTRIBUTE_COUNT} attributes", t.dims(h.input)?.len()),
    })
}
