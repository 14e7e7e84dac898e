//! The shape rules of `docs/architecture.md`, checked on the source itself: no top-level
//! module of `actors/src` or `src/` imports one that imports it back; actors know one another
//! only through `protocol/` (the kernel names the actors it spawns); and outside tests no
//! source file is over 500 lines and no function over 70, so each reads at once; and the
//! pure core (`actors/core`) depends on nothing that does I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod folders;

/// Each top-level module of the crate in `dir` and the top-level modules it names as
/// `crate::<module>` (test modules left out).
fn imports(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![dir.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs")
            || path.to_string_lossy().ends_with("_tests.rs")
        {
            continue;
        }
        let relative = path.strip_prefix(dir).unwrap().with_extension("");
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let source = source.split("#[cfg(test)]").next().unwrap();
        let named = graph.entry(top.clone()).or_default();
        for (at, _) in source.match_indices("crate::") {
            let rest = &source[at + "crate::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if module != top && !module.is_empty() {
                named.insert(module);
            }
        }
    }
    graph
}

/// The modules of a loop in `graph`, if there is one.
fn a_loop(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == at) {
            return Some(path[start..].to_vec());
        }
        if !done.insert(at.to_owned()) {
            return None;
        }
        path.push(at.to_owned());
        for next in graph
            .get(at)
            .into_iter()
            .flatten()
            .filter(|m| graph.contains_key(*m))
        {
            if let Some(found) = visit(graph, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(graph, start, &mut Vec::new(), &mut done))
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["actors/core/src", "actors/src", "src"] {
        let graph = imports(&root.join(dir));
        assert!(graph.len() > 5, "{dir}: {graph:?}");
        assert_eq!(a_loop(&graph), None, "an import loop in {dir}");
    }
}

/// What the core may not depend on: it decides, `actors` does the I/O. Cargo refuses an
/// import of a crate that is not a dependency, so the list is the layering.
const NOT_IN_THE_CORE: &[&str] = &[
    "surrealdb",
    "reqwest",
    "tokio-postgres",
    "tokio",
    "ractor",
    "warp",
    "hyper",
    "actors",
];

#[test]
fn the_core_depends_on_nothing_that_does_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("actors/core/Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    let dependencies: Vec<&String> = ["dependencies", "dev-dependencies"]
        .iter()
        .filter_map(|table| manifest.get(*table).and_then(|t| t.as_table()))
        .flat_map(|table| table.keys())
        .collect();
    assert!(
        dependencies.iter().any(|d| *d == "serde"),
        "{dependencies:?}"
    );
    let io: Vec<_> = dependencies
        .iter()
        .filter(|d| NOT_IN_THE_CORE.contains(&d.as_str()))
        .collect();
    assert!(io.is_empty(), "the core depends on {io:?}");
    let actors = std::fs::read_to_string(root.join("actors/Cargo.toml")).unwrap();
    assert!(
        actors.contains("grace-core = { path = \"core\""),
        "actors builds on the core"
    );
}

#[test]
fn actors_know_one_another_only_through_the_protocol() {
    let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/src"));
    // The engines are folders (`incidents/`, `playbooks/` with its sub-agents, `pipelines/`);
    // the other actors are one file each.
    let is_actor =
        |m: &str| m.ends_with("_actor") || ["incidents", "playbooks", "pipelines"].contains(&m);
    for (module, named) in graph.iter().filter(|(m, _)| *m != "kernel") {
        let actors: Vec<_> = named.iter().filter(|m| is_actor(m)).collect();
        assert!(
            actors.is_empty(),
            "{module} imports {actors:?}: send them messages from protocol/ instead"
        );
    }
    assert!(
        graph["protocol"].iter().all(|m| !is_actor(m)),
        "{:?}",
        graph["protocol"]
    );
}

