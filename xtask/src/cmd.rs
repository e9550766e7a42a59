//! Small process helpers: `PATH` lookup, running commands with a clear
//! step name, environment hygiene for nested cargo invocations and a
//! run-with-timeout that captures output.

use std::env;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Finds an executable on `PATH` (or checks an absolute/relative path).
pub fn which(name: &str) -> Option<PathBuf> {
    let is_exe = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_exe(&p).then_some(p);
    }
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_exe(p))
}

/// Renders a command for logs: `KEY=value ... program arg ...` (only the
/// variables the command sets explicitly are shown).
pub fn display(cmd: &Command) -> String {
    let mut s = String::new();
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("(cd {} && ", dir.display()));
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    if cmd.get_current_dir().is_some() {
        s.push(')');
    }
    s
}

/// Runs `cmd` with inherited stdio; a non-zero exit is an error naming `what`.
pub fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", display(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start `{}`: {e}", display(cmd)))?;
    check_status(what, status)
}

fn check_status(what: &str, status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Runs `cmd` silently and says whether it exited successfully.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Environment variables that a `cargo run` parent (or rustup) sets for the
/// program it runs and that describe *that* build, not the one we start.
fn is_parent_build_var(key: &OsStr) -> bool {
    let Some(k) = key.to_str() else { return false };
    k.starts_with("CARGO_PKG_")
        || k.starts_with("CARGO_MANIFEST_")
        || matches!(
            k,
            "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_RUSTC_CURRENT_DIR"
        )
}

/// Cleans the environment of a nested host `cargo` call (same toolchain as
/// the parent): drops the variables describing the xtask build itself.
pub fn host_cargo_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in env::vars_os() {
        if is_parent_build_var(&k) {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// Cleans the environment of the *firmware* cargo call, which must use
/// Debian's `/usr/bin/cargo` + `/usr/bin/rustc` untouched by the rustup
/// toolchain running xtask: removes every `CARGO*` variable (`CARGO`,
/// `CARGO_TARGET_DIR`, `CARGO_MANIFEST_DIR`, `CARGO_BUILD_*`, `CARGO_PROFILE_*`,
/// `CARGO_ENCODED_RUSTFLAGS`, ...) except user-level registry/network/terminal
/// settings, plus `RUSTC*`, `RUSTFLAGS`, `RUSTDOC*` and `RUSTUP_TOOLCHAIN`.
pub fn firmware_cargo_env(cmd: &mut Command) -> &mut Command {
    const KEEP_PREFIXES: [&str; 6] = [
        "CARGO_HOME",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
    ];
    for (k, _) in env::vars_os() {
        let Some(key) = k.to_str() else { continue };
        let cargo_var = (key.starts_with("CARGO") || key.starts_with("__CARGO"))
            && !KEEP_PREFIXES.iter().any(|p| key.starts_with(p));
        let rust_var = key.starts_with("RUSTC")
            || key.starts_with("RUSTDOC")
            || matches!(key, "RUSTFLAGS" | "RUSTUP_TOOLCHAIN" | "RUST_RECURSION_COUNT");
        if cargo_var || rust_var {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// What a command printed, and how it ended.
pub struct Captured {
    /// `None` when the command was killed at the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

/// Runs `cmd` with stdout/stderr captured; kills it after `timeout`.
pub fn run_captured_with_timeout(what: &str, cmd: &mut Command, timeout: Duration) -> Result<Captured, String> {
    eprintln!("$ {}", display(cmd));
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot start `{}`: {e}", display(cmd)))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                // A read error just ends the capture; the exit status tells the rest.
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what}: waiting for the process failed: {e}"));
            }
        }
    };
    let elapsed = start.elapsed();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Captured {
        status,
        stdout,
        stderr,
        elapsed,
    })
}

/// `$CARGO_TARGET_DIR` as an absolute path (relative to the current
/// directory, else `root`), when the caller set one (CI shares and caches it).
pub fn cargo_target_dir(root: &Path) -> Option<PathBuf> {
    let dir = PathBuf::from(env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty())?);
    Some(if dir.is_absolute() {
        dir
    } else {
        env::current_dir().unwrap_or_else(|_| root.to_path_buf()).join(dir)
    })
}

/// The cargo that runs xtask (`$CARGO`, set by `cargo run`), else `cargo`.
pub fn host_cargo() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// Last `n` lines of `text`, for error messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}
