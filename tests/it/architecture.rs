//! The README's rules about imports, checked on the source itself: no top-level module of
//! `actors/src` or `src/` imports one that imports it back, and actors know one another only
//! through `protocol/` (the kernel names the actors it spawns).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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
    for dir in ["actors/src", "src"] {
        let graph = imports(&root.join(dir));
        assert!(graph.len() > 5, "{dir}: {graph:?}");
        assert_eq!(a_loop(&graph), None, "an import loop in {dir}");
    }
}

#[test]
fn actors_know_one_another_only_through_the_protocol() {
    let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/src"));
    // The engines are folders (`incidents/`, `playbooks/` with its sub-agents); the other
    // actors are one file each.
    let is_actor = |m: &str| m.ends_with("_actor") || ["incidents", "playbooks"].contains(&m);
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
