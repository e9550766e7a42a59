//! The source text the layering check reads: a file's non-test code, its
//! inline modules and the re-exports that only forward names.

/// The source without its test code: a `#[cfg(test)] mod name;` declaration
/// is left out (that file is a module of its own, checked as such), and the
/// file is cut at any other `#[cfg(test)]` (by convention the test module is
/// the file's tail).
pub(super) fn non_test(text: &str) -> String {
    const CFG_TEST: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(CFG_TEST) {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + CFG_TEST.len()..).unwrap_or("");
        match module_declaration(after) {
            Some(len) => rest = after.get(len..).unwrap_or(""),
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The length of the `mod name;` declaration (visibility allowed) that
/// `text` starts with, leading whitespace included; `None` if it starts with
/// anything else (an inline `mod name { … }` among them).
fn module_declaration(text: &str) -> Option<usize> {
    let trimmed = text.trim_start();
    let mut item = trimmed;
    if let Some(vis) = item.strip_prefix("pub") {
        item = match vis.trim_start().strip_prefix('(') {
            Some(scope) => scope.split_once(')')?.1,
            None => vis,
        };
    }
    let name = item.trim_start().strip_prefix("mod ")?.trim_start();
    let ident = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    let semicolon = name.get(ident..)?.trim_start().strip_prefix(';')?;
    (ident > 0).then(|| text.len() - semicolon.len())
}

/// The non-test code of `text` without comment lines (doc links such as
/// [`crate::Model`] name an item without depending on it).
pub(super) fn code(text: &str) -> String {
    non_test(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The spans of the bodies of the inline modules (`mod name { … }`) in
/// `text`. Braces are counted outside string literals and `'{'`/`'}'`.
pub(super) fn inline_modules(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|r| r.find("mod ")).map(|i| i + from) {
        from = i + 4;
        let before = text.get(..i).and_then(|s| s.chars().last());
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = text.get(from..).unwrap_or("").trim_start();
        let ident = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let Some(body) = rest
            .get(ident..)
            .map(str::trim_start)
            .filter(|b| ident > 0 && b.starts_with('{'))
        else {
            continue;
        };
        let start = text.len() - body.len();
        out.push(start..start + block_len(body));
    }
    out
}

/// The length of the `{ … }` block `text` starts with (all of `text` if it
/// does not close), skipping string literals and the char literals `'{'`, `'}'`.
fn block_len(text: &str) -> usize {
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if text.get(i..i + 3).is_some_and(|l| l == "'{'" || l == "'}'") => {
                chars.next();
                chars.next();
            }
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// `text` without the re-exports (`pub use …;`, any visibility) that only
/// forward names, for the paths into the module's children: a re-export
/// stays when it is a glob or the rest of `text` names one of its items
/// (then the module's own code uses what it imports).
pub(super) fn without_forwarding(text: &str) -> String {
    let mut statements = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let at = start;
        start += line.len();
        let trimmed = line.trim_start();
        let Some(vis) = trimmed.strip_prefix("pub") else {
            continue;
        };
        let after = match vis.strip_prefix('(') {
            Some(scope) => scope.split_once(')').map_or("", |(_, r)| r),
            None => vis,
        };
        if !after.starts_with(' ') || !after.trim_start().starts_with("use ") {
            continue;
        }
        let begin = at + (line.len() - trimmed.len());
        if let Some(end) = text.get(begin..).and_then(|r| r.find(';')) {
            statements.push(begin..begin + end + 1);
        }
    }
    let mut rest = String::new();
    let mut last = 0;
    for r in &statements {
        rest.push_str(text.get(last..r.start).unwrap_or(""));
        last = r.end;
    }
    rest.push_str(text.get(last..).unwrap_or(""));
    let mut out = String::new();
    let mut last = 0;
    for r in statements {
        let statement = text.get(r.clone()).unwrap_or("");
        let path = statement
            .split_once("use ")
            .map_or("", |(_, p)| p)
            .trim_end_matches(';');
        let items = path.split_once('{').map_or(path, |(_, group)| group);
        let names = items
            .split([',', '{', '}'])
            .filter_map(|item| {
                item.split(|c: char| c == ':' || c.is_whitespace())
                    .rfind(|w| !w.is_empty())
            })
            .filter(|name| *name != "self");
        let uses = statement.contains('*') || names.into_iter().any(|name| mentions(&rest, name));
        if !uses {
            out.push_str(text.get(last..r.start).unwrap_or(""));
            last = r.end;
        }
    }
    out.push_str(text.get(last..).unwrap_or(""));
    out
}

/// Whether `text` has `name` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(name).any(|(i, _)| {
        !word(text.get(..i).and_then(|s| s.chars().last()))
            && !word(text.get(i + name.len()..).and_then(|s| s.chars().next()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_test_modules_are_cut() {
        assert_eq!(
            non_test("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; }"),
            "use crate::a;\n"
        );
    }

    #[test]
    fn test_module_declarations_do_not_hide_the_rest_of_the_file() {
        let text = "mod a;\n#[cfg(test)]\nmod tests;\n#[cfg(test)] pub(crate) mod util ;\nuse a::*;\n";
        assert_eq!(non_test(text), "mod a;\n\n\nuse a::*;\n");
        assert_eq!(
            non_test("use a::X;\n#[cfg(test)]\nfn helper() {}\nuse b::Y;"),
            "use a::X;\n"
        );
        assert_eq!(module_declaration(" pub mod x;"), Some(11));
        assert_eq!(module_declaration("\nmod tests {"), None);
        assert_eq!(module_declaration("\nmod ;"), None);
    }

    #[test]
    fn re_exports_that_only_forward_are_left_out() {
        let text = "mod a;\npub use a::{A, B as C};\npub(crate) use b::D;\npub use c::*;\nfn f() -> D { D }\n";
        assert_eq!(
            without_forwarding(text),
            "mod a;\n\npub(crate) use b::D;\npub use c::*;\nfn f() -> D { D }\n"
        );
        assert!(mentions("x: Ab, A", "A") && !mentions("Ab B_A", "A"));
    }

    #[test]
    fn inline_module_bodies_are_found() {
        let spans = inline_modules("mod a;\nmod b { {} }\nx");
        assert_eq!(spans.iter().map(|r| (r.start, r.end)).collect::<Vec<_>>(), [(13, 19)]);
    }
}
