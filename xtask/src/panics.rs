//! Locates reachable panic paths in a firmware ELF built with
//! `--features locate-panics` and line tables (see `cargo xtask panic-paths`).
//!
//! `arm-none-eabi-objdump -d -l -C` gives every instruction with the source
//! line it came from (inlined frames included). The panic machinery is the
//! panic handler (`rust_begin_unwind`) plus every `core::…` function that
//! branches into it (`panic_fmt`, `panic_bounds_check`, …), found by a
//! fixpoint. A *site* is an instruction outside that machinery that branches
//! to one of its entries, or to a local block that does; it is reported with
//! the nearest non-`core` source line (the code that can panic) and the
//! nearest `core` line (which check panics: an assert, a bounds check, …).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::cmd;

const RUST_SRC: &str = "/lib/rustlib/src/rust/library/";

struct Insn {
    addr: u64,
    func: usize,
    /// Branch or call target, if the instruction has one.
    target: Option<u64>,
    /// Nearest preceding source line outside the Rust standard library.
    site_line: Option<String>,
    /// Nearest preceding source line inside the Rust standard library.
    core_line: Option<String>,
}

/// One place that can panic (possibly several instructions).
pub struct Site {
    function: String,
    site_line: String,
    core_line: String,
    instructions: usize,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  in {}", self.function)?;
        writeln!(f, "      at  {}", self.site_line)?;
        write!(f, "      via {}", self.core_line)?;
        if let Some(text) = source_text(&self.core_line) {
            write!(f, "\n          `{text}`")?;
        }
        if self.instructions > 1 {
            write!(f, "\n      ({} branches)", self.instructions)?;
        }
        Ok(())
    }
}

/// The text of `path:line` (for the `core` check that panics).
fn source_text(location: &str) -> Option<String> {
    let location = location.split(" (discriminator").next()?;
    let (path, line) = location.rsplit_once(':')?;
    let line: usize = line.trim().parse().ok()?;
    let text = fs::read_to_string(path).ok()?;
    Some(text.lines().nth(line.checked_sub(1)?)?.trim().to_string())
}

/// `0000623c <smn::f>:` → (0x623c, "smn::f").
fn parse_function_header(line: &str) -> Option<(u64, &str)> {
    let (addr, rest) = line.split_once(' ')?;
    let name = rest.strip_prefix('<')?.strip_suffix(">:")?;
    Some((u64::from_str_radix(addr, 16).ok()?, name))
}

/// `    5b22:\tbgt.w\t5c62 <f+0x5fc>` → (0x5b22, Some(0x5c62)).
fn parse_instruction(line: &str) -> Option<(u64, Option<u64>)> {
    let trimmed = line.trim_start();
    let (addr, rest) = trimmed.split_once(':')?;
    if !line.starts_with(' ') || addr.is_empty() {
        return None;
    }
    let addr = u64::from_str_radix(addr, 16).ok()?;
    let mut fields = rest.trim().splitn(2, '\t');
    let mnemonic = fields.next()?;
    let operands = fields.next().unwrap_or("");
    let is_branch = mnemonic.starts_with('b') || mnemonic.starts_with("cb");
    let target = is_branch
        .then(|| {
            // The target is the hex word right before ` <symbol+off>`.
            let before = operands.split(" <").next()?;
            let word = before.rsplit([' ', ',']).next()?;
            u64::from_str_radix(word, 16).ok()
        })
        .flatten();
    Some((addr, target))
}

