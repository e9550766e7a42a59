//! `cargo xtask firmware`: build the Cortex-M4 firmware in `tests/firmware/`,
//! run it under QEMU (mps2-an386) and check that it prints exactly the
//! transcript firmware-core produces on the host for the same model and image.
//!
//! Steps: toolchain check → assets (model blob, test image, arena size) in
//! `target/firmware-assets/` → firmware build with Debian's cargo/rustc and
//! `-Z build-std=core` → QEMU run with `-icount shift=0` → host transcript →
//! line-by-line comparison (the `icount …` lines excluded) → size/instruction
//! report, also written to `target/firmware-report.json`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};
use smn_firmware_core::transcript::Transcript;
use smn_firmware_core::{Model, Outputs};

use crate::{cmd, deps};

/// Seed of the random model and of the synthetic image (any value works; a
/// fixed one keeps the firmware build cached between runs).
pub const SEED: u64 = 0x534d_4e5f_4657_0001;
/// The firmware's budget, as in `tests/firmware/memory.x` (STM32F4-class part).
const FLASH_BUDGET: u64 = 1024 * 1024;
const RAM_BUDGET: u64 = 192 * 1024;
/// Wall-clock limit of the QEMU run.
const QEMU_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines starting with these prefixes carry device-only measurements
/// (instruction counts, stack use): they are excluded from the parity
/// comparison and parsed for the report.
pub(crate) const ICOUNT_PREFIX: &str = "icount ";
pub(crate) const DEVICE_PREFIX: &str = "device ";
/// Per-op lines of the profiled pass: `icount layer <op_index> <ticks>`.
const LAYER_PREFIX: &str = "icount layer ";
const TARGET: &str = "thumbv7em-none-eabihf";
const FIRMWARE_BIN: &str = "smn-qemu-firmware";

/// The parity script: what both the firmware (`tests/firmware/src/main.rs`)
/// and the host print, through firmware-core's [`Transcript`], for one model
/// and image. **Keep the two in sync**: header lines, the op-by-op trace of
/// `run_observed`, its outputs, then whether `run` (the timed pass on the
/// device) returned the very same outputs.
fn parity_transcript(blob: &[u8], image: &[u8]) -> Result<Vec<u8>, String> {
    let model = Model::from_bytes(blob).map_err(|e| format!("host: the model blob does not load: {e}"))?;
    let mut arena = vec![0u8; model.arena_bytes()];
    let mut text = Vec::new();
    let mut t = Transcript::new(|bytes: &[u8]| text.extend_from_slice(bytes));
    t.line("blob_bytes", blob.len() as u64);
    t.line("arena_bytes", model.arena_bytes() as u64);
    t.line("macs", model.macs());
    let observed = model
        .run_observed(image, &mut arena, &mut |trace| t.op(&trace))
        .map_err(|e| format!("host: run_observed failed: {e}"))?;
    t.outputs(&observed);
    let timed: Outputs = model
        .run(image, &mut arena)
        .map_err(|e| format!("host: run failed: {e}"))?;
    t.line("run_matches_run_observed", u64::from(timed == observed));
    t.line("done", 1);
    Ok(text)
}

/// What `cargo xtask firmware` measured.
pub struct Report {
    blob_bytes: u64,
    arena_bytes: u64,
    macs: u64,
    sections: Vec<(String, u64)>,
    calibration: Calibration,
    inference_ticks: u64,
    inference_instructions: u64,
    /// Peak stack use over the whole firmware run (painted-stack high-water mark).
    stack_bytes: u64,
    /// RAM left for the stack: 192 KiB minus `.data`/`.bss`/`.uninit`.
    stack_budget_bytes: u64,
    transcript_lines: usize,
    qemu_seconds: f64,
    /// Per op type: (name, SysTick ticks of the profiled pass, MACs).
    op_types: Vec<(String, u64, u64)>,
    /// Per op type: (name, units of `sim::op_work`, `sim::M4_OP_RATES` rate).
    op_rates: Vec<(String, u64, f64)>,
    /// Per tensor-writing op: (op index, SysTick ticks of the profiled pass).
    op_ticks: Vec<(usize, u64)>,
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
    fn ratio(&self) -> f64 {
        self.instructions as f64 / self.ticks as f64
    }
}

