//! The module layering of `src/` (docs/design.md, "Layers and imports"): every top-level
//! module imports only from modules below it, so there is no cycle between them, and inside
//! the protocol modules no file imports from a file that imports it back.
//!
//! Run just this check with `cargo test --test integration layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Bottom to top. A module may import from modules before it in this list, never after.
/// The binary (main.rs, cli.rs, commands.rs, config.rs) sits above the library.
const LAYERS: &[&str] = &[
    "base",
    "capture",
    "net",
    "tcp",
    "tls",
    "http",
    "h2",
    "decode",
    "ws",
    "event",
    "conversation",
    "output",
    "threads",
    "lib",
    "bin",
];

/// Folders whose files must form a DAG among themselves (no file-level cycle). The connection
/// phases in `conversation/` are a state enum and its states, which name each other by design.
const ACYCLIC_INSIDE: &[&str] = &[
    "base", "capture", "net", "tcp", "tls", "http", "h2", "decode", "ws", "output",
];

/// A source file's module path, e.g. `src/ws/session.rs` → ["ws", "session"].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn top_layer(module: &[String]) -> &str {
    match module.first().map(String::as_str) {
        Some("main" | "cli" | "commands" | "config") => "bin",
        Some(m) => LAYERS.iter().find(|l| **l == m).copied().unwrap_or("?"),
        None => "?",
    }
}

/// Every module path a file names: `crate::a::b`, `wsdissect::a::b`, `super::a` (resolved
/// against the file's own module), including the items of `use x::{a, b::c}` groups.
fn referenced_paths(src: &str, module: &[String]) -> Vec<Vec<String>> {
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for root in ["crate::", "wsdissect::", "super::"] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(root) {
            let before = rest[..i].chars().last();
            rest = &rest[i + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // `super` is the enclosing module: the folder of a file, the parent of a mod.rs.
            let base: Vec<String> = match root {
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => Vec::new(),
            };
            for tail in path_tails(rest) {
                let mut p = base.clone();
                p.extend(tail);
                found.push(p);
            }
        }
    }
    found
}

/// The paths following a `root::` at the start of `s`: `a::b::C` or a `{…}` group.
fn path_tails(s: &str) -> Vec<Vec<String>> {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        let mut depth = 1;
        let end = group
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(group.len(), |(i, _)| i);
        let mut items = Vec::new();
        let mut d = 0;
        let mut start = 0;
        let inner = &group[..end];
        for (i, c) in inner.char_indices() {
            match c {
                '{' => d += 1,
                '}' => d -= 1,
                ',' if d == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[start..]);
        return items
            .into_iter()
            .flat_map(|item| path_tails(item.trim()))
            .collect();
    }
    let ident: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if ident.is_empty() {
        return Vec::new();
    }
    let tails = s[ident.len()..]
        .strip_prefix("::")
        .map(path_tails)
        .unwrap_or_default();
    if tails.is_empty() {
        return vec![vec![ident]];
    }
    tails
        .into_iter()
        .map(|mut t| {
            t.insert(0, ident.clone());
            t
        })
        .collect()
}

/// The longest known module that `path` starts with.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

struct Graph {
    /// module → modules it imports from.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(&root).unwrap()))
        .collect();
    let mut edges = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let module = module_of(rel);
        let src = fs::read_to_string(f).unwrap();
        let targets: BTreeSet<Vec<String>> = referenced_paths(&src, &module)
            .iter()
            .filter_map(|p| resolve(p, &modules))
            .filter(|t| *t != module)
            .collect();
        edges.insert(module, targets);
    }
    Graph { edges }
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let g = graph();
    let rank = |m: &[String]| LAYERS.iter().position(|l| *l == top_layer(m));
    let mut upward = Vec::new();
    for (from, tos) in &g.edges {
        let rf = rank(from).unwrap_or_else(|| panic!("{from:?} is in no layer: add it to LAYERS"));
        for to in tos {
            let rt = rank(to).unwrap();
            if rt > rf {
                upward.push(format!("{} imports {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a layer above:\n{}",
        upward.join("\n")
    );
}

#[test]
fn protocol_modules_have_no_import_cycles() {
    let g = graph();
    let inside = |m: &[String]| ACYCLIC_INSIDE.contains(&top_layer(m));
    // Depth-first search for a back edge among the files of the checked folders.
    fn visit(
        m: &Vec<String>,
        g: &Graph,
        inside: &dyn Fn(&[String]) -> bool,
        state: &mut BTreeMap<Vec<String>, u8>,
        path: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        state.insert(m.clone(), 1);
        path.push(m.clone());
        for to in g.edges.get(m).into_iter().flatten().filter(|t| inside(t)) {
            match state.get(to).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == to).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(to.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(to, g, inside, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in g.edges.keys().filter(|m| inside(m)) {
        if state.get(m).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(m, &g, &inside, &mut state, &mut Vec::new()) {
                let names: Vec<String> = cycle.iter().map(|p| p.join("::")).collect();
                panic!("import cycle: {}", names.join(" → "));
            }
        }
    }
}

#[test]
fn the_checker_sees_imports() {
    // A check that finds nothing because it parses nothing would pass forever.
    let g = graph();
    let session = vec!["ws".to_string(), "session".to_string()];
    let deps = &g.edges[&session];
    assert!(deps.contains(&vec!["ws".to_string(), "decoder".to_string()]));
    assert!(deps.contains(&vec!["base".to_string()]));
    let upgrade = vec!["conversation".to_string(), "upgrade".to_string()];
    assert!(g.edges[&upgrade].contains(&vec!["http".to_string()]));
    assert!(
        path_tails("{a::B, c::{D, e::F}}")
            == vec![
                vec!["a".to_string(), "B".to_string()],
                vec!["c".to_string(), "D".to_string()],
                vec!["c".to_string(), "e".to_string(), "F".to_string()]
            ]
    );
}
