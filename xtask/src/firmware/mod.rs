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
use smn_firmware_core::kernel_cases;
use smn_firmware_core::transcript::Transcript;
use smn_firmware_core::{Model, Outputs};

use crate::{cmd, deps};

mod budget;
mod device_output;
mod params;
mod report;

pub(crate) use device_output::{device_value, DEVICE_PREFIX, ICOUNT_PREFIX};
use device_output::{op_rates, op_ticks, op_types};
pub use params::SEED;
use params::{PORTABLE_TARGET, TARGET};
pub(crate) use report::{flash_bytes, ram_bytes};
pub use report::{Calibration, Report};

/// Wall-clock limit of the QEMU run.
const QEMU_TIMEOUT: Duration = Duration::from_secs(300);
const FIRMWARE_BIN: &str = "smn-qemu-firmware";

/// The parity script: what both the firmware (`tests/firmware/src/main.rs`)
/// and the host print, through firmware-core's [`Transcript`], for one model
/// and image. **Keep the two in sync**: header lines, the op-by-op trace of
/// `run_observed`, its outputs, then whether `run` (the timed pass on the
/// device) returned the very same outputs.
pub(crate) fn parity_transcript(blob: &[u8], image: &[u8]) -> Result<Vec<u8>, String> {
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

/// The lines of firmware-core's kernel cases (`kernel_cases::run`), which
/// the Rust firmware prints after the parity script.
fn kernel_case_transcript() -> Result<Vec<u8>, String> {
    let mut scratch = vec![0u8; kernel_cases::SCRATCH_BYTES];
    let mut text = Vec::new();
    kernel_cases::run(
        &mut Transcript::new(|bytes: &[u8]| text.extend_from_slice(bytes)),
        &mut scratch,
    )
    .map_err(|e| format!("host: kernel cases failed: {e}"))?;
    Ok(text)
}

/// [`parity_transcript`] followed by [`kernel_case_transcript`]: everything
/// the Rust firmware prints besides its `icount`/`device` lines.
fn firmware_transcript(blob: &[u8], image: &[u8]) -> Result<String, String> {
    let mut host = parity_transcript(blob, image)?;
    host.extend(kernel_case_transcript()?);
    String::from_utf8(host).map_err(|_| "host transcript is not UTF-8".to_string())
}

/// Writes `bytes` to `path` unless it already holds exactly them (keeps the
/// mtime, so cargo does not rebuild the firmware for unchanged assets).
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
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
    write_if_changed(&dir.join("model.smnq"), &blob)?;
    write_if_changed(&dir.join("image.rgb"), &image)?;
    write_if_changed(&dir.join("arena_bytes.txt"), format!("{arena_bytes}\n").as_bytes())?;
    eprintln!(
        "firmware: assets in {}: model.smnq {} B, image.rgb {} B ({}x{} RGB), arena {} B",
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
pub(crate) fn firmware_target_dir(root: &Path) -> Option<PathBuf> {
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
    /// The real build without the `dsp` feature (`--no-default-features`)
    /// for a Cortex-M3 ([`PORTABLE_TARGET`], `target-cpu=cortex-m3`: no DSP
    /// extension, no FPU), in its own target dir: the `Scalar` engine.
    Portable,
}

/// Builds `tests/firmware` with Debian's cargo/rustc; returns the ELF path.
fn build_firmware(root: &Path, assets: &Assets, flavor: Flavor) -> Result<PathBuf, String> {
    budget::check_memory_x_file(root)?;
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
    let own_dir = |name: &str, dir: Option<PathBuf>| Some(dir.unwrap_or_else(|| project.join("target")).join(name));
    match flavor {
        Flavor::Checked => {}
        Flavor::LocatePanics => {
            build
                .env("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only")
                .args(["--features", "locate-panics"]);
            target_dir = own_dir("locate-panics", target_dir);
        }
        Flavor::Portable => {
            build
                .args(["--no-default-features", "--target", PORTABLE_TARGET])
                .env("CARGO_TARGET_THUMBV7M_NONE_EABI_LINKER", "arm-none-eabi-ld")
                .env(
                    "CARGO_TARGET_THUMBV7M_NONE_EABI_RUSTFLAGS",
                    "-C link-arg=-Tlink.x -C target-cpu=cortex-m3",
                );
            target_dir = own_dir("portable", target_dir);
        }
    }
    let target = if flavor == Flavor::Portable {
        PORTABLE_TARGET
    } else {
        TARGET
    };
    if let Some(dir) = &target_dir {
        build.arg("--target-dir").arg(dir);
    }
    cmd::run("firmware build (Debian cargo, -Z build-std=core)", &mut build).map_err(|e| {
        if flavor != Flavor::LocatePanics {
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
        .join(target)
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
pub(crate) fn section_sizes(elf: &Path) -> Vec<(String, u64)> {
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
                ".vector_table" | ".vectors" | ".text" | ".rodata" | ".ARM.exidx" | ".data" | ".bss" | ".uninit"
            );
            keep.then(|| Some((name.to_string(), size.parse().ok()?))).flatten()
        })
        .collect()
}

/// QEMU board and CPU of the Cortex-M4 runs.
const M4_BOARD: (&str, &str) = ("mps2-an386", "cortex-m4");
/// QEMU board and CPU of the run without `dsp` (same memory map, no DSP
/// extension, no FPU: an instruction the core lacks faults).
const M3_BOARD: (&str, &str) = ("mps2-an385", "cortex-m3");

/// Runs `elf` under QEMU (mps2-an386, Cortex-M4, semihosting, `-icount
/// shift=0`) and returns its stdout and the wall-clock seconds; a non-zero
/// exit (semihosting failure exit or a fault) or a timeout is an error
/// naming `what` with the last lines it printed.
pub(crate) fn run_qemu(what: &str, elf: &Path) -> Result<(String, f64), String> {
    run_qemu_on(what, elf, M4_BOARD)
}

/// [`run_qemu`] on another `(board, cpu)`.
fn run_qemu_on(what: &str, elf: &Path, (board, cpu): (&str, &str)) -> Result<(String, f64), String> {
    let mut qemu = Command::new("qemu-system-arm");
    qemu.args([
        "-machine",
        board,
        "-cpu",
        cpu,
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

pub(crate) fn compare(host: &str, device: &str) -> Result<usize, String> {
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

/// The firmware without the `dsp` feature (the `Scalar` engine: plain Rust
/// and an Armv7-M `LDRSB`/`LDRSH`/`MLA` loop, for cores without the DSP
/// extension), built for a Cortex-M3 (soft float) and run on QEMU's
/// Cortex-M3 board, its transcript compared line by line with the host's;
/// prints its instructions per MAC.
pub fn portable(root: &Path) -> Result<(), String> {
    deps::install_deps()?;
    let assets = generate_assets(root)?;
    let elf = build_firmware(root, &assets, Flavor::Portable)?;
    let (device, _seconds) = run_qemu_on("firmware without dsp (Cortex-M3)", &elf, M3_BOARD)?;
    let host = firmware_transcript(&assets.blob, &assets.image)?;
    let lines = compare(&host, &device)?;
    let instructions = device_value(&device, ICOUNT_PREFIX, "inference_instructions")?;
    println!(
        "firmware without `dsp` ({PORTABLE_TARGET}, QEMU {} {}, Scalar engine): {instructions} \
         instructions/inference = {:.3} per MAC; parity {lines} transcript lines identical",
        M3_BOARD.0,
        M3_BOARD.1,
        instructions as f64 / assets.macs.max(1) as f64
    );
    Ok(())
}

/// The whole `cargo xtask firmware` flow; prints and returns the report.
pub fn firmware(root: &Path) -> Result<Report, String> {
    deps::install_deps()?;
    let assets = generate_assets(root)?;
    let elf = build_firmware(root, &assets, Flavor::Checked)?;
    let sections = section_sizes(&elf);
    let (device, qemu_seconds) = run_qemu("firmware", &elf)?;
    let host = firmware_transcript(&assets.blob, &assets.image)?;
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
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["blob_bytes"], 10);
        assert_eq!(json["text_bytes"], 30);
        assert_eq!(json["rodata_bytes"], 40);
        assert_eq!(json["bss_bytes"], 24);
        assert_eq!(json["flash_bytes"], 70);
        assert_eq!(json["elf_sections"]["rodata"], 40);
        assert_eq!(json["instructions_per_inference"], 2000);
        assert_eq!(json["instructions_per_mac"], 20.0);
        assert_eq!(json["instructions_per_tick"], 40.0);
        assert_eq!(json["op_types"]["Conv2d"]["instructions"], 1600);
        assert_eq!(json["op_types"]["Conv2d"]["macs"], 80);
        assert_eq!(json["op_instructions"]["0"], 1200);
        assert_eq!(json["op_instructions"]["1"], 400);
        assert_eq!(
            json["flash_budget_bytes"],
            smn_firmware_core::sim::CORTEX_M4.flash_bytes
        );
        assert_eq!(json["ram_budget_bytes"], smn_firmware_core::sim::CORTEX_M4.ram_bytes);
        assert_eq!(json["parity"], true);
    }
}
