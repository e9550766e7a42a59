//! The Cortex-M4 memory budget of the firmware.
//!
//! [`smn_firmware_core::sim::CORTEX_M4`] is the one definition (flash and
//! RAM of an STM32F4-class part). `tests/firmware/memory.x` is the linker's
//! copy of it: [`check_memory_x`] parses its `MEMORY` lengths and fails with
//! a clear message if they disagree, before every firmware build.
use std::fs;
use std::path::Path;

use smn_firmware_core::sim::CORTEX_M4;

/// Flash of the target part in bytes (`sim::CORTEX_M4.flash_bytes`).
pub(crate) const FLASH_BUDGET: u64 = CORTEX_M4.flash_bytes as u64;
/// RAM of the target part in bytes (`sim::CORTEX_M4.ram_bytes`).
pub(crate) const RAM_BUDGET: u64 = CORTEX_M4.ram_bytes as u64;

/// `memory.x` relative to the repository root.
const MEMORY_X: &str = "tests/firmware/memory.x";

/// The linker script text without `/* … */` comments.
fn strip_comments(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// A linker-script number: decimal or `0x` hex, optionally with a `K` or `M` suffix.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1024),
        b'M' | b'm' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    value.checked_mul(unit)
}

/// `LENGTH` of the `MEMORY` region `name` (e.g. `RAM : ORIGIN = …, LENGTH = 192K`), in bytes.
pub(crate) fn region_length(script: &str, name: &str) -> Result<u64, String> {
    let script = strip_comments(script);
    let line = script
        .lines()
        .map(str::trim)
        .find(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with([':', '(']))
        })
        .ok_or_else(|| format!("no MEMORY region {name}"))?;
    let after = line
        .split_once("LENGTH")
        .and_then(|(_, rest)| rest.trim_start().strip_prefix('='))
        .ok_or_else(|| format!("region {name} has no `LENGTH =`: {line}"))?;
    let value = after.split([',', ';']).next().unwrap_or("");
    parse_size(value).ok_or_else(|| format!("region {name}: cannot read LENGTH {:?}", value.trim()))
}

/// Checks that `script` (a `memory.x`) gives FLASH and RAM exactly the
/// lengths of `sim::CORTEX_M4`.
pub(crate) fn check_memory_x(script: &str) -> Result<(), String> {
    for (region, budget, field) in [("FLASH", FLASH_BUDGET, "flash_bytes"), ("RAM", RAM_BUDGET, "ram_bytes")] {
        let length = region_length(script, region).map_err(|e| format!("{MEMORY_X}: {e}"))?;
        if length != budget {
            return Err(format!(
                "{MEMORY_X} gives {region} LENGTH = {length} bytes but smn_firmware_core::sim::CORTEX_M4.{field} \
                 is {budget} bytes: the Cortex-M4 budget is defined in firmware-core/src/sim.rs; make memory.x \
                 state the same ({}K)",
                budget / 1024
            ));
        }
    }
    Ok(())
}

/// [`check_memory_x`] on the repository's `tests/firmware/memory.x`.
pub(crate) fn check_memory_x_file(root: &Path) -> Result<(), String> {
    let path = root.join(MEMORY_X);
    let script = fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    check_memory_x(&script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_memory_x_matches_sim_cortex_m4() {
        check_memory_x(include_str!("../../../tests/firmware/memory.x")).unwrap();
    }

    #[test]
    fn lengths_are_read_in_every_notation() {
        let script = "/* FLASH : LENGTH = 1K */\nMEMORY\n{\n  FLASH (rx) : ORIGIN = 0x0, LENGTH = 2M\n  \
                      RAM : ORIGIN = 0x20000000, LENGTH = 0x30000\n  RAM2 : ORIGIN = 0, LENGTH = 5\n}\n";
        assert_eq!(region_length(script, "FLASH"), Ok(2 * 1024 * 1024));
        assert_eq!(region_length(script, "RAM"), Ok(192 * 1024));
        assert_eq!(region_length(script, "RAM2"), Ok(5));
        assert!(region_length(script, "CCM").is_err());
        assert!(region_length("MEMORY { RAM : ORIGIN = 0, LENGTH = lots }", "RAM").is_err());
    }

    #[test]
    fn a_memory_x_that_disagrees_with_the_profile_is_refused() {
        let ok = include_str!("../../../tests/firmware/memory.x");
        let bad_ram = ok.replace("LENGTH = 192K", "LENGTH = 128K");
        assert_ne!(bad_ram, ok, "the test edit must change memory.x");
        let err = check_memory_x(&bad_ram).unwrap_err();
        assert!(
            err.contains("RAM LENGTH = 131072") && err.contains("CORTEX_M4.ram_bytes"),
            "{err}"
        );
        let bad_flash = ok.replace("LENGTH = 1024K", "LENGTH = 512K");
        assert_ne!(bad_flash, ok);
        assert!(check_memory_x(&bad_flash).unwrap_err().contains("FLASH"));
    }
}
