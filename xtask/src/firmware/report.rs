//! What `cargo xtask firmware` measured: sizes, instruction counts, the
//! printed report and its JSON.
use super::budget::{FLASH_BUDGET, RAM_BUDGET};
use super::device_output::{device_value, ICOUNT_PREFIX};
use super::params::{SEED, TARGET};
use serde_json::{json, Value};

/// What `cargo xtask firmware` measured.
pub struct Report {
    pub(super) blob_bytes: u64,
    pub(super) arena_bytes: u64,
    pub(super) macs: u64,
    pub(super) sections: Vec<(String, u64)>,
    pub(super) calibration: Calibration,
    pub(super) inference_ticks: u64,
    pub(super) inference_instructions: u64,
    /// Peak stack use over the whole firmware run (painted-stack high-water mark).
    pub(super) stack_bytes: u64,
    /// RAM left for the stack: the RAM budget (`sim::CORTEX_M4`) minus `.data`/`.bss`/`.uninit`.
    pub(super) stack_budget_bytes: u64,
    pub(super) transcript_lines: usize,
    pub(super) qemu_seconds: f64,
    /// Per op type: (name, SysTick ticks of the profiled pass, MACs).
    pub(super) op_types: Vec<(String, u64, u64)>,
    /// Per op type: (name, units of `sim::op_work`, `sim::M4_OP_RATES` rate).
    pub(super) op_rates: Vec<(String, u64, f64)>,
    /// Per tensor-writing op: (op index, SysTick ticks of the profiled pass).
    pub(super) op_ticks: Vec<(usize, u64)>,
}

/// SysTick calibration of a QEMU run: `instructions` executed in `ticks`
/// (the `icount calibration_*` lines both firmwares print).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calibration {
    /// Instructions of the calibration loop difference (4,000,000).
    pub instructions: u64,
    /// SysTick ticks they took.
    pub ticks: u64,
}

impl Calibration {
    /// Reads the `icount calibration_instructions` / `calibration_ticks` lines.
    pub fn parse(device: &str) -> Result<Calibration, String> {
        Ok(Calibration {
            instructions: device_value(device, ICOUNT_PREFIX, "calibration_instructions")?,
            ticks: device_value(device, ICOUNT_PREFIX, "calibration_ticks")?,
        })
    }

    /// Instructions executed in `ticks` SysTick ticks (rounded; 0 without a calibration).
    pub fn instructions(&self, ticks: u64) -> u64 {
        (ticks * self.instructions + self.ticks / 2)
            .checked_div(self.ticks)
            .unwrap_or(0)
    }

    /// Instructions per tick.
    pub(super) fn ratio(&self) -> f64 {
        self.instructions as f64 / self.ticks as f64
    }
}

/// The size of section `name` in `sections` (0 when absent).
pub(crate) fn section(sections: &[(String, u64)], name: &str) -> u64 {
    sections.iter().find(|(n, _)| n == name).map_or(0, |&(_, size)| size)
}

/// Bytes in flash of an ELF with these sections: vector table, code,
/// read-only data, unwind index and the `.data` initialisers.
pub(crate) fn flash_bytes(sections: &[(String, u64)]) -> u64 {
    [".vector_table", ".vectors", ".text", ".rodata", ".ARM.exidx", ".data"]
        .iter()
        .map(|name| section(sections, name))
        .sum()
}

/// Statically allocated RAM of an ELF with these sections.
pub(crate) fn ram_bytes(sections: &[(String, u64)]) -> u64 {
    [".data", ".bss", ".uninit"]
        .iter()
        .map(|name| section(sections, name))
        .sum()
}

impl Report {
    pub(super) fn section(&self, name: &str) -> u64 {
        section(&self.sections, name)
    }

    /// Bytes in flash: vector table, code, read-only data (the model blob and
    /// the test image live in `.rodata`) and the `.data` initialisers.
    pub(crate) fn flash_bytes(&self) -> u64 {
        flash_bytes(&self.sections)
    }

    /// Statically allocated RAM (the stack takes the rest of the RAM budget).
    pub(crate) fn ram_bytes(&self) -> u64 {
        ram_bytes(&self.sections)
    }

