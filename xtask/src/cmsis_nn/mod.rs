//! `cargo xtask cmsis-nn`: every layer of the model `cargo xtask firmware`
//! runs, computed side by side with Arm's CMSIS-NN on the same simulated
//! Cortex-M4 and counted the same way.
//!
//! Steps: the firmware check ([`firmware::firmware`], which also measures
//! firmware-core's instructions per op) → the host runs the same model with
//! `Model::run_observed` and keeps every tensor → one or more CMSIS-NN *cases*
//! per op ([`op_cases`]) with identical int8 inputs, weights, biases,
//! per-channel multipliers and shifts → `cases.bin` → the C harness in
//! `tests/cmsis-nn-bench/` is compiled with `arm-none-eabi-gcc -O3` against
//! the unchanged CMSIS-NN sources (`../shared/peers/cmsis-nn` relative to the
//! repository root, or `$SMN_CMSIS_NN_DIR`) → QEMU (mps2-an386, `-icount
//! shift=0`, SysTick calibrated as in the firmware) → per-layer table,
//! bit-exactness, peak RAM, `target/cmsis-nn-report.json`.
//!
//! Conv2d, MaxPool2d and FullyConnected have TFLite's arithmetic on both
//! sides, so their outputs must be bit for bit equal. ConcatConv1x1 is run the
//! way TFLite Micro + CMSIS-NN must run it: both inputs requantised to one
//! concat scale and written into a materialised concat tensor (counted as
//! part of the op), then `arm_convolve_1x1_s8_fast`. That rounds once more
//! than firmware-core's two-scale kernel (`docs/int8-spec.md` §5), so its
//! output is checked against a host recomputation of the TFLite-style
//! arithmetic instead, and its distance to firmware-core's output reported.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use smn_firmware_core::format::Op;
use smn_firmware_core::Model;

use crate::cmd;
use crate::firmware::{self, Calibration, Report, DEVICE_PREFIX};

mod cases;
mod encode;
mod harness;
mod report;

use cases::{crc_of, op_cases, Case, Check, Step, TensorKey, Tensors};
use encode::{encode, parse_runs, CaseRun};
use harness::build_harness;
pub use harness::cmsis_nn_dir;
use report::{ratio_line, shape_of, table, tflm_arena, Pair, Row};

// ---------------------------------------------------------------------------
// The whole comparison.

/// The cases of every op of `ops`, and the graph steps TFLite Micro would run
/// (ops without a CMSIS-NN case, the heads, still read their inputs).
fn plan(t: &Tensors<'_>, ops: &[Op<'_>]) -> Result<(Vec<Case>, Vec<Step>), String> {
    let mut cases = Vec::new();
    let mut steps = Vec::new();
    for (op_index, op) in ops.iter().enumerate() {
        let op_cases = op_cases(t, op_index, op)?;
        if op_cases.is_empty() {
            let (a, b) = op.inputs();
            let writes = match op.output() {
                Some(id) => Some((TensorKey::Model(id), t.dims(id)?.len())),
                None => None,
            };
            steps.push(Step {
                reads: [Some(a), b].into_iter().flatten().map(TensorKey::Model).collect(),
                writes,
            });
        }
        steps.extend(op_cases.iter().flat_map(|c| c.steps.iter().cloned()));
        cases.extend(op_cases);
    }
    Ok((cases, steps))
}

/// What the harness measured.
struct HarnessRun {
    runs: Vec<CaseRun>,
    calibration: Calibration,
    stack_bytes: u64,
    seconds: f64,
}

