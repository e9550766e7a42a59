//! Building bare-metal C for the Cortex-M4 with `arm-none-eabi-gcc`: the
//! flags, parallel compilation, and the support code (start-up,
//! semihosting, instruction counting) shared by the CMSIS-NN harness and
//! the C firmware.

use std::process::{Command, Stdio};

use crate::cmd;

/// Start-up, semihosting and instruction counting shared by the C
/// programs, relative to the repository root.
pub(crate) const C_SUPPORT_DIR: &str = "tests/c-support";
/// The C compiler (and linker) of the harness and CMSIS-NN.
pub(crate) const CC: &str = "arm-none-eabi-gcc";
/// Code generation for the Cortex-M4F (DSP extension on: CMSIS-NN's SMLAD paths).
pub(crate) const CFLAGS: [&str; 9] = [
    "-mcpu=cortex-m4",
    "-mfpu=fpv4-sp-d16",
    "-mfloat-abi=hard",
    "-mthumb",
    "-O3",
    "-std=c99",
    "-ffunction-sections",
    "-fdata-sections",
    "-g",
];
/// Warnings for our own C files (not for CMSIS-NN's).
pub(crate) const HARNESS_WARNINGS: [&str; 3] = ["-Wall", "-Wextra", "-Werror"];

/// Runs `jobs` (compiler commands), as many at a time as there are CPUs.
pub(crate) fn compile_all(what: &str, jobs: Vec<Command>) -> Result<(), String> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let mut running = Vec::new();
        for mut job in jobs.by_ref().take(parallel) {
            let shown = cmd::display(&job);
            let child = job
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("{what}: cannot start `{shown}`: {e}"))?;
            running.push((shown, child));
        }
        for (shown, child) in running {
            let out = child
                .wait_with_output()
                .map_err(|e| format!("{what}: waiting for `{shown}` failed: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{what} failed ({}):\n$ {shown}\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    Ok(())
}
