//! `cargo xtask install-deps`: the firmware toolchain (Debian packages).
//!
//! The Cortex-M4 firmware is built with Debian's Rust (`rustc-web`,
//! `cargo-web`, `rust-web-src`: rustc 1.96 with the `core` sources for
//! `-Z build-std=core`), linked with GNU ld from `gcc-arm-none-eabi` (Debian
//! ships no `rust-lld`) and run under `qemu-system-arm`. The CMSIS-NN
//! benchmark (`cargo xtask cmsis-nn`) is C, built with `arm-none-eabi-gcc`
//! against newlib (`libnewlib-arm-none-eabi`). The wgpu training
//! test runs on Mesa's lavapipe (`mesa-vulkan-drivers`).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::cmd;

/// Debian's cargo used for the firmware build.
pub const FIRMWARE_CARGO: &str = "/usr/bin/cargo";
/// Debian's rustc used for the firmware build.
pub const FIRMWARE_RUSTC: &str = "/usr/bin/rustc";
/// The `core` sources that `-Z build-std=core` compiles.
pub const CORE_SOURCES: &str = "/usr/lib/rustlib/src/rust/library/core";

enum Check {
    /// An absolute path that must exist.
    Path(&'static str),
    /// An executable found on `PATH`.
    OnPath(&'static str),
}

struct Requirement {
    check: Check,
    package: &'static str,
}

const REQUIREMENTS: [Requirement; 10] = [
    Requirement {
        check: Check::Path(FIRMWARE_CARGO),
        package: "cargo-web",
    },
    Requirement {
        check: Check::Path(FIRMWARE_RUSTC),
        package: "rustc-web",
    },
    Requirement {
        check: Check::Path(CORE_SOURCES),
        package: "rust-web-src",
    },
    Requirement {
        check: Check::OnPath("arm-none-eabi-ld"),
        package: "gcc-arm-none-eabi",
    },
    // The C compiler and newlib of the CMSIS-NN benchmark (`cargo xtask cmsis-nn`).
    Requirement {
        check: Check::OnPath("arm-none-eabi-gcc"),
        package: "gcc-arm-none-eabi",
    },
    Requirement {
        check: Check::Path(NEWLIB_STRING_H),
        package: "libnewlib-arm-none-eabi",
    },
    Requirement {
        check: Check::OnPath("arm-none-eabi-size"),
        package: "binutils-arm-none-eabi",
    },
    Requirement {
        check: Check::OnPath("qemu-system-arm"),
        package: "qemu-system-arm",
    },
    // Mesa's lavapipe: a CPU Vulkan driver, so the wgpu backend test runs without a GPU.
    Requirement {
        check: Check::Path(LAVAPIPE_ICD),
        package: "mesa-vulkan-drivers",
    },
    // A font for the text in chart PNGs (`smn eval --figures`, `smn demo`).
    Requirement {
        check: Check::Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        package: "fonts-dejavu-core",
    },
];

/// A newlib header for arm-none-eabi, installed by `libnewlib-arm-none-eabi`.
pub const NEWLIB_STRING_H: &str = "/usr/lib/arm-none-eabi/include/string.h";

/// The lavapipe Vulkan driver manifest installed by `mesa-vulkan-drivers`.
pub const LAVAPIPE_ICD: &str = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";

impl Check {
    fn describe(&self) -> &'static str {
        match self {
            Check::Path(p) | Check::OnPath(p) => p,
        }
    }

    fn ok(&self) -> bool {
        match self {
            Check::Path(p) => Path::new(p).exists(),
            Check::OnPath(name) => cmd::which(name).is_some(),
        }
    }
}

/// The Debian packages whose check fails (deduplicated, in order).
fn missing_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    for req in &REQUIREMENTS {
        if !req.check.ok() {
            eprintln!(
                "install-deps: missing {} (Debian package {})",
                req.check.describe(),
                req.package
            );
            if !missing.contains(&req.package) {
                missing.push(req.package);
            }
        }
    }
    missing
}

fn running_as_root() -> bool {
    // /proc/self is owned by the effective uid of the reading process.
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Checks the firmware toolchain; installs what is missing with apt-get when
/// running as root on Debian, else prints the install line and fails.
pub fn install_deps() -> Result<(), String> {
    let missing = missing_packages();
    if missing.is_empty() {
        eprintln!("install-deps: firmware toolchain present (Debian rustc/cargo/rust-src, arm-none-eabi gcc/binutils/newlib, qemu-system-arm)");
        return Ok(());
    }
    let list = missing.join(" ");
    if !(Path::new("/etc/debian_version").exists() && running_as_root()) {
        return Err(format!(
            "the firmware toolchain is incomplete; install it with:\n    sudo apt-get install -y {list}"
        ));
    }
    cmd::run(
        "apt-get update",
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    cmd::run(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still = missing_packages();
    if still.is_empty() {
        eprintln!("install-deps: installed {list}");
        Ok(())
    } else {
        Err(format!(
            "apt-get install succeeded but these are still missing: {}",
            still.join(" ")
        ))
    }
}
