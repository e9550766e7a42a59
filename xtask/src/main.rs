//! `cargo xtask` — repository automation (alias in `.cargo/config.toml`).
//!
//! * `cargo xtask install-deps` — check the firmware toolchain (Debian's
//!   rustc/cargo/rust-src, arm-none-eabi binutils, qemu-system-arm); install
//!   it with apt-get when running as root on Debian, else print the command.
//! * `cargo xtask firmware` — build `tests/firmware/` for the Cortex-M4, run it
//!   under QEMU, check its transcript against the host's bit for bit, and
//!   report flash/RAM sizes and instructions per inference
//!   (`target/firmware-report.json`).
//! * `cargo xtask cmsis-nn` — the firmware check, then every layer of the
//!   same model run with Arm's CMSIS-NN (C, `../shared/peers/cmsis-nn` or
//!   `$SMN_CMSIS_NN_DIR`) under the same QEMU instruction counting: a per-layer
//!   table of instructions and bit-exactness (`target/cmsis-nn-report.json`).
//! * `cargo xtask c-firmware` — the C library and a C firmware using it
//!   through `smn.h`, under QEMU, compared with the host bit for bit.
//! * `cargo xtask ffi-header` — regenerate `firmware-ffi/include/smn.h`
//!   (cbindgen); `cargo xtask test` fails when the committed one is stale.
//! * `cargo xtask panic-paths` — when the firmware's no-panic link check
//!   fails, list the source lines from which a panic is still reachable.
//! * `cargo xtask layering` — no two files of a crate import each other, and
//!   the host crate's layers point down (docs/architecture.md).
//! * `cargo xtask test` — everything CI runs: install-deps, layering, `cargo fmt
//!   --check`, `cargo clippy -D warnings`, `cargo test --workspace --release`,
//!   the firmware check and the CMSIS-NN comparison.

mod arm_c;
mod c_firmware;
mod cmd;
mod cmsis_nn;
mod deps;
mod ffi_header;
mod firmware;
mod layering;
mod panics;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  install-deps   check (and on Debian as root, apt-get install) the firmware toolchain
  firmware       build tests/firmware, run it under QEMU, compare its transcript with
                 the host's and report sizes and instructions per inference; then the
                 same without the `dsp` feature (the Scalar engine)
  cmsis-nn       the firmware check, then every layer of the same model with Arm's
                 CMSIS-NN under the same QEMU instruction counting: per-layer
                 instructions, bit-exactness and peak RAM side by side (CMSIS-NN
                 sources: ../shared/peers/cmsis-nn or $SMN_CMSIS_NN_DIR)
  layering       no file-level import cycle in host, quantize, firmware-core, xtask;
                 host layers point down (commands > report > train > evaluation >
                 model > data > files)
  c-firmware     build libsmn_firmware_ffi.a and tests/c-firmware (C, smn.h), run it
                 under QEMU and compare its transcript (Rust firmware lines, status
                 codes, a QVGA RGB565 frame through smn_run_frame) with the host's
  ffi-header     regenerate firmware-ffi/include/smn.h with cbindgen (CI fails when
                 the committed header is stale)
  panic-paths    build the firmware with an ordinary panic handler and list every
                 source line from which a panic is still reachable (diagnoses the
                 no-panic link failure of `firmware`)
  test           install-deps, layering, fmt --check, clippy -D warnings, cargo test --workspace
                 --release, then the firmware check and the CMSIS-NN comparison
                 (what .ci/run runs)
  help           this text";

/// The repository root (xtask lives in `<root>/xtask`).
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// One named step of `cargo xtask test`.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    eprintln!("\n==> xtask test: {name}");
    f().map_err(|e| format!("step `{name}` failed: {e}"))
}

fn has_cargo_component(cargo: &std::ffi::OsStr, sub: &str) -> bool {
    cmd::succeeds(Command::new(cargo).args([sub, "--version"]))
}

