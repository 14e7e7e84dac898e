//! No import loops at any folder level: within every folder of `actors/src` and `src`, the
//! modules it holds (files and subfolders) name one another without a cycle, so each folder
//! reads from its leaves up. A path counts wherever it is written — `crate::a::b`, `super::b`,
//! `self::b`, and each name of a `{…}` group — and links the two siblings under the deepest
//! folder both sit in. Test code is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::a_loop;

/// A module's path from the crate root: `playbooks/steps/check.rs` is `[playbooks, steps,
/// check]`; a `mod.rs` is its folder's module; `lib.rs` and `main.rs` the root.
fn module_of(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// The module paths `source` (the code of module `me`) names, resolved from the crate root.
fn named_paths(source: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in source.match_indices(start) {
            let before = source[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // part of a longer path (`a::super::`) or name
            }
            found.extend(resolve(&source[at..], me));
        }
    }
    found
}

/// The paths one written path starting at `text` names: `super::super::a::{b, c::d}` is two.
fn resolve(text: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut base: Vec<String> = Vec::new();
    let mut rest = text;
    if let Some(after) = rest.strip_prefix("crate::") {
        rest = after;
    } else {
        base = me.to_vec();
        if let Some(after) = rest.strip_prefix("self::") {
            rest = after;
        }
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
    }
    let (segments, rest) = segments(rest);
    base.extend(segments);
    match rest.strip_prefix('{') {
        Some(group) => group_items(group)
            .into_iter()
            .map(|item| {
                let mut path = base.clone();
                path.extend(segments_of(item));
                path
            })
            .collect(),
        None => vec![base],
    }
}

/// The `a::b::` segments at the start of `text`, its last name included, and what follows.
fn segments(text: &str) -> (Vec<String>, &str) {
    let mut names = Vec::new();
    let mut rest = text;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            return (names, rest);
        }
        rest = &rest[name.len()..];
        names.push(name);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return (names, rest),
        }
    }
}

fn segments_of(item: &str) -> Vec<String> {
    segments(item.trim()).0
}

/// The top-level items of a `{…}` group (its text after the `{`).
fn group_items(group: &str) -> Vec<&str> {
    let (mut depth, mut from, mut items) = (0usize, 0usize, Vec::new());
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[from..at]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[from..at]);
                from = at + 1;
            }
            _ => {}
        }
    }
    items
}

/// Every non-test source file under `dir`: its module path and its code before any
/// `#[cfg(test)]`.
fn modules(dir: &Path) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut paths = vec![dir.to_path_buf()];
    while let Some(path) = paths.pop() {
        let name = path.to_string_lossy().into_owned();
        if name.ends_with("/tests") {
            continue; // a folder of unit tests
        }
        if path.is_dir() {
            paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let test_file = name.ends_with("/tests.rs") || name.ends_with("_tests.rs");
        if path.extension().is_none_or(|e| e != "rs") || test_file {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap().to_owned();
        found.push((module_of(path.strip_prefix(dir).unwrap()), code));
    }
    found
}

/// For each folder (by module path), its modules and which of them names which.
type Graphs = BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>>;

fn folder_graphs(dir: &Path) -> Graphs {
    let modules = modules(dir);
    let mut graphs: Graphs = BTreeMap::new();
    for (path, _) in &modules {
        if let Some((name, folder)) = path.split_last() {
            graphs
                .entry(folder.to_vec())
                .or_default()
                .entry(name.clone())
                .or_default();
        }
    }
    for (me, code) in &modules {
        for target in named_paths(code, me) {
            let common = me.iter().zip(&target).take_while(|(a, b)| a == b).count();
            let (Some(from), Some(to)) = (me.get(common), target.get(common)) else {
                continue; // a module naming what it holds, or what holds it
            };
            let graph = graphs.entry(me[..common].to_vec()).or_default();
            if graph.contains_key(to) {
                graph
                    .get_mut(from)
                    .expect("a module of it")
                    .insert(to.clone());
            }
        }
    }
    graphs
}

#[test]
fn no_folder_holds_an_import_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut loops = Vec::new();
    for dir in ["actors/core/src", "actors/src", "src"] {
        let graphs = folder_graphs(&root.join(dir));
        assert!(graphs.len() > 3, "{dir}: {graphs:?}");
        for (folder, graph) in &graphs {
            if let Some(found) = a_loop(graph) {
                loops.push(format!("{dir}/{}: {}", folder.join("/"), found.join(" → ")));
            }
        }
    }
    assert!(loops.is_empty(), "import loops: {loops:#?}");
}

#[test]
fn the_loop_check_resolves_every_way_of_writing_a_path() {
    let me = ["playbooks", "run"].map(String::from);
    let code = "use super::{gate::RunGate, steps::{a, b}};\nuse crate::model::X;\n\
                fn f() { self::inner::g(); super::super::kernel::k(); }";
    let found: BTreeSet<String> = named_paths(code, &me)
        .into_iter()
        .map(|path| path.join("::"))
        .collect();
    let expected = [
        "playbooks::gate::RunGate",
        "playbooks::steps",
        "model::X",
        "playbooks::run::inner::g",
        "kernel::k",
    ];
    for path in expected {
        assert!(found.contains(path), "{path} not in {found:?}");
    }
}