/// Writes `cases.bin`, builds the harness and runs it under QEMU (output kept
/// in `cmsis-nn-bench/output.txt` of the target dir).
fn run_harness(root: &Path, cmsis: &Path, cases: &[Case]) -> Result<HarnessRun, String> {
    let out = cmd::cargo_target_dir(root)
        .unwrap_or_else(|| root.join("target"))
        .join("cmsis-nn-bench");
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let cases_bin = out.join("cases.bin");
    let encoded = encode(cases)?;
    fs::write(&cases_bin, &encoded).map_err(|e| format!("cannot write {}: {e}", cases_bin.display()))?;
    eprintln!(
        "cmsis-nn: {} cases, {} B in {}",
        cases.len(),
        encoded.len(),
        cases_bin.display()
    );
    let elf = build_harness(root, cmsis, &out, &cases_bin)?;
    let (output, seconds) = firmware::run_qemu("CMSIS-NN benchmark", &elf)?;
    let saved = out.join("output.txt");
    fs::write(&saved, &output).map_err(|e| format!("cannot write {}: {e}", saved.display()))?;
    Ok(HarnessRun {
        runs: parse_runs(&output, cases)?,
        calibration: Calibration::parse(&output)?,
        stack_bytes: firmware::device_value(&output, DEVICE_PREFIX, "stack_bytes")?,
        seconds,
    })
}

/// The output checks of all cases.
#[derive(Debug, Default)]
struct Verdicts {
    /// Per op: `yes`, `NO` or `n.a. (max |d| …)`.
    by_op: HashMap<usize, String>,
    /// What must have been equal and was not.
    failures: Vec<String>,
    /// Largest |TFLite-style − firmware-core| over the concat cases.
    max_concat_diff: i32,
}

fn check(cases: &[Case], runs: &[CaseRun]) -> Verdicts {
    let mut v = Verdicts::default();
    for (case, run) in cases.iter().zip(runs) {
        let verdict = match &case.check {
            Check::BitExact(expected) => {
                if crc_of(expected) == run.crc {
                    "yes".to_string()
                } else {
                    v.failures.push(format!(
                        "op {} ({:?}): CMSIS-NN's output differs from firmware-core's",
                        case.op_index, case.kind
                    ));
                    "NO".to_string()
                }
            }
            Check::Reference { reference, ours } => {
                if crc_of(reference) != run.crc {
                    v.failures.push(format!(
                        "op {} ({:?}): the harness's output is not the TFLite-style result recomputed on the host",
                        case.op_index, case.kind
                    ));
                }
                let diff = reference
                    .iter()
                    .zip(ours)
                    .map(|(&r, &o)| (i32::from(r) - i32::from(o)).abs())
                    .max()
                    .unwrap_or(0);
                v.max_concat_diff = v.max_concat_diff.max(diff);
                format!("n.a. (max |d| {diff})")
            }
        };
        // An op with several cases shows the first verdict that is not `yes`.
        let entry = v.by_op.entry(case.op_index).or_insert_with(|| verdict.clone());
        if entry == "yes" {
            *entry = verdict;
        }
    }
    v
}

/// Everything `cargo xtask cmsis-nn` prints and writes.
struct Summary {
    cmsis_dir: PathBuf,
    cases: usize,
    harness: HarnessRun,
    rows: Vec<Row>,
    conv: Pair,
    concat: Pair,
    /// The ops that have a CMSIS-NN case.
    layers: Pair,
    /// firmware-core: one timed `Model::run`; CMSIS-NN: the sum of its cases.
    whole: Pair,
    verdicts: Verdicts,
    ours_arena: u64,
    ours_stack: u64,
    cmsis_arena: usize,
    cmsis_scratch: usize,
}

