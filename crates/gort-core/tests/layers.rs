//! gort-core's layers point one way: no import circle between files of
//! different layers (`docs/architecture.md`, "Layers").
//!
//! The check reads `src/` as text. Each file is a module (`a/b.rs` and
//! `a/b/mod.rs` are `a::b`); an edge goes from a file to the file of every
//! module its paths name: `crate::…`, `super::…`, `self::…` in `use`
//! declarations (braces expanded, `{a::b, c}` naming `a::b` and `c`) and in
//! expressions, and, in a folder's `mod.rs`, `use child::…`. A path names
//! the deepest module it spells (`crate::time::clock::now_nanos` is
//! `time/clock.rs`; `crate::time::Instant` is `time/mod.rs`). Comments,
//! string literals and `#[cfg(test)]` modules at the end of a file are left
//! out; declaring a child (`mod x;`) is not an edge. A layer is a folder
//! of `src/` with the folders inside it (`sched/worker/` is the scheduler's,
//! split by stage); the crate root's files are one each. Circles inside
//! one layer are allowed (each file's header says why); the test prints
//! every circle it finds and fails on one that spans layers, or on a file
//! of `io/`, `time/`, `blocking/`, `task/` or `sched/` that names `rt.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `a/b.rs` and `a/b/mod.rs` are `[a, b]`; `lib.rs` is `[]`.
fn module_of(rel: &Path) -> Module {
    let mut parts: Module = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text without comments, string and char literals, and without a
/// trailing inline test module (`#[cfg(..test..)]` followed by `mod tests {`;
/// a `mod tests;` declaration is left, and so is everything after it).
fn code_of(src: &str) -> String {
    let mut cut = src.len();
    let mut from = 0;
    while let Some(j) = src[from..].find("mod tests {") {
        let at = from + j;
        from = at + 1;
        let before = src[..at].trim_end();
        if before.ends_with(")]") {
            if let Some(attr) = before.rfind("#[cfg(") {
                if before[attr..].contains("test") {
                    cut = attr;
                    break;
                }
            }
        }
    }
    let src = &src[..cut];
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i + 1 < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x' or '\n'); a lifetime has no closing quote.
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every path spelled in `tree` (a `use` tree: `a::b::{c, d::e}`), as
/// segments.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Module>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let mut p = prefix.to_vec();
        p.extend(head);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        // Split at top-level commas.
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &p, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &p, out);
    } else {
        let tree = tree.split(" as ").next().unwrap_or("");
        let mut p = prefix.to_vec();
        p.extend(
            tree.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "*")
                .map(String::from),
        );
        if !p.is_empty() {
            out.push(p);
        }
    }
}