impl Report {
    fn section(&self, name: &str) -> u64 {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |&(_, size)| size)
    }

    /// Bytes in flash: vector table, code, read-only data (the model blob and
    /// the test image live in `.rodata`) and the `.data` initialisers.
    fn flash_bytes(&self) -> u64 {
        self.section(".vector_table") + self.section(".text") + self.section(".rodata") + self.section(".data")
    }

    /// Statically allocated RAM (the stack takes the rest of the 192 KiB).
    fn ram_bytes(&self) -> u64 {
        self.section(".data") + self.section(".bss") + self.section(".uninit")
    }

    fn ticks_to_instructions(&self, ticks: u64) -> u64 {
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

    fn instructions_per_mac(&self) -> f64 {
        if self.macs == 0 {
            0.0
        } else {
            self.inference_instructions as f64 / self.macs as f64
        }
    }

    fn print(&self) {
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
    fn print_rates(&self) {
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

    fn json(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{{");
        let _ = writeln!(s, "  \"target\": \"{TARGET}\",");
        let _ = writeln!(
            s,
            "  \"machine\": \"qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -icount shift=0\","
        );
        let _ = writeln!(s, "  \"model\": \"builder::SmnShape::micro()\",");
        let _ = writeln!(s, "  \"seed\": {SEED},");
        let _ = writeln!(s, "  \"blob_bytes\": {},", self.blob_bytes);
        let _ = writeln!(s, "  \"arena_bytes\": {},", self.arena_bytes);
        let _ = writeln!(s, "  \"elf_sections\": {{");
        let body: Vec<String> = self
            .sections
            .iter()
            .map(|(n, v)| format!("    \"{}\": {v}", n.trim_start_matches('.')))
            .collect();
        let _ = writeln!(s, "{}", body.join(",\n"));
        let _ = writeln!(s, "  }},");
        let _ = writeln!(s, "  \"text_bytes\": {},", self.section(".text"));
        let _ = writeln!(s, "  \"rodata_bytes\": {},", self.section(".rodata"));
        let _ = writeln!(s, "  \"bss_bytes\": {},", self.section(".bss"));
        let _ = writeln!(s, "  \"flash_bytes\": {},", self.flash_bytes());
        let _ = writeln!(s, "  \"flash_budget_bytes\": {FLASH_BUDGET},");
        let _ = writeln!(s, "  \"static_ram_bytes\": {},", self.ram_bytes());
        let _ = writeln!(s, "  \"ram_budget_bytes\": {RAM_BUDGET},");
        let _ = writeln!(s, "  \"stack_bytes\": {},", self.stack_bytes);
        let _ = writeln!(s, "  \"stack_budget_bytes\": {},", self.stack_budget_bytes);
        let _ = writeln!(s, "  \"calibration_instructions\": {},", self.calibration.instructions);
        let _ = writeln!(s, "  \"calibration_ticks\": {},", self.calibration.ticks);
        let _ = writeln!(s, "  \"instructions_per_tick\": {:.6},", self.calibration.ratio());
        let _ = writeln!(s, "  \"inference_ticks\": {},", self.inference_ticks);
        let _ = writeln!(s, "  \"instructions_per_inference\": {},", self.inference_instructions);
        let _ = writeln!(s, "  \"macs\": {},", self.macs);
        let _ = writeln!(s, "  \"instructions_per_mac\": {:.4},", self.instructions_per_mac());
        let ops: Vec<String> = self
            .op_types
            .iter()
            .map(|(n, t, m)| {
                format!(
                    "    \"{n}\": {{ \"instructions\": {}, \"macs\": {m} }}",
                    self.ticks_to_instructions(*t)
                )
            })
            .collect();
        let _ = writeln!(s, "  \"op_types\": {{\n{}\n  }},", ops.join(",\n"));
        let layers: Vec<String> = self
            .op_ticks
            .iter()
            .map(|&(i, t)| format!("    \"{i}\": {}", self.ticks_to_instructions(t)))
            .collect();
        let _ = writeln!(s, "  \"op_instructions\": {{\n{}\n  }},", layers.join(",\n"));
        let _ = writeln!(s, "  \"transcript_lines\": {},", self.transcript_lines);
        let _ = writeln!(s, "  \"parity\": true");
        let _ = writeln!(s, "}}");
        s
    }
}

/// Writes `bytes` to `path` unless it already holds exactly them (keeps the
/// mtime, so cargo does not rebuild the firmware for unchanged assets).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

struct Assets {
    dir: PathBuf,
    blob: Vec<u8>,
    image: Vec<u8>,
    arena_bytes: usize,
    macs: u64,
}

/// The model and image the firmware runs: the random `micro` SMN blob and
/// the synthetic test image, both from [`SEED`].
pub(crate) fn micro_model() -> Result<(Vec<u8>, Vec<u8>), String> {
    let blob =
        random_smn_blob(&SmnShape::micro(), SEED).map_err(|e| format!("building the micro SMN blob failed: {e}"))?;
    let model = Model::from_bytes(&blob).map_err(|e| format!("the generated blob does not load: {e}"))?;
    let image = synthetic_test_image(model.input_height(), model.input_width(), SEED);
    Ok((blob, image))
}

fn generate_assets(root: &Path) -> Result<Assets, String> {
    let dir = root.join("target").join("firmware-assets");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (blob, image) = micro_model()?;
    let model = Model::from_bytes(&blob).map_err(|e| format!("the generated blob does not load: {e}"))?;
    let (arena_bytes, macs) = (model.arena_bytes(), model.macs());
    write_if_changed(&dir.join("model.bin"), &blob)?;
    write_if_changed(&dir.join("image.rgb"), &image)?;
    write_if_changed(&dir.join("arena_bytes.txt"), format!("{arena_bytes}\n").as_bytes())?;
    eprintln!(
        "firmware: assets in {}: model.bin {} B, image.rgb {} B ({}x{} RGB), arena {} B",
        dir.display(),
        blob.len(),
        image.len(),
        model.input_width(),
        model.input_height(),
        arena_bytes
    );
    Ok(Assets {
        dir,
        blob,
        image,
        arena_bytes,
        macs,
    })
}

/// Target directory of the firmware build: `$CARGO_TARGET_DIR/firmware` when
/// the caller set a shared target dir (CI caches it), else cargo's default
/// `tests/firmware/target`.
fn firmware_target_dir(root: &Path) -> Option<PathBuf> {
    cmd::cargo_target_dir(root).map(|dir| dir.join("firmware"))
}

/// How to build the firmware.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The real build: a reachable panic fails the link.
    Checked,
    /// `--features locate-panics` with line tables, in its own target dir:
    /// the panic handler is an ordinary function, so the ELF links and its
    /// calls into the panic machinery can be located (`cargo xtask panic-paths`).
    LocatePanics,
}

/// Builds `tests/firmware` with Debian's cargo/rustc; returns the ELF path.
fn build_firmware(root: &Path, assets: &Assets, flavor: Flavor) -> Result<PathBuf, String> {
    let project = root.join("tests").join("firmware");
    let mut build = Command::new(deps::FIRMWARE_CARGO);
    cmd::firmware_cargo_env(&mut build);
    build
        .current_dir(&project)
        .env("RUSTC", deps::FIRMWARE_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("SMN_FIRMWARE_ASSETS", &assets.dir)
        .args(["build", "--release"]);
    let mut target_dir = firmware_target_dir(root);
    if flavor == Flavor::LocatePanics {
        let dir = target_dir
            .unwrap_or_else(|| project.join("target"))
            .join("locate-panics");
        build
            .env("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only")
            .args(["--features", "locate-panics"]);
        target_dir = Some(dir);
    }
    if let Some(dir) = &target_dir {
        build.arg("--target-dir").arg(dir);
    }
    cmd::run("firmware build (Debian cargo, -Z build-std=core)", &mut build).map_err(|e| {
        if flavor == Flavor::Checked {
            format!(
                "{e}\n  (an `undefined reference to smn_firmware_core_has_a_reachable_panic_path` link \
                 error means a panic path survived optimisation in firmware-core or the firmware; \
                 `cargo xtask panic-paths` lists the source lines that can still panic)"
            )
        } else {
            e
        }
    })?;
    let elf = target_dir
        .unwrap_or_else(|| project.join("target"))
        .join(TARGET)
        .join("release")
        .join(FIRMWARE_BIN);
    if !elf.is_file() {
        return Err(format!("firmware build succeeded but {} is missing", elf.display()));
    }
    Ok(elf)
}

/// `cargo xtask panic-paths`: builds the diagnostic firmware and prints every
/// source line from which a panic is still reachable.
pub fn panic_paths(root: &Path) -> Result<(), String> {
    deps::install_deps()?;
    let assets = generate_assets(root)?;
    let elf = build_firmware(root, &assets, Flavor::LocatePanics)?;
    let sites = crate::panics::locate(&elf)?;
    if sites.is_empty() {
        println!("panic-paths: no panic path is reachable in {}", elf.display());
        return Ok(());
    }
    println!(
        "panic-paths: {} place(s) can still reach the panic handler:",
        sites.len()
    );
    for site in &sites {
        println!("{site}");
    }
    Err(format!("{} reachable panic path(s) in the firmware", sites.len()))
}
/// `arm-none-eabi-size -A` → `[(section, bytes)]` for the allocated sections.
fn section_sizes(elf: &Path) -> Vec<(String, u64)> {
    let Some(size) = cmd::which("arm-none-eabi-size") else {
        eprintln!("firmware: arm-none-eabi-size not found; ELF section sizes not reported");
        return Vec::new();
    };
    let out = match Command::new(size).arg("-A").arg(elf).output() {
        Ok(out) if out.status.success() => out,
        _ => {
            eprintln!("firmware: arm-none-eabi-size -A failed; ELF section sizes not reported");
            return Vec::new();
        }
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let (name, size, _addr) = (it.next()?, it.next()?, it.next()?);
            let keep = matches!(
                name,
                ".vector_table" | ".text" | ".rodata" | ".data" | ".bss" | ".uninit"
            );
            keep.then(|| Some((name.to_string(), size.parse().ok()?))).flatten()
        })
        .collect()
}

/// Runs `elf` under QEMU (mps2-an386, Cortex-M4, semihosting, `-icount
/// shift=0`) and returns its stdout and the wall-clock seconds; a non-zero
/// exit (semihosting failure exit or a fault) or a timeout is an error
/// naming `what` with the last lines it printed.
pub(crate) fn run_qemu(what: &str, elf: &Path) -> Result<(String, f64), String> {
    let mut qemu = Command::new("qemu-system-arm");
    qemu.args([
        "-machine",
        "mps2-an386",
        "-cpu",
        "cortex-m4",
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=0",
        "-kernel",
    ])
    .arg(elf);
    let run = cmd::run_captured_with_timeout(&format!("QEMU ({what})"), &mut qemu, QEMU_TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let context = || {
        format!(
            "\n--- last QEMU stdout lines ---\n{}\n--- QEMU stderr ---\n{}",
            cmd::tail(&stdout, 30),
            cmd::tail(&stderr, 30)
        )
    };
    match run.status {
        None => Err(format!(
            "QEMU ({what}) did not finish within {} s (killed){}",
            QEMU_TIMEOUT.as_secs(),
            context()
        )),
        Some(status) if !status.success() => Err(format!(
            "the {what} failed under QEMU ({status}; semihosting EXIT_FAILURE or a fault){}",
            context()
        )),
        Some(_) => Ok((stdout, run.elapsed.as_secs_f64())),
    }
}

/// Lines that take part in the parity check (`icount …` and `device …`
/// lines excluded).
fn parity_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with(ICOUNT_PREFIX) && !l.starts_with(DEVICE_PREFIX))
        .collect()
}

fn compare(host: &str, device: &str) -> Result<usize, String> {
    let h = parity_lines(host);
    let d = parity_lines(device);
    if h == d {
        return Ok(h.len());
    }
    let mut msg = format!(
        "transcript mismatch: host {} lines, firmware {} lines (icount/device lines excluded)\n",
        h.len(),
        d.len()
    );
    let mut shown = 0;
    for i in 0..h.len().max(d.len()) {
        let (hl, dl) = (h.get(i), d.get(i));
        if hl != dl {
            let _ = writeln!(
                msg,
                "  line {}:\n    host:     {}\n    firmware: {}",
                i + 1,
                hl.copied().unwrap_or("<missing>"),
                dl.copied().unwrap_or("<missing>")
            );
            shown += 1;
            if shown == 10 {
                let _ = writeln!(msg, "  ... (first 10 differing lines shown)");
                break;
            }
        }
    }
    Err(msg)
}

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
fn op_types(device: &str, blob: &[u8]) -> Result<Vec<(String, u64, u64)>, String> {
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
fn op_rates(blob: &[u8]) -> Result<Vec<(String, u64, f64)>, String> {
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
fn op_ticks(device: &str) -> Result<Vec<(usize, u64)>, String> {
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

/// The whole `cargo xtask firmware` flow; prints and returns the report.
pub fn firmware(root: &Path) -> Result<Report, String> {
    deps::install_deps()?;
    let assets = generate_assets(root)?;
    let elf = build_firmware(root, &assets, Flavor::Checked)?;
    let sections = section_sizes(&elf);
    let (device, qemu_seconds) = run_qemu("firmware", &elf)?;
    let host = parity_transcript(&assets.blob, &assets.image)?;
    let host = String::from_utf8(host).map_err(|_| "host transcript is not UTF-8".to_string())?;
    fs::write(assets.dir.join("transcript-host.txt"), &host)
        .and_then(|()| fs::write(assets.dir.join("transcript-firmware.txt"), &device))
        .map_err(|e| format!("cannot save the transcripts: {e}"))?;
    let transcript_lines = compare(&host, &device)?;
    let report = Report {
        blob_bytes: assets.blob.len() as u64,
        arena_bytes: assets.arena_bytes as u64,
        macs: assets.macs,
        sections,
        calibration: Calibration::parse(&device)?,
        inference_ticks: device_value(&device, ICOUNT_PREFIX, "inference_ticks")?,
        inference_instructions: device_value(&device, ICOUNT_PREFIX, "inference_instructions")?,
        stack_bytes: device_value(&device, DEVICE_PREFIX, "stack_bytes")?,
        stack_budget_bytes: device_value(&device, DEVICE_PREFIX, "stack_budget_bytes")?,
        transcript_lines,
        qemu_seconds,
        op_types: op_types(&device, &assets.blob)?,
        op_rates: op_rates(&assets.blob)?,
        op_ticks: op_ticks(&device)?,
    };
    report.print();
    let json_path = root.join("target").join("firmware-report.json");
    fs::write(&json_path, report.json()).map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    println!("  report written to {}", json_path.display());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_ignores_device_only_lines() {
        let host = "a 1\nop 0 t1 n4 deadbeef\ndone 1\n";
        let device = "a 1\nop 0 t1 n4 deadbeef\ndone 1\nicount inference_ticks 7\ndevice stack_bytes 9\n";
        assert_eq!(compare(host, device), Ok(3));
        assert_eq!(device_value(device, ICOUNT_PREFIX, "inference_ticks"), Ok(7));
        assert_eq!(device_value(device, DEVICE_PREFIX, "stack_bytes"), Ok(9));
        assert!(device_value(device, ICOUNT_PREFIX, "inference").is_err());
    }

    #[test]
    fn per_op_lines_are_parsed() {
        let device = "icount op Conv2d 9\nicount layer 0 7\nicount layer 12 2\nicount inference_ticks 5\n";
        assert_eq!(op_ticks(device), Ok(vec![(0, 7), (12, 2)]));
        assert!(op_ticks("icount layer 3\n").is_err());
        assert!(op_ticks("icount layer 3 4 5\n").is_err());
        let cal =
            Calibration::parse("icount calibration_instructions 4000000\nicount calibration_ticks 100001\n").unwrap();
        assert_eq!(cal.instructions(100_001), 4_000_000);
        assert_eq!(cal.instructions(50), 2000);
    }

    #[test]
    fn parity_reports_the_first_differences() {
        let err = compare("a 1\nb 2\nc 3\n", "a 1\nb 5\n").unwrap_err();
        assert!(err.contains("line 2:\n    host:     b 2\n    firmware: b 5"), "{err}");
        assert!(
            err.contains("line 3:\n    host:     c 3\n    firmware: <missing>"),
            "{err}"
        );
    }

    #[test]
    fn host_transcript_of_the_firmware_model() {
        let blob = random_smn_blob(&SmnShape::micro(), SEED).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let image = synthetic_test_image(model.input_height(), model.input_width(), SEED);
        let text = String::from_utf8(parity_transcript(&blob, &image).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("blob_bytes {}", blob.len()));
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("op ")).count(),
            model.ops().filter_map(|op| op.ok()?.output()).count(),
            "{text}"
        );
        assert_eq!(lines[lines.len() - 2], "run_matches_run_observed 1");
        assert_eq!(lines[lines.len() - 1], "done 1");
        // Deterministic: a second run prints the same.
        assert_eq!(parity_transcript(&blob, &image).unwrap(), text.as_bytes());
    }

    #[test]
    fn report_json_has_the_measurements() {
        let report = Report {
            blob_bytes: 10,
            arena_bytes: 20,
            macs: 100,
            sections: vec![(".text".into(), 30), (".rodata".into(), 40), (".bss".into(), 24)],
            calibration: Calibration {
                instructions: 4_000_000,
                ticks: 100_000,
            },
            inference_ticks: 50,
            inference_instructions: 2000,
            stack_bytes: 512,
            stack_budget_bytes: 4096,
            transcript_lines: 46,
            qemu_seconds: 0.5,
            op_types: vec![("Conv2d".into(), 40, 80)],
            op_rates: vec![("Conv2d".into(), 80, 2.0)],
            op_ticks: vec![(0, 30), (1, 10)],
        };
        let json = report.json();
        for needle in [
            "\"blob_bytes\": 10,",
            "\"text_bytes\": 30,",
            "\"rodata_bytes\": 40,",
            "\"bss_bytes\": 24,",
            "\"flash_bytes\": 70,",
            "\"instructions_per_inference\": 2000,",
            "\"instructions_per_mac\": 20.0000,",
            "\"Conv2d\": { \"instructions\": 1600, \"macs\": 80 }",
            "\"op_instructions\": {\n    \"0\": 1200,\n    \"1\": 400\n  },",
            "\"parity\": true\n}",
        ] {
            assert!(json.contains(needle), "{needle} not in {json}");
        }
    }
}