fn test(root: &Path) -> Result<(), String> {
    let cargo = cmd::host_cargo();
    let host_cargo = |args: &[&str]| {
        let mut c = Command::new(&cargo);
        cmd::host_cargo_env(&mut c).current_dir(root).args(args);
        c
    };
    let mut skipped = Vec::new();

    step("install-deps", deps::install_deps)?;
    step("layering", || layering::check(root))?;
    step("C header up to date (cbindgen)", || ffi_header::check(root))?;

    if has_cargo_component(&cargo, "fmt") {
        step("cargo fmt --all --check", || {
            cmd::run("cargo fmt", &mut host_cargo(&["fmt", "--all", "--check"]))?;
            // tests/firmware is not a workspace member; check its sources directly.
            let rustfmt = Path::new(&cargo).with_file_name("rustfmt");
            let mut c = Command::new(if rustfmt.is_file() {
                rustfmt.into_os_string()
            } else {
                "rustfmt".into()
            });
            c.current_dir(root).args([
                "--check",
                "--edition",
                "2021",
                "tests/firmware/build.rs",
                "tests/firmware/src/main.rs",
            ]);
            cmd::run("rustfmt (tests/firmware)", &mut c)
        })?;
    } else {
        eprintln!("notice: `cargo fmt` is not installed (rustup component add rustfmt); skipping the format check");
        skipped.push("fmt");
    }

    if has_cargo_component(&cargo, "clippy") {
        step("cargo clippy", || {
            cmd::run(
                "cargo clippy",
                &mut host_cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--release",
                    "--",
                    "-D",
                    "warnings",
                ]),
            )
        })?;
    } else {
        eprintln!("notice: `cargo clippy` is not installed (rustup component add clippy); skipping lints");
        skipped.push("clippy");
    }

    step("cargo test --workspace --release", || {
        let mut test = host_cargo(&["test", "--workspace", "--release"]);
        // install-deps provided lavapipe: the wgpu test must run, not skip.
        test.env("SMN_REQUIRE_WGPU", "1");
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            test.env("XDG_RUNTIME_DIR", std::env::temp_dir());
        }
        cmd::run("cargo test", &mut test)
    })?;

    let report = step("firmware (QEMU parity)", || firmware::firmware(root))?;
    step("firmware without dsp (QEMU parity, Scalar engine)", || {
        firmware::portable(root)
    })?;
    step("C firmware (QEMU parity through the C ABI)", || {
        c_firmware::c_firmware(root, Some(&report))
    })?;
    // The peer's sources live outside the repository (`../shared`): CI has
    // them and must run the comparison; a user's clone without them skips it.
    match cmsis_nn::cmsis_nn_dir(root) {
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("notice: {why}; skipping the CMSIS-NN comparison");
            skipped.push("cmsis-nn");
        }
        _ => step("CMSIS-NN comparison (QEMU)", || cmsis_nn::compare(root, &report))?,
    }

    if skipped.is_empty() {
        eprintln!("\nxtask test: all steps passed");
    } else {
        eprintln!("\nxtask test: all steps passed (skipped: {})", skipped.join(", "));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    let command = args.first().map(String::as_str);
    if args.len() > 1 {
        eprintln!(
            "xtask: unexpected arguments after `{}`: {}\n\n{USAGE}",
            args[0],
            args[1..].join(" ")
        );
        return ExitCode::from(2);
    }
    let result = match command {
        Some("install-deps") => deps::install_deps(),
        Some("firmware") => firmware::firmware(&root).and_then(|_| firmware::portable(&root)),
        Some("cmsis-nn") => cmsis_nn::cmsis_nn(&root),
        Some("test") => test(&root),
        Some("layering") => layering::check(&root),
        Some("ffi-header") => ffi_header::write(&root),
        Some("c-firmware") => c_firmware::c_firmware(&root, None).map(|_| ()),
        Some("panic-paths") => firmware::panic_paths(&root),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