/// The paths a file's code names: `use` trees (then blanked out), then
/// inline paths in what is left.
fn paths_of(code: &str) -> Vec<Module> {
    let mut out = Vec::new();
    let mut code = code.to_string();
    let mut from = 0;
    while let Some(j) = code[from..].find("use ") {
        let i = from + j;
        from = i + 4;
        if code[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let end = code[from..].find(';').map_or(code.len(), |e| from + e);
        expand(&code[from..end], &[], &mut out);
        code.replace_range(i..end, &" ".repeat(end - i));
    }
    let code = code.as_str();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    // Inline `ident::…` paths too: the caller keeps those whose first
    // segment is a child module of a folder's mod.rs.
    let mut from = 0;
    while let Some(j) = code[from..].find("::") {
        let at = from + j;
        from = at + 2;
        let start = code[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_ident(c))
            .last()
            .map_or(at, |(i, _)| i);
        if start == at || code[..start].ends_with("::") {
            continue;
        }
        let path: String = code[start..]
            .chars()
            .take_while(|&c| is_ident(c) || c == ':')
            .collect();
        let segs: Module = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if !matches!(segs[0].as_str(), "crate" | "super" | "self") {
            out.push(segs);
        }
    }
    for kw in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(j) = code[from..].find(kw) {
            let at = from + j;
            from = at + kw.len();
            if code[..at]
                .chars()
                .last()
                .is_some_and(|c| is_ident(c) || c == ':')
            {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            out.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn no_import_circle_spans_two_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: BTreeMap<Module, PathBuf> = BTreeMap::new();
    for f in &files {
        modules.insert(module_of(f.strip_prefix(&src).unwrap()), f.clone());
    }
    let reexports = reexports_of(&modules);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (me, file) in &modules {
        if me.iter().any(|s| s == "loom_tests" || s == "tests") {
            continue;
        }
        let is_dir = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let parent: Module = me[..me.len().saturating_sub(1)].to_vec();
        let here: Module = if is_dir { me.clone() } else { parent.clone() };
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for path in paths_of(&code) {
            let mut base: Module = match path[0].as_str() {
                "crate" => Vec::new(),
                "self" => here.clone(),
                "super" => parent.clone(),
                // A child of a folder's mod.rs (`use sleep::Sleep`,
                // `worker::spawn_m(..)`).
                first
                    if is_dir
                        && modules.contains_key(&[here.clone(), vec![first.into()]].concat()) =>
                {
                    here.clone()
                }
                _ => continue,
            };
            let mut segs = &path[..];
            if matches!(segs[0].as_str(), "crate" | "self" | "super") {
                segs = &segs[1..];
            }
            while segs.first().is_some_and(|s| s == "super") {
                base.pop();
                segs = &segs[1..];
            }
            let full: Module = [base, segs.to_vec()].concat();
            let target = resolve(&full, &modules, &reexports, 0);
            if let Some(t) = target {
                if &t != me && !t.is_empty() {
                    edges.entry(me.clone()).or_default().insert(t);
                }
            }
        }
    }
    let circles = strongly_connected(&modules.keys().cloned().collect::<Vec<_>>(), &edges);
    // The layer: the first folder under src/, or the file itself at the root.
    let folder = |m: &Module| -> PathBuf {
        let rel = modules[m].strip_prefix(&src).unwrap();
        rel.components().next().unwrap().as_os_str().into()
    };
    let mut crossing = Vec::new();
    for c in &circles {
        let names: Vec<String> = c
            .iter()
            .map(|m| modules[m].strip_prefix(&src).unwrap().display().to_string())
            .collect();
        let folders: BTreeSet<PathBuf> = c.iter().map(folder).collect();
        println!("circle ({} layer(s)): {names:?}", folders.len());
        if folders.len() > 1 {
            for a in c {
                for b in edges.get(a).into_iter().flatten() {
                    if c.contains(b) && folder(a) != folder(b) {
                        println!("    {} -> {}", modules[a].display(), modules[b].display());
                    }
                }
            }
            crossing.push(names);
        }
    }
    // The user's face is the top: nothing below it names it.
    let face: Module = vec!["rt".into()];
    let upward: Vec<String> = edges
        .iter()
        .filter(|(from, to)| {
            from.first()
                .is_some_and(|l| ["io", "time", "blocking", "task", "sched"].contains(&l.as_str()))
                && to.contains(&face)
        })
        .map(|(from, _)| {
            modules[from]
                .strip_prefix(&src)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert!(
        upward.is_empty(),
        "files below rt.rs that import it: {upward:?}"
    );
    assert!(
        crossing.is_empty(),
        "import circles across layers: {crossing:?}"
    );
}

/// For each folder module (`mod.rs`, `lib.rs`): the items it re-exports
/// (`pub use a::b::Item;`, `pub(crate) use …`), by the name they go by
/// there, with the path they come from (absolute).
fn reexports_of(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<(Module, String), Module> {
    let mut out = BTreeMap::new();
    for (me, file) in modules {
        if !file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs")
        {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for stmt in code.split(';') {
            let Some(i) = stmt.find("use ") else {
                continue;
            };
            if !stmt[..i].trim().starts_with("pub") {
                continue;
            }
            let mut paths = Vec::new();
            expand(&stmt[i + 4..], &[], &mut paths);
            for p in paths {
                let name = p.last().cloned().unwrap_or_default();
                let from: Module = match p[0].as_str() {
                    "crate" => p[1..].to_vec(),
                    "self" => [me.clone(), p[1..].to_vec()].concat(),
                    "super" => {
                        [me[..me.len().saturating_sub(1)].to_vec(), p[1..].to_vec()].concat()
                    }
                    _ => [me.clone(), p.clone()].concat(),
                };
                out.insert((me.clone(), name), from);
            }
        }
    }
    out
}

/// The module a path names: its deepest module prefix, followed through a
/// folder module's re-export of the next segment (`crate::Handle` is
/// `rt.rs`'s, and on to `sched/handle.rs`).
fn resolve(
    path: &[String],
    modules: &BTreeMap<Module, PathBuf>,
    reexports: &BTreeMap<(Module, String), Module>,
    depth: usize,
) -> Option<Module> {
    let n = (0..=path.len())
        .rev()
        .find(|&n| modules.contains_key(&path[..n]))?;
    let m = path[..n].to_vec();
    if depth < 8 && n < path.len() {
        if let Some(from) = reexports.get(&(m.clone(), path[n].clone())) {
            if from.as_slice() != path {
                let mut next = from.clone();
                next.extend_from_slice(&path[n + 1..]);
                if let Some(t) = resolve(&next, modules, reexports, depth + 1) {
                    return Some(t);
                }
            }
        }
    }
    Some(m)
}

/// Tarjan's algorithm: the strongly connected components of more than one
/// module.
fn strongly_connected(
    nodes: &[Module],
    edges: &BTreeMap<Module, BTreeSet<Module>>,
) -> Vec<Vec<Module>> {
    struct S<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit(s: &mut S<'_>, v: &Module) {
        s.index.insert(v.clone(), s.next);
        s.low.insert(v.clone(), s.next);
        s.next += 1;
        s.stack.push(v.clone());
        let succ: Vec<Module> = s.edges.get(v).into_iter().flatten().cloned().collect();
        for w in &succ {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for n in nodes {
        if !s.index.contains_key(n) {
            visit(&mut s, n);
        }
    }
    s.out
}
