//! `cargo xtask layering`: the module graph of each crate's `src/` points
//! one way. Two checks, over the paths each file's non-test code imports
//! (`crate::…`, `super::…`, `self::…`, and `child::…` where `child` is one
//! of the file's own child modules, globs included):
//! * no two files import each other (a file-level cycle);
//! * in the host crate, a file imports only from its own layer or lower:
//!   `commands` → `report` → `train` → `evaluation` → `model` → `data` →
//!   `files` (docs/architecture.md).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod source;

use source::{code, inline_modules, non_test, without_forwarding};

/// The crates whose `src/` is checked.
pub const CRATES: [&str; 5] = ["host", "quantize", "firmware-core", "firmware-ffi", "xtask"];

/// The host crate's layers, lowest first: a module may import from its own
/// layer and those before it.
pub const HOST_LAYERS: [&str; 7] = ["files", "data", "model", "evaluation", "train", "report", "commands"];

/// A module path (`train::trainer`), `""` for the crate root.
type Module = String;

/// Every `.rs` file under `src` as `(module path, source)`.
fn modules(src: &Path) -> Result<BTreeMap<Module, String>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                out.insert(module_of(src, &path), text);
            }
        }
    }
    Ok(out)
}

/// `src/train/mod.rs` → `train`, `src/train/trainer.rs` → `train::trainer`,
/// `src/lib.rs` → `""`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel: PathBuf = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    match parts.as_slice() {
        [only] if only == "lib" || only == "main" => String::new(),
        [dirs @ .., last] if last == "mod" => dirs.join("::"),
        all => all.join("::"),
    }
}

/// The child modules of `module` among `mods`, by name (`cmsis_nn` →
/// `cases`, `encode`, …; the crate root's are the top-level modules).
fn children<'a>(module: &str, mods: &'a BTreeMap<Module, String>) -> Vec<&'a str> {
    mods.keys()
        .filter_map(|m| {
            if module.is_empty() {
                Some(m.as_str())
            } else {
                m.strip_prefix(module).and_then(|r| r.strip_prefix("::"))
            }
        })
        .filter(|name| !name.is_empty() && !name.contains("::"))
        .collect()
}

/// The paths in `text` after `crate::`, `super::` or `self::`, or starting
/// with one of `children` (the child modules of `module`: `use cases::*;`
/// in `cmsis_nn` imports `cmsis_nn::cases`), braces expanded one level
/// (`crate::a::{b, c::d}` → `a::b`, `a::c::d`), and made absolute against
/// `module` (a glob import ends at its module: `cases::*` → `…::cases`).
/// `super::` inside an inline `mod name { … }` is the file's own module.
/// Paths into the module's own children ignore re-exports that only
/// forward names ([`without_forwarding`]): `pub use child::Item;` is not an
/// import of `child` unless the module's code uses `Item` itself.
fn imported_paths(text: &str, module: &str, children: &[&str]) -> Vec<String> {
    let parent = module.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
    let within = |name: &str| {
        if module.is_empty() {
            name.to_string()
        } else {
            format!("{module}::{name}")
        }
    };
    let own = without_forwarding(text);
    let inline = inline_modules(text);
    let mut prefixes = vec![
        (text, "crate::".to_string(), String::new()),
        (text, "super::".to_string(), parent),
        (own.as_str(), "self::".to_string(), module.to_string()),
    ];
    prefixes.extend(children.iter().map(|c| (own.as_str(), format!("{c}::"), within(c))));
    let mut out = Vec::new();
    for (text, prefix, base) in &prefixes {
        let mut rest: &str = text;
        while let Some(i) = rest.find(prefix.as_str()) {
            let before = rest.get(..i).and_then(|s| s.chars().last());
            let at = text.len() - rest.len() + i;
            rest = rest.get(i + prefix.len()..).unwrap_or("");
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let in_inline = prefix == "super::" && inline.iter().any(|r| r.contains(&at));
            let base = if in_inline { module } else { base.as_str() };
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let head = head.trim_end_matches(':');
            let join = |tail: &str| match (base.is_empty(), tail.is_empty()) {
                (true, _) => tail.to_string(),
                (false, true) => base.to_string(),
                (false, false) => format!("{base}::{tail}"),
            };
            let after = rest.get(head.len()..).unwrap_or("");
            if let Some(group) = after.strip_prefix("::{").or_else(|| after.strip_prefix('{')) {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let item = item.split_whitespace().next().unwrap_or("");
                    let tail = match (head.is_empty(), item.is_empty()) {
                        (_, true) => head.to_string(),
                        (true, false) => item.to_string(),
                        (false, false) => format!("{head}::{item}"),
                    };
                    out.push(join(&tail));
                }
            } else {
                out.push(join(head));
            }
        }
    }
    out
}

/// Items a module re-exports from another: `(module, item)` → the module
/// it comes from (`pub use error::{Error, Section};` in `lib.rs` makes
/// `crate::Error` an import of `error`).
type Reexports = BTreeMap<(Module, String), Module>;