impl Summary {
    fn new(
        t: &Tensors<'_>,
        ops: &[Op<'_>],
        cases: &[Case],
        steps: &[Step],
        report: &Report,
        harness: HarnessRun,
        cmsis_dir: PathBuf,
    ) -> Result<Summary, String> {
        let mut verdicts = check(cases, &harness.runs);
        let cal = harness.calibration;
        let cmsis_of = |op_index: usize| -> Option<u64> {
            let mut ticks = cases
                .iter()
                .zip(&harness.runs)
                .filter(|(c, _)| c.op_index == op_index)
                .map(|(_, r)| r.ticks)
                .peekable();
            ticks.peek().is_some().then(|| cal.instructions(ticks.sum()))
        };
        let (mut conv, mut concat, mut layers) = (Pair::default(), Pair::default(), Pair::default());
        let mut rows = Vec::new();
        let mut heads = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            if op.output().is_none() {
                heads.push(op_index);
                continue;
            }
            let (ours, cmsis) = (report.op_instructions(op_index), cmsis_of(op_index));
            if let (Some(ours), Some(cmsis)) = (ours, cmsis) {
                let pair = Pair { ours, cmsis };
                match op {
                    Op::Conv2d(_) | Op::Conv2dMaxPool(_) => conv.add(pair),
                    Op::ConcatConv1x1(_) => concat.add(pair),
                    _ => {}
                }
                layers.add(pair);
            }
            rows.push(Row {
                op: op_index.to_string(),
                kind: op.name().to_string(),
                shape: shape_of(t, op)?,
                macs: t.model.op_macs(op),
                ours,
                cmsis,
                exact: verdicts.by_op.remove(&op_index).unwrap_or_else(|| "n.a.".into()),
            });
        }
        if let (Some(&first), Some(&last)) = (heads.first(), heads.last()) {
            let shapes = heads
                .iter()
                .filter_map(|&i| ops.get(i))
                .map(|op| shape_of(t, op))
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(Row {
                op: format!("{first}-{last}"),
                kind: "heads (f32)".into(),
                shape: shapes.join(", "),
                macs: 0,
                ours: report.heads_instructions(),
                cmsis: None,
                exact: "n.a.".into(),
            });
        }
        let whole = Pair {
            ours: report.inference_instructions(),
            cmsis: harness.runs.iter().map(|r| cal.instructions(r.ticks)).sum(),
        };
        let input = (TensorKey::Model(0), t.dims(0)?.len());
        Ok(Summary {
            cmsis_dir,
            cases: cases.len(),
            rows,
            conv,
            concat,
            layers,
            whole,
            verdicts,
            ours_arena: report.arena_bytes(),
            ours_stack: report.stack_bytes(),
            cmsis_arena: tflm_arena(input, steps),
            cmsis_scratch: harness.runs.iter().map(|r| r.scratch_bytes).max().unwrap_or(0),
            harness,
        })
    }

    fn print(&self) {
        let cal = self.harness.calibration;
        println!(
            "\nCMSIS-NN side by side (QEMU mps2-an386 Cortex-M4, -icount shift=0, {} cases, QEMU run {:.1} s)",
            self.cases, self.harness.seconds
        );
        println!(
            "  CMSIS-NN: {} (arm-none-eabi-gcc -O3, DSP extension)",
            self.cmsis_dir.display()
        );
        println!(
            "  calibration {} instructions = {} ticks; CMSIS-NN instructions = SysTick ticks around its call(s)",
            cal.instructions, cal.ticks
        );
        println!("  firmware-core: profiled pass, ticks between ops (op 0 includes the input conversion);");
        println!("  ratio = firmware-core / CMSIS-NN instructions; CMSIS-NN's concat+1x1 = both inputs requantised");
        println!("  into a materialised concat tensor (TFLite's requantising concatenation; an input already at");
        println!("  the concat quantisation is copied) + arm_convolve_1x1_s8_fast, timed together.\n");
        print!("{}", table(&self.rows));
        println!(
            "\n  whole network: firmware-core {} instructions = one timed Model::run (input conversion, every op, heads);",
            self.whole.ours
        );
        println!(
            "                 CMSIS-NN {} instructions = the sum of its {} cases (no input conversion, no heads)",
            self.whole.cmsis, self.cases
        );
        println!(
            "  layers with a CMSIS-NN case: firmware-core {} vs CMSIS-NN {} instructions ({:.2})",
            self.layers.ours,
            self.layers.cmsis,
            self.layers.ratio()
        );
        println!(
            "  concat+1x1: TFLite-style output vs firmware-core's two-scale kernel: max |difference| {} LSB",
            self.verdicts.max_concat_diff
        );
        println!(
            "  peak RAM firmware-core: arena {} + stack high-water {} = {} B",
            self.ours_arena,
            self.ours_stack,
            self.ours_arena + self.ours_stack
        );
        println!(
            "  peak RAM CMSIS-NN (TFLite Micro-style estimate): arena {} (unfused graph with materialised concat \
             tensors, greedy by size) + largest scratch {} = {} B (+ this harness's stack {} B)",
            self.cmsis_arena,
            self.cmsis_scratch,
            self.cmsis_arena + self.cmsis_scratch,
            self.harness.stack_bytes
        );
    }

