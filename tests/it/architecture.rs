//! The architecture checked against the code, so ARCHITECTURE.md cannot drift:
//!
//! - the crate graph (read from Cargo.lock): the core reaches neither the terminal nor the command
//!   line, the TUI not the command line;
//! - the module map: every row's "depends on" column names exactly the core modules its files
//!   import (a core row: `crate::x`; a TUI row: `logreasoner_core::x`);
//! - the core's modules import each other without cycles, and so do its files (`llm::model` and
//!   `llm::hf`, say).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A crate whose module rows the map holds: its source folder, the prefix its rows carry in the
/// map (`tui::screens::logs` is the TUI crate's `screens::logs`), and how its files name a core
/// module.
struct Crate {
    src: &'static str,
    prefix: &'static str,
    core_path: &'static str,
}

const CORE: Crate = Crate {
    src: "crates/core/src",
    prefix: "",
    core_path: "crate::",
};
const TUI: Crate = Crate {
    src: "crates/tui/src",
    prefix: "tui",
    core_path: "logreasoner_core::",
};

/// The core's top-level modules (`<name>.rs` or `<name>/`).
fn core_modules() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join(CORE.src)).expect("core src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if name != "lib" {
            out.insert(name);
        }
    }
    out
}

/// The files of a map row: `<src>/a/b/c.rs` and everything under `<src>/a/b/c/` (a parent row
/// speaks for its whole subtree); the crate's root row (`tui`) is all of it.
fn files_of(krate: &Crate, module: &str) -> Vec<PathBuf> {
    let inner = module
        .strip_prefix(krate.prefix)
        .unwrap_or(module)
        .trim_start_matches("::");
    let src = Path::new(ROOT).join(krate.src);
    let base = if inner.is_empty() {
        src.clone()
    } else {
        src.join(inner.replace("::", "/"))
    };
    let mut out = Vec::new();
    let file = base.with_extension("rs");
    if !inner.is_empty() && file.exists() {
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

/// Core modules a file imports outside its tests.
fn imports(krate: &Crate, file: &Path, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).expect("source");
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices(krate.core_path) {
        // Not a longer identifier ending in the path (`logreasoner_cpu::` for `crate::`).
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + krate.core_path.len()..];
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

/// The module map's rows of `krate`: module path → the core modules its "depends on" column
/// names. Rows whose column is prose ("everything above") are left out.
fn documented(krate: &Crate, modules: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).expect("doc");
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        if !line.starts_with("| `") || cells.len() < 3 {
            continue;
        }
        let module = cells[0].trim_start_matches("| ").trim_matches('`');
        let top = module.split("::").next().unwrap_or_default();
        let ours = if krate.prefix.is_empty() {
            modules.contains(top)
        } else {
            top == krate.prefix
        };
        if !ours {
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

fn check_map(krate: &Crate, modules: &BTreeSet<String>, wrong: &mut Vec<String>) -> usize {
    let rows = documented(krate, modules);
    for (module, named) in &rows {
        let top = module.split("::").next().unwrap_or_default();
        let files = files_of(krate, module);
        if files.is_empty() {
            wrong.push(format!("`{module}`: no such module"));
            continue;
        }
        let actual: BTreeSet<String> = files
            .iter()
            .flat_map(|f| imports(krate, f, modules))
            .filter(|m| m != top)
            .collect();
        if &actual != named {
            wrong.push(format!(
                "`{module}`: the code imports {actual:?}, the map says {named:?}"
            ));
        }
    }
    rows.len()
}

#[test]
fn the_module_map_names_what_each_module_imports() {
    let modules = core_modules();
    let mut wrong = Vec::new();
    let core_rows = check_map(&CORE, &modules, &mut wrong);
    let tui_rows = check_map(&TUI, &modules, &mut wrong);
    assert!(core_rows > 30, "the core's rows were not read: {core_rows}");
    assert!(tui_rows > 8, "the TUI's rows were not read: {tui_rows}");
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's module map is out of date:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn core_modules_import_each_other_without_cycles() {
    let modules = core_modules();
    let graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| {
            let deps = files_of(&CORE, m)
                .iter()
                .flat_map(|f| imports(&CORE, f, &modules))
                .filter(|d| d != m)
                .collect();
            (m.clone(), deps)
        })
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

/// Every core file by module path: `llm/model.rs` is `llm::model`, `llm/mod.rs` is `llm`.
fn core_files() -> BTreeMap<String, PathBuf> {
    let src = Path::new(ROOT).join(CORE.src);
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The core files `module`'s file imports outside its tests: each `crate::`, `super::` or `self::`
/// path (a `use` group's items too) resolved to its longest prefix that is a file.
fn file_imports(module: &str, file: &Path, files: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).expect("source");
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let path =
        regex::Regex::new(r"\b(crate|super|self)((?:::(?:super|[A-Za-z_]\w*))*)(::\{[^}]*\})?")
            .expect("pattern");
    let here: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let resolve = |start: &str, rest: &[&str]| -> Option<String> {
        let mut base: Vec<&str> = match start {
            "crate" => Vec::new(),
            "super" => here[..here.len().saturating_sub(1)].to_vec(),
            _ => here.clone(),
        };
        let mut rest = rest;
        while rest.first() == Some(&"super") {
            base.pop();
            rest = &rest[1..];
        }
        (1..=rest.len()).rev().find_map(|n| {
            let candidate = base
                .iter()
                .chain(&rest[..n])
                .copied()
                .collect::<Vec<_>>()
                .join("::");
            files.contains_key(&candidate).then_some(candidate)
        })
    };
    let mut out = BTreeSet::new();
    for caps in path.captures_iter(code) {
        let start = &caps[1];
        let rest: Vec<&str> = caps[2].split("::").filter(|p| !p.is_empty()).collect();
        let mut found = vec![resolve(start, &rest)];
        if let Some(group) = caps.get(3) {
            for item in group
                .as_str()
                .trim_start_matches("::{")
                .trim_end_matches('}')
                .split(',')
            {
                let item = item.split(" as ").next().unwrap_or_default().trim();
                let mut full = rest.clone();
                full.extend(item.split("::").filter(|p| !p.is_empty() && *p != "self"));
                found.push(resolve(start, &full));
            }
        }
        out.extend(found.into_iter().flatten().filter(|m| m != module));
    }
    out
}

#[test]
fn core_files_import_each_other_without_cycles() {
    let files = core_files();
    assert!(files.contains_key("llm::model"), "{:?}", files.keys());
    let graph: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|(module, file)| (module.clone(), file_imports(module, file, &files)))
        .collect();
    assert!(
        graph["llm::hf"].contains("llm::error"),
        "imports are read: {:?}",
        graph["llm::hf"]
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("file import cycle: {}", cycle.join(" -> "));
    }
}

/// A cycle of `graph`, by depth-first search with an explicit stack (a grey node met again closes
/// one).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let deps = |node: &str| -> Vec<String> {
        graph
            .get(node)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    };
    let mut state: BTreeMap<String, u8> = BTreeMap::new();
    for start in graph.keys() {
        if state.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), deps(start))];
        state.insert(start.clone(), 1);
        while let Some((node, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => match state.get(&next) {
                    Some(1) => {
                        let mut cycle: Vec<String> = stack.iter().map(|(n, _)| n.clone()).collect();
                        cycle.push(next);
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        state.insert(next.clone(), 1);
                        let d = deps(&next);
                        stack.push((next, d));
                    }
                },
                None => {
                    state.insert(node.clone(), 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

/// Cargo.lock's packages: name → the names of its dependencies (a lock file lists what the
/// workspace's build resolved, features included).
fn lock_graph() -> BTreeMap<String, BTreeSet<String>> {
    let lock = std::fs::read_to_string(Path::new(ROOT).join("Cargo.lock")).expect("Cargo.lock");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in package.lines() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("name = ") {
                name = Some(v.trim_matches('"').to_string());
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line.starts_with(']') {
                in_deps = false;
            } else if in_deps {
                // ` "name"`, ` "name version"` or ` "name version (source)"`.
                let dep = line
                    .trim_matches([',', '"'])
                    .split(' ')
                    .next()
                    .unwrap_or_default();
                deps.insert(dep.to_string());
            }
        }
        if let Some(name) = name {
            graph.entry(name).or_default().extend(deps);
        }
    }
    graph
}

/// Every package `from` reaches in the lock file's graph (several versions of one name merge,
/// which can only over-report).
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(p) = todo.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_crate_graph_keeps_the_core_off_the_terminal_and_the_command_line() {
    let graph = lock_graph();
    let core = reaches(&graph, "logreasoner-core");
    let tui = reaches(&graph, "logreasoner-tui");
    let binary = reaches(&graph, "logreasoner");
    // The check can fail: the binary does reach all of these.
    for p in [
        "ratatui",
        "crossterm",
        "clap",
        "logreasoner-tui",
        "logreasoner-core",
    ] {
        assert!(
            binary.contains(p),
            "the binary should reach {p}: {binary:?}"
        );
    }
    for p in [
        "ratatui",
        "crossterm",
        "clap",
        "logreasoner-tui",
        "logreasoner",
    ] {
        assert!(!core.contains(p), "logreasoner-core reaches {p}");
    }
    for p in ["clap", "logreasoner"] {
        assert!(!tui.contains(p), "logreasoner-tui reaches {p}");
    }
    assert!(tui.contains("logreasoner-core") && core.contains("logreasoner-cpu"));
}

#[test]
fn a_cycle_is_found_where_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph).map(|c| c.join(" -> ")),
        Some("a -> b -> c -> a".to_string())
    );
    let mut acyclic = graph.clone();
    acyclic.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&acyclic), None);
}