/// The `pub use` re-exports of every module in `mods`.
fn reexports(mods: &BTreeMap<Module, String>) -> Reexports {
    let mut out = Reexports::new();
    for (module, text) in mods {
        for statement in non_test(text).split(';') {
            let Some(path) = statement.trim().strip_prefix("pub use ") else {
                continue;
            };
            let path = path.trim();
            let (base, items): (&str, Vec<&str>) = match path.split_once("::{") {
                Some((base, group)) => (base, group.trim_end_matches('}').split(',').collect()),
                None => match path.rsplit_once("::") {
                    Some((base, item)) => (base, vec![item]),
                    None => continue,
                },
            };
            let absolute = match (base.strip_prefix("crate::"), module.is_empty()) {
                (Some(abs), _) => abs.to_string(),
                (None, true) => base.to_string(),
                (None, false) => format!("{module}::{base}"),
            };
            let Some((from, _)) = resolve(&absolute, mods) else {
                continue;
            };
            for item in items {
                let name = item.split_whitespace().last().unwrap_or("").to_string();
                if !name.is_empty() && from != module {
                    out.insert((module.clone(), name), from.to_string());
                }
            }
        }
    }
    out
}

/// The longest prefix of `path` that is a module of `known`, and how many
/// segments it takes; the crate root (`""`) takes none.
fn resolve<'a>(path: &str, known: &'a BTreeMap<Module, String>) -> Option<(&'a str, usize)> {
    let parts: Vec<&str> = path.split("::").collect();
    (0..=parts.len()).rev().find_map(|n| {
        let m = parts.get(..n).map(|p| p.join("::")).unwrap_or_default();
        known.get_key_value(&m).map(|(k, _)| (k.as_str(), n))
    })
}

/// The module `path` really imports from: its longest module prefix, or the
/// module that prefix re-exports the next segment from.
fn target(path: &str, mods: &BTreeMap<Module, String>, re: &Reexports) -> Option<Module> {
    let (module, n) = resolve(path, mods)?;
    let next = path.split("::").nth(n).unwrap_or("");
    match re.get(&(module.to_string(), next.to_string())) {
        Some(from) => Some(from.clone()),
        None if module.is_empty() => None,
        None => Some(module.to_string()),
    }
}

/// File-level imports of the crate at `src`: module → modules it uses.
pub fn graph(src: &Path) -> Result<BTreeMap<Module, BTreeSet<Module>>, String> {
    Ok(edges(&modules(src)?))
}

/// File-level imports among `mods` (module → source): module → modules it uses.
fn edges(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let re = reexports(mods);
    let mut edges = BTreeMap::new();
    for (module, text) in mods {
        let deps: BTreeSet<Module> = imported_paths(&code(text), module, &children(module, mods))
            .iter()
            .filter_map(|p| target(p, mods, &re))
            .filter(|d| d != module)
            .collect();
        edges.insert(module.clone(), deps);
    }
    edges
}