/// Every registered name is paired with its message type in `protocol/` (`Role`, and one
/// `Scope` method per name made at run time): nothing else looks an actor up by name, so no
/// lookup can pair a name with the wrong messages.
#[test]
fn only_the_protocol_looks_actors_up_by_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["actors/src", "src"] {
        for (file, code) in sources(&root.join(dir)) {
            if file.ends_with("protocol/mod.rs") {
                continue;
            }
            let raw = ["where_is(", "ractor::registry"];
            if raw.iter().any(|call| code.contains(call)) {
                found.push(file);
            }
        }
    }
    assert!(
        found.is_empty(),
        "actors looked up by a bare name in {found:?}"
    );
}

/// Most lines of a source file, tests left out.
const FILE_LINES_MAX: usize = 500;
/// Most lines of a function, from its `fn` line to its closing brace.
const FUNCTION_LINES_MAX: usize = 70;

/// Every `.rs` file under `dir` with its source before any `#[cfg(test)]` (test files left out).
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut paths = vec![dir.to_path_buf()];
    while let Some(path) = paths.pop() {
        if path.is_dir() {
            paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let name = path.to_string_lossy().into_owned();
        let test_file = name.ends_with("/tests.rs") || name.ends_with("_tests.rs");
        if path.extension().is_none_or(|e| e != "rs") || test_file {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let code = source.split("\n#[cfg(test)]").next().unwrap().to_owned();
        found.push((name, code));
    }
    found
}

/// The name and length of each function in `code` (string and comment text ignored).
fn functions(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let before_ok = words[..at]
            .iter()
            .all(|w| ["pub", "async", "const", "unsafe"].contains(w) || w.starts_with("pub("));
        if !before_ok || line.trim_start().starts_with("//") {
            continue;
        }
        let name: String = words
            .get(at + 1)
            .unwrap_or(&"")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if let Some(length) = body_lines(&lines[start..]) {
            found.push((name, length));
        }
    }
    found
}

/// Lines from the first to the brace closing the body that opens in them; none for a
/// declaration without a body.
fn body_lines(lines: &[&str]) -> Option<usize> {
    let (mut depth, mut opened, mut in_string) = (0i32, false, false);
    for (index, line) in lines.iter().enumerate() {
        let code = strip_strings(line, &mut in_string);
        if !opened && code.trim_end().ends_with(';') && !code.contains('{') {
            return None;
        }
        for c in code.chars() {
            match c {
                '{' => (depth, opened) = (depth + 1, true),
                '}' => depth -= 1,
                _ => {}
            }
        }
        if opened && depth == 0 {
            return Some(index + 1);
        }
    }
    None
}

/// A line without its `//` comment and with its string and char literals emptied;
/// `in_string` carries a string literal over to the next line.
fn strip_strings(line: &str, in_string: &mut bool) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if *in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => *in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => *in_string = true,
            '\'' if chars.clone().nth(1) == Some('\'') => {
                chars.nth(1);
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn no_source_file_is_over_500_lines_and_no_function_over_70() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut too_long, mut functions_seen) = (Vec::new(), 0);
    for dir in ["actors/core/src", "actors/src", "src"] {
        for (file, code) in sources(&root.join(dir)) {
            functions_seen += functions(&code).len();
            let lines = code.lines().count();
            if lines > FILE_LINES_MAX {
                too_long.push(format!("{file}: {lines} lines"));
            }
            for (name, length) in functions(&code) {
                if length > FUNCTION_LINES_MAX {
                    too_long.push(format!("{file}: fn {name} is {length} lines"));
                }
            }
        }
    }
    assert!(
        functions_seen > 500,
        "only {functions_seen} functions found"
    );
    assert!(too_long.is_empty(), "split these: {too_long:#?}");
}

#[test]
fn the_length_check_sees_functions_and_skips_declarations_and_strings() {
    let code = "fn a() {\n    let s = \"}}\"; // }\n}\ntrait T {\n    fn b(&self);\n}\n\
                pub(crate) async fn c(\n    x: u8,\n) -> u8 {\n    x\n}\n\
                fn d() {\n    let q = \"{ \\\n    };\";\n}\n";
    let found = functions(code);
    let expected = [("a", 3), ("c", 5), ("d", 4)].map(|(name, lines)| (name.to_owned(), lines));
    assert_eq!(found, expected);
}