    fn json(&self) -> serde_json::Value {
        let layers: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "op": r.op,
                    "kind": r.kind,
                    "shape": r.shape,
                    "macs": r.macs,
                    "firmware_core_instructions": r.ours,
                    "cmsis_nn_instructions": r.cmsis,
                    "bit_exact": r.exact,
                })
            })
            .collect();
        let cal = self.harness.calibration;
        serde_json::json!({
            "machine": "qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -icount shift=0",
            "model": "builder::SmnShape::micro()",
            "seed": firmware::SEED,
            "cmsis_nn_dir": self.cmsis_dir.display().to_string(),
            "calibration": { "instructions": cal.instructions, "ticks": cal.ticks },
            "layers": layers,
            "ratios": {
                "conv": self.conv.ratio(),
                "concat_conv1x1": self.concat.ratio(),
                "whole_network": self.whole.ratio(),
                "layers_with_a_cmsis_nn_case": self.layers.ratio(),
            },
            "whole_network": {
                "firmware_core_instructions": self.whole.ours,
                "firmware_core_includes": "one timed Model::run: input conversion, every op, heads",
                "cmsis_nn_instructions": self.whole.cmsis,
                "cmsis_nn_includes": "the sum of its cases: convs, concat+1x1 (requantising concat + 1x1 conv), \
                                      max pools, fully connected layers",
            },
            "concat_max_abs_difference": self.verdicts.max_concat_diff,
            "peak_ram": {
                "firmware_core": {
                    "arena": self.ours_arena,
                    "stack": self.ours_stack,
                    "total": self.ours_arena + self.ours_stack,
                },
                "cmsis_nn": {
                    "arena_estimate": self.cmsis_arena,
                    "largest_scratch": self.cmsis_scratch,
                    "total": self.cmsis_arena + self.cmsis_scratch,
                    "harness_stack": self.harness.stack_bytes,
                },
            },
            "failures": self.verdicts.failures,
        })
    }
}

/// `cargo xtask cmsis-nn`: the firmware check, then [`compare`].
pub fn cmsis_nn(root: &Path) -> Result<(), String> {
    let report = firmware::firmware(root)?;
    compare(root, &report)
}

/// Runs every layer of the firmware's model with CMSIS-NN under QEMU and
/// prints it side by side with firmware-core's per-op instructions from
/// `report` (see the module documentation); fails if an output that must be
/// bit-exact is not.
pub fn compare(root: &Path, report: &Report) -> Result<(), String> {
    let cmsis = cmsis_nn_dir(root)?;
    let (blob, image) = firmware::micro_model()?;
    let model = Model::from_bytes(&blob).map_err(|e| format!("host: the model blob does not load: {e}"))?;
    let tensors = Tensors::capture(&model, &image)?;
    let ops = model
        .ops()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("host: decoding the ops failed: {e}"))?;
    let (cases, steps) = plan(&tensors, &ops)?;
    let harness = run_harness(root, &cmsis, &cases)?;
    let summary = Summary::new(&tensors, &ops, &cases, &steps, report, harness, cmsis)?;
    summary.print();
    let json_path = root.join("target").join("cmsis-nn-report.json");
    let text = serde_json::to_string_pretty(&summary.json()).map_err(|e| format!("cannot encode the report: {e}"))?;
    fs::write(&json_path, text + "\n").map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    println!("  report written to {}", json_path.display());
    println!("{}", ratio_line(summary.conv, summary.concat, summary.whole));
    if summary.verdicts.failures.is_empty() {
        Ok(())
    } else {
        Err(summary.verdicts.failures.join("\n"))
    }
}

#[cfg(test)]
mod tests;