/// Pairs of modules that import each other.
pub fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<(Module, Module)> {
    let mut out = Vec::new();
    for (a, deps) in edges {
        for b in deps {
            if a < b && edges.get(b).is_some_and(|d| d.contains(a)) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

/// The host layer of a module (its first path segment), if it has one.
fn layer(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or("");
    HOST_LAYERS.iter().position(|l| *l == top)
}

/// Imports that point up the host's layers: `(from, to)`.
pub fn upward(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<(Module, Module)> {
    let mut out = Vec::new();
    for (a, deps) in edges {
        let Some(la) = layer(a) else { continue };
        for b in deps {
            if layer(b).is_some_and(|lb| lb > la) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

/// Runs both checks on every crate of `CRATES` under `root`.
pub fn check(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for krate in CRATES {
        let edges = graph(&root.join(krate).join("src"))?;
        for (a, b) in cycles(&edges) {
            problems.push(format!("{krate}: {a} and {b} import each other"));
        }
        if krate == "host" {
            for (a, b) in upward(&edges) {
                problems.push(format!(
                    "host: {a} imports {b}, a higher layer ({})",
                    HOST_LAYERS.join(" < ")
                ));
            }
        }
    }
    if problems.is_empty() {
        eprintln!(
            "layering: no file-level import cycle in {}; host layers point down",
            CRATES.join(", ")
        );
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module, source)` pairs as a module map.
    fn module_map(files: &[(&str, &str)]) -> BTreeMap<Module, String> {
        files.iter().map(|(m, t)| (m.to_string(), t.to_string())).collect()
    }

    #[test]
    fn paths_are_found_expanded_and_made_absolute() {
        let text = "use crate::a::{b, c::d};\nuse super::e::F;\nlet x = crate::g::h();\nuse foo::crate_x;";
        let mut got = imported_paths(text, "m::n", &[]);
        got.sort();
        assert_eq!(got, ["a::b", "a::c::d", "g::h", "m::e::F"]);
        // `super` of a `mod.rs` is its parent too.
        assert_eq!(imported_paths("use super::{x, y};", "m", &[]), ["x", "y"]);
        assert_eq!(imported_paths("use super::*;", "m::n", &[]), ["m"]);
    }

    #[test]
    fn relative_paths_into_child_modules_are_imports() {
        let kids = ["cases", "encode", "harness", "report"];
        let text = "use cases::*;\nuse encode::{encode, Arrays};\npub use harness::cmsis_nn_dir;\n\
                    let r = self::report::table(&rows);\nuse other::Y;\nuse std::fmt::Write;\nlet z = my_cases::z;";
        let mut got = imported_paths(text, "cmsis_nn", &kids);
        got.sort();
        assert_eq!(
            got,
            [
                "cmsis_nn::cases",
                "cmsis_nn::encode::Arrays",
                "cmsis_nn::encode::encode",
                "cmsis_nn::report::table",
            ]
        );
        // A re-export is an import of the child once the module's code uses the item.
        let reexport = "pub use harness::cmsis_nn_dir;\n";
        assert!(imported_paths(reexport, "cmsis_nn", &kids).is_empty());
        let used = format!("{reexport}fn f() {{ cmsis_nn_dir(); }}");
        assert_eq!(
            imported_paths(&used, "cmsis_nn", &kids),
            ["cmsis_nn::harness::cmsis_nn_dir"]
        );
        assert_eq!(
            imported_paths("pub(super) use cases::*;", "cmsis_nn", &kids),
            ["cmsis_nn::cases"]
        );
        let mods = module_map(&[("", "mod m;"), ("m", ""), ("m::c", ""), ("m::c::d", ""), ("mc", "")]);
        assert_eq!(children("m", &mods), ["c"]);
        assert_eq!(children("", &mods), ["m", "mc"]);
        assert!(children("m::c::d", &mods).is_empty());
    }

    #[test]
    fn super_in_an_inline_module_is_the_file_itself() {
        let text = "use super::mac::M;\nmod insn {\n    const S: &str = \"}\";\n    fn f() { super::g(super::h('}')) }\n}\nfn k() { super::x::y() }";
        let mut got = imported_paths(text, "kernels::dsp", &[]);
        got.sort();
        assert_eq!(
            got,
            ["kernels::dsp::g", "kernels::dsp::h", "kernels::mac::M", "kernels::x::y"]
        );
    }

    #[test]
    fn glob_imports_between_a_parent_and_its_child_are_a_cycle() {
        // The parent's glob import of its child follows its test module's
        // declaration; the child's glob takes the parent's constant.
        let mutual = module_map(&[
            ("", "mod m;"),
            ("m", "mod c;\n#[cfg(test)]\nmod tests;\nuse c::*;\nconst K: u8 = 1;"),
            ("m::c", "use super::*;\npub(super) fn f() -> u8 { K }"),
            ("m::tests", "use super::*;"),
        ]);
        assert_eq!(cycles(&edges(&mutual)), [("m".to_string(), "m::c".to_string())]);
        // A parent re-exporting from (or calling into) a child that imports
        // nothing from it is one way.
        let one_way = module_map(&[
            ("", "mod m;"),
            ("m", "mod c;\npub use c::f;\nfn g() -> u8 { c::f() }"),
            ("m::c", "use crate::n::K;\npub fn f() -> u8 { K }"),
            ("n", "pub const K: u8 = 1;"),
        ]);
        let graph = edges(&one_way);
        assert!(cycles(&graph).is_empty());
        assert_eq!(
            graph.get("m").map(|d| d.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(vec!["m::c"])
        );
    }

    #[test]
    fn reexported_items_count_as_imports_of_their_module() {
        let mods: BTreeMap<Module, String> = [
            ("", "pub use error::{Error, Section};\npub use model::Model;"),
            ("error", "use crate::limits::MAX;"),
            ("model", ""),
            ("limits", ""),
        ]
        .into_iter()
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect();
        let re = reexports(&mods);
        assert_eq!(target("Error", &mods, &re).as_deref(), Some("error"));
        assert_eq!(target("Model", &mods, &re).as_deref(), Some("model"));
        assert_eq!(target("limits::MAX", &mods, &re).as_deref(), Some("limits"));
        assert_eq!(target("nothing", &mods, &re), None);
    }

    #[test]
    fn cycles_and_upward_imports_are_reported() {
        let edges: BTreeMap<Module, BTreeSet<Module>> = [
            ("data::x", vec!["model::y"]),
            ("model::y", vec!["data::x"]),
            ("commands::c", vec!["train::t"]),
            ("train::t", vec!["data::x"]),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.into_iter().map(str::to_string).collect()))
        .collect();
        assert_eq!(cycles(&edges), [("data::x".to_string(), "model::y".to_string())]);
        assert_eq!(upward(&edges), [("data::x".to_string(), "model::y".to_string())]);
    }

    #[test]
    fn the_workspace_is_layered() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
        check(root).unwrap();
    }
}