    pub(super) fn ticks_to_instructions(&self, ticks: u64) -> u64 {
        self.calibration.instructions(ticks)
    }

    /// Instructions of one timed `Model::run` (input conversion, every op, heads).
    pub fn inference_instructions(&self) -> u64 {
        self.inference_instructions
    }

    /// Bytes of firmware-core's arena.
    pub fn arena_bytes(&self) -> u64 {
        self.arena_bytes
    }

    /// Peak stack use of the firmware run (painted-stack high-water mark).
    pub fn stack_bytes(&self) -> u64 {
        self.stack_bytes
    }

    /// Instructions of tensor-writing op `op_index` in the profiled pass
    /// (ticks since the previous op: the first op includes the input
    /// conversion, every op a few dozen instructions of the observer).
    pub fn op_instructions(&self, op_index: usize) -> Option<u64> {
        self.op_ticks
            .iter()
            .find(|&&(i, _)| i == op_index)
            .map(|&(_, ticks)| self.ticks_to_instructions(ticks))
    }

    /// Instructions of the two heads in the profiled pass (timed together).
    pub fn heads_instructions(&self) -> Option<u64> {
        self.op_types
            .iter()
            .find(|(name, _, _)| name == "Heads")
            .map(|&(_, ticks, _)| self.ticks_to_instructions(ticks))
    }

    pub(super) fn instructions_per_mac(&self) -> f64 {
        if self.macs == 0 {
            0.0
        } else {
            self.inference_instructions as f64 / self.macs as f64
        }
    }

    pub(super) fn print(&self) {
        let kib = |b: u64| b as f64 / 1024.0;
        println!("firmware report (thumbv7em-none-eabihf, QEMU mps2-an386 Cortex-M4, -icount shift=0)");
        println!(
            "  model blob (flash)       {:>10} B  ({:.1} KiB)",
            self.blob_bytes,
            kib(self.blob_bytes)
        );
        println!(
            "  arena (RAM)              {:>10} B  ({:.1} KiB)",
            self.arena_bytes,
            kib(self.arena_bytes)
        );
        for name in [".vector_table", ".text", ".rodata", ".data", ".bss"] {
            println!("  ELF {name:<20} {:>10} B", self.section(name));
        }
        println!(
            "  flash used               {:>10} B  ({:.1} of {} KiB)",
            self.flash_bytes(),
            kib(self.flash_bytes()),
            FLASH_BUDGET / 1024
        );
        println!(
            "  static RAM used          {:>10} B  ({:.1} of {} KiB, rest is stack)",
            self.ram_bytes(),
            kib(self.ram_bytes()),
            RAM_BUDGET / 1024
        );
        println!(
            "  stack high-water mark    {:>10} B  (of {} B free for the stack)",
            self.stack_bytes, self.stack_budget_bytes
        );
        println!(
            "  calibration              {:>10} instructions = {} SysTick ticks ({:.3} instructions/tick)",
            self.calibration.instructions,
            self.calibration.ticks,
            self.calibration.ratio()
        );
        println!("  inference ticks          {:>10}", self.inference_ticks);
        println!("  instructions/inference   {:>10}", self.inference_instructions);
        println!("  MACs/inference           {:>10}", self.macs);
        println!("  instructions/MAC         {:>10.3}", self.instructions_per_mac());
        let assumed = smn_firmware_core::sim::M4_INSTRUCTIONS_PER_MAC;
        let drift = 100.0 * (self.instructions_per_mac() / assumed - 1.0);
        println!("  sim::M4_INSTRUCTIONS_PER_MAC {assumed:>6.3}  (simulated-device latency estimates; measured differs by {drift:+.1} %)");
        if drift.abs() > 10.0 {
            println!("  note: update sim::M4_INSTRUCTIONS_PER_MAC to the measured value");
        }
        if !self.op_types.is_empty() {
            println!("  per op type (profiled pass; ticks between ops, input conversion in the first op):");
            println!(
                "    {:<16} {:>12} {:>12} {:>9} {:>7}",
                "op", "instructions", "MACs", "instr/MAC", "share"
            );
            let total: u64 = self.op_types.iter().map(|t| t.1).sum();
            for (name, ticks, macs) in &self.op_types {
                let instr = self.ticks_to_instructions(*ticks);
                let per_mac = if *macs > 0 {
                    format!("{:.2}", instr as f64 / *macs as f64)
                } else {
                    "-".into()
                };
                println!(
                    "    {name:<16} {instr:>12} {macs:>12} {per_mac:>9} {:>6.1}%",
                    100.0 * *ticks as f64 / total.max(1) as f64
                );
            }
        }
        self.print_rates();
        println!(
            "  parity                   {:>10} transcript lines identical (QEMU run {:.1} s)",
            self.transcript_lines, self.qemu_seconds
        );
    }

