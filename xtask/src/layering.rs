//! `cargo xtask layering`: the module graph of each crate's `src/` points
//! one way. Two checks, over the `use crate::…` / `super::…` paths of each
//! file's non-test code:
//! * no two files import each other (a file-level cycle);
//! * in the host crate, a file imports only from its own layer or lower:
//!   `commands` → `report` → `train` → `evaluation` → `model` → `data` →
//!   `files` (docs/architecture.md).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose `src/` is checked.
pub const CRATES: [&str; 4] = ["host", "quantize", "firmware-core", "xtask"];

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

/// The source without its test module (by convention the file's tail,
/// from `#[cfg(test)]` on).
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]")
        .map_or(text, |i| text.get(..i).unwrap_or(text))
}

/// The non-test code of `text` without comment lines (doc links such as
/// [`crate::Model`] name an item without depending on it).
fn code(text: &str) -> String {
    non_test(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after `crate::` or `super::` in `text`, braces expanded one
/// level (`crate::a::{b, c::d}` → `a::b`, `a::c::d`), `super::` made
/// absolute against `module` (`is_dir`: the file is a `mod.rs`).
fn imported_paths(text: &str, module: &str, is_dir: bool) -> Vec<String> {
    let parent = if is_dir {
        module.to_string()
    } else {
        module.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string())
    };
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", String::new()), ("super::", parent)] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let before = rest.get(..i).and_then(|s| s.chars().last());
            rest = rest.get(i + prefix.len()..).unwrap_or("");
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let head = head.trim_end_matches(':');
            let join = |tail: &str| match (base.is_empty(), tail.is_empty()) {
                (true, _) => tail.to_string(),
                (false, true) => base.clone(),
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
    let mods = modules(src)?;
    let re = reexports(&mods);
    let mut edges = BTreeMap::new();
    for (module, text) in &mods {
        let is_dir = {
            let rel = module.replace("::", "/");
            src.join(&rel).join("mod.rs").exists() || module.is_empty()
        };
        let deps: BTreeSet<Module> = imported_paths(&code(text), module, is_dir)
            .iter()
            .filter_map(|p| target(p, &mods, &re))
            .filter(|d| d != module)
            .collect();
        edges.insert(module.clone(), deps);
    }
    Ok(edges)
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

    #[test]
    fn paths_are_found_expanded_and_made_absolute() {
        let text = "use crate::a::{b, c::d};\nuse super::e::F;\nlet x = crate::g::h();\nuse foo::crate_x;";
        let mut got = imported_paths(text, "m::n", false);
        got.sort();
        assert_eq!(got, ["a::b", "a::c::d", "g::h", "m::e::F"]);
        assert_eq!(imported_paths("use super::{x, y};", "m", true), ["m::x", "m::y"]);
        assert_eq!(
            non_test("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; }"),
            "use crate::a;\n"
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