/// `/path/file.rs:12` or `/path/file.rs:12 (discriminator 3)`.
fn is_source_line(line: &str) -> bool {
    line.starts_with('/')
        && line
            .split(" (discriminator")
            .next()
            .and_then(|l| l.rsplit_once(':'))
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse(disassembly: &str) -> (Vec<String>, HashMap<u64, usize>, Vec<Insn>) {
    let mut functions: Vec<String> = Vec::new();
    let mut entries: HashMap<u64, usize> = HashMap::new();
    let mut insns = Vec::new();
    let (mut site_line, mut core_line): (Option<String>, Option<String>) = (None, None);
    for line in disassembly.lines() {
        if let Some((addr, name)) = parse_function_header(line) {
            entries.insert(addr, functions.len());
            functions.push(name.to_string());
            site_line = None;
            core_line = None;
        } else if is_source_line(line) {
            if line.contains(RUST_SRC) {
                core_line = Some(line.to_string());
            } else {
                site_line = Some(line.to_string());
            }
        } else if let Some((addr, target)) = parse_instruction(line) {
            if let Some(func) = functions.len().checked_sub(1) {
                insns.push(Insn {
                    addr,
                    func,
                    target,
                    site_line: site_line.clone(),
                    core_line: core_line.clone(),
                });
            }
        }
    }
    (functions, entries, insns)
}

/// Finds the panic sites in `disassembly` (output of `objdump -d -l -C`).
fn sites_in(disassembly: &str) -> Vec<Site> {
    let (functions, entries, insns) = parse(disassembly);
    let is_core = |name: &str| name.starts_with("core::") || name.starts_with("<core::");
    // The panic machinery: the handler, then core functions that reach it.
    let mut machinery: HashSet<usize> = functions
        .iter()
        .enumerate()
        .filter(|(_, n)| n.contains("rust_begin_unwind"))
        .map(|(i, _)| i)
        .collect();
    loop {
        let before = machinery.len();
        for insn in &insns {
            let callee = insn.target.and_then(|t| entries.get(&t));
            if callee.is_some_and(|c| machinery.contains(c)) && is_core(&functions[insn.func]) {
                machinery.insert(insn.func);
            }
        }
        if machinery.len() == before {
            break;
        }
    }
    let at: HashMap<u64, &Insn> = insns.iter().map(|i| (i.addr, i)).collect();
    let enters_machinery = |target: u64| entries.get(&target).is_some_and(|f| machinery.contains(f));
    let mut grouped: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for insn in insns.iter().filter(|i| !machinery.contains(&i.func)) {
        let Some(target) = insn.target else { continue };
        // Direct call/branch into the machinery …
        let (site, core) = if enters_machinery(target) {
            (&insn.site_line, &insn.core_line)
        } else {
            // … or a branch to a local block that makes that call.
            match at.get(&target) {
                Some(block) if block.func == insn.func && block.target.is_some_and(enters_machinery) => {
                    (&insn.site_line, &insn.core_line)
                }
                _ => continue,
            }
        };
        let key = (
            functions[insn.func].clone(),
            site.clone().unwrap_or_else(|| "<no source line>".into()),
            core.clone().unwrap_or_else(|| "<no core line>".into()),
        );
        *grouped.entry(key).or_default() += 1;
    }
    grouped
        .into_iter()
        .map(|((function, site_line, core_line), instructions)| Site {
            function,
            site_line,
            core_line,
            instructions,
        })
        .collect()
}

/// Disassembles `elf` and returns its panic sites.
pub fn locate(elf: &Path) -> Result<Vec<Site>, String> {
    let objdump = cmd::which("arm-none-eabi-objdump")
        .ok_or("arm-none-eabi-objdump not found (Debian package binutils-arm-none-eabi)")?;
    let out = Command::new(objdump)
        .args(["-d", "-l", "-C", "--no-show-raw-insn"])
        .arg(elf)
        .output()
        .map_err(|e| format!("cannot run arm-none-eabi-objdump: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "arm-none-eabi-objdump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(sites_in(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
00001000 <__rustc::rust_begin_unwind>:
    1000:\tpush\t{r7, lr}
    1004:\tbl\t2000 <smn_qemu_firmware::fail>

00002000 <smn_qemu_firmware::fail>:
    2000:\tudf\t#254

00003ce4 <core::panicking::panic_fmt>:
/usr/lib/rustlib/src/rust/library/core/src/panicking.rs:80
    3ce8:\tbl\t1000 <__rustc::rust_begin_unwind>

0000623c <smn_firmware_core::kernels::max_pool::max_pool>:
/work/main/firmware-core/src/kernels/max_pool.rs:17
    6254:\tcbz\tr2, 6268 <smn_firmware_core::kernels::max_pool::max_pool+0x2c>
/usr/lib/rustlib/src/rust/library/core/src/slice/mod.rs:1291
    627a:\tcmp\tr4, #0
    627c:\tbeq.w\t6592 <smn_firmware_core::kernels::max_pool::max_pool+0x356>
/work/main/firmware-core/src/kernels/max_pool.rs:50
    6590:\tb.n\t626c <smn_firmware_core::kernels::max_pool::max_pool+0x30>
    6592:\tbl\t3ce4 <core::panicking::panic_fmt>
";

    #[test]
    fn finds_direct_and_local_block_sites() {
        let sites = sites_in(SAMPLE);
        let lines: Vec<(&str, &str, usize)> = sites
            .iter()
            .map(|s| (s.site_line.as_str(), s.core_line.as_str(), s.instructions))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "/work/main/firmware-core/src/kernels/max_pool.rs:17",
                    "/usr/lib/rustlib/src/rust/library/core/src/slice/mod.rs:1291",
                    1
                ),
                (
                    "/work/main/firmware-core/src/kernels/max_pool.rs:50",
                    "/usr/lib/rustlib/src/rust/library/core/src/slice/mod.rs:1291",
                    1
                ),
            ]
        );
        assert!(sites
            .iter()
            .all(|s| s.function == "smn_firmware_core::kernels::max_pool::max_pool"));
    }

    #[test]
    fn parses_objdump_lines() {
        assert_eq!(
            parse_instruction("    6254:\tcbz\tr2, 6268 <f+0x2c>"),
            Some((0x6254, Some(0x6268)))
        );
        assert_eq!(
            parse_instruction("    6592:\tbl\t3ce4 <core::panicking::panic_fmt>"),
            Some((0x6592, Some(0x3ce4)))
        );
        assert_eq!(parse_instruction("    627a:\tcmp\tr4, #0"), Some((0x627a, None)));
        assert_eq!(
            parse_instruction("    6278:\tpop\t{r4, r5, r6, r7, pc}"),
            Some((0x6278, None))
        );
        assert_eq!(parse_function_header("0000623c <a::b<c>>:"), Some((0x623c, "a::b<c>")));
        assert!(is_source_line("/a/b.rs:12"));
        assert!(is_source_line("/a/b.rs:12 (discriminator 3)"));
        assert!(!is_source_line("split_at_mut_checked<i8>():"));
    }
}