    /// Measured instructions per unit of work next to `sim::M4_OP_RATES`,
    /// which the simulated devices' latency estimates use.
    pub(super) fn print_rates(&self) {
        if self.op_rates.is_empty() {
            return;
        }
        println!("  sim::M4_OP_RATES (instructions per unit of sim::op_work: MAC, pooled input value, head):");
        for (name, work, assumed) in &self.op_rates {
            let Some(&(_, ticks, _)) = self.op_types.iter().find(|t| &t.0 == name) else {
                continue;
            };
            if *work == 0 {
                continue;
            }
            let measured = self.ticks_to_instructions(ticks) as f64 / *work as f64;
            let drift = 100.0 * (measured / assumed - 1.0);
            let note = if drift.abs() > 10.0 {
                "  <- update sim::M4_OP_RATES"
            } else {
                ""
            };
            println!("    {name:<16} measured {measured:>9.3}  assumed {assumed:>9.3}  ({drift:+.1} %){note}");
        }
    }

    /// The report as JSON (`target/firmware-report.json`).
    pub(super) fn json(&self) -> String {
        /// `x` rounded to `decimals` places (the report's precision).
        fn rounded(x: f64, decimals: i32) -> f64 {
            let scale = 10f64.powi(decimals);
            (x * scale).round() / scale
        }
        let sections: serde_json::Map<String, Value> = self
            .sections
            .iter()
            .map(|(n, v)| (n.trim_start_matches('.').to_string(), json!(v)))
            .collect();
        let op_types: serde_json::Map<String, Value> = self
            .op_types
            .iter()
            .map(|(n, t, m)| {
                let instructions = self.ticks_to_instructions(*t);
                (n.clone(), json!({ "instructions": instructions, "macs": m }))
            })
            .collect();
        let op_instructions: serde_json::Map<String, Value> = self
            .op_ticks
            .iter()
            .map(|&(i, t)| (i.to_string(), json!(self.ticks_to_instructions(t))))
            .collect();
        let report = json!({
            "target": TARGET,
            "machine": "qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -icount shift=0",
            "model": "builder::SmnShape::micro()",
            "seed": SEED,
            "blob_bytes": self.blob_bytes,
            "arena_bytes": self.arena_bytes,
            "elf_sections": sections,
            "text_bytes": self.section(".text"),
            "rodata_bytes": self.section(".rodata"),
            "bss_bytes": self.section(".bss"),
            "flash_bytes": self.flash_bytes(),
            "flash_budget_bytes": FLASH_BUDGET,
            "static_ram_bytes": self.ram_bytes(),
            "ram_budget_bytes": RAM_BUDGET,
            "stack_bytes": self.stack_bytes,
            "stack_budget_bytes": self.stack_budget_bytes,
            "calibration_instructions": self.calibration.instructions,
            "calibration_ticks": self.calibration.ticks,
            "instructions_per_tick": rounded(self.calibration.ratio(), 6),
            "inference_ticks": self.inference_ticks,
            "instructions_per_inference": self.inference_instructions,
            "macs": self.macs,
            "instructions_per_mac": rounded(self.instructions_per_mac(), 4),
            "op_types": op_types,
            "op_instructions": op_instructions,
            "transcript_lines": self.transcript_lines,
            "parity": true,
        });
        let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
        text.push('\n');
        text
    }
}
