//! ARCHITECTURE.md's module map checked against the code, so the document cannot drift: every row's
//! "depends on" column names exactly the crate modules its files import, and the core modules
//! import each other without cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Modules of the binary and of tests, which may use anything.
const EDGES: &[&str] = &["lib", "main", "cli", "architecture"];

/// The crate's top-level modules (`src/<name>.rs` or `src/<name>/`), without the binary's files.
fn top_level_modules() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("src")).expect("src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if EDGES.contains(&name.as_str()) || name.ends_with("_cmd") {
            continue;
        }
        out.insert(name);
    }
    out
}

/// The files of module `a::b::c`: `src/a/b/c.rs` and everything under `src/a/b/c/` (for a row that
/// has child rows, their files too: a parent row speaks for its whole subtree).
fn files_of(module: &str) -> Vec<PathBuf> {
    let base = Path::new(ROOT).join("src").join(module.replace("::", "/"));
    let mut out = Vec::new();
    let file = base.with_extension("rs");
    if file.exists() {
        out.push(file);
    }
    let mut stack = vec![base];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// Top-level crate modules a file imports outside its tests (`crate::x`, `super::…` resolved only
/// inside its own module, so ignored).
fn imports(file: &Path, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).expect("source");
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // Not `logreasoner_cpu::` or a longer identifier ending in `crate`.
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&name) {
            out.insert(name);
        }
    }
    out
}

/// The module map's rows: module path → the top-level modules its "depends on" column names.
/// Rows whose column is prose ("everything above") are left out.
fn documented(modules: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).expect("doc");
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        if !line.starts_with("| `") || cells.len() < 3 {
            continue;
        }
        let module = cells[0].trim_start_matches("| ").trim_matches('`');
        let top = module.split("::").next().unwrap_or_default();
        if !modules.contains(top) {
            continue;
        }
        let column = cells[cells.len() - 1]
            .trim_end_matches(" |")
            .trim_end_matches('|');
        if column.contains("everything") || column.contains("core modules") {
            continue;
        }
        let named: BTreeSet<String> = column
            .split('`')
            .skip(1)
            .step_by(2)
            .filter_map(|m| m.split("::").next())
            .filter(|m| modules.contains(*m) && *m != top)
            .map(str::to_string)
            .collect();
        rows.insert(module.to_string(), named);
    }
    rows
}

#[test]
fn the_module_map_names_what_each_module_imports() {
    let modules = top_level_modules();
    let rows = documented(&modules);
    assert!(rows.len() > 30, "the module map was not read: {rows:?}");
    let mut wrong = Vec::new();
    for (module, named) in &rows {
        let top = module.split("::").next().unwrap_or_default();
        let files = files_of(module);
        if files.is_empty() {
            wrong.push(format!("`{module}`: no such module"));
            continue;
        }
        let actual: BTreeSet<String> = files
            .iter()
            .flat_map(|f| imports(f, &modules))
            .filter(|m| m != top)
            .collect();
        if &actual != named {
            wrong.push(format!(
                "`{module}`: the code imports {actual:?}, the map says {named:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's module map is out of date:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn core_modules_import_each_other_without_cycles() {
    let modules = top_level_modules();
    let graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| {
            let deps = files_of(m)
                .iter()
                .flat_map(|f| imports(f, &modules))
                .filter(|d| d != m)
                .collect();
            (m.clone(), deps)
        })
        .collect();
    // Depth-first search with an explicit stack; a grey node met again closes a cycle.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in graph.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, path_deps(&graph, start))];
        state.insert(start, 1);
        while let Some((node, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => match state.get(next) {
                    Some(1) => {
                        let cycle: Vec<&str> = stack.iter().map(|(n, _)| *n).collect();
                        panic!("import cycle: {} -> {next}", cycle.join(" -> "));
                    }
                    Some(_) => {}
                    None => {
                        state.insert(next, 1);
                        stack.push((next, path_deps(&graph, next)));
                    }
                },
                None => {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
}

fn path_deps<'a>(graph: &'a BTreeMap<String, BTreeSet<String>>, node: &str) -> Vec<&'a str> {
    graph
        .get(node)
        .map(|d| d.iter().map(String::as_str).collect())
        .unwrap_or_default()
}
