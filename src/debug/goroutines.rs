//! The goroutine dump read back into records, and Go's `goroutine?debug=1`
//! text made from them.
//!
//! gort-core prints its dump ([`runtime::dump`](crate::runtime::dump)) as
//! Go prints `runtime.Stack(buf, true)`: one block per task,
//!
//! ```text
//! goroutine 17 [chan receive, 3 ms] worker:
//!     spawned at src/main.rs:12   (a tab, then the site)
//! ```
//!
//! and that text is the only view of the live tasks it makes public, so the
//! pages parse it: [`parse`] turns each block into a [`Goroutine`] (id,
//! state or wait reason, how long it has waited, name, spawn site). A line
//! that is not a block's header is skipped, so a dump from a newer gort
//! with more lines still parses. `goroutine 0` is a `block_on` future,
//! whose site line says `block_on at` instead of `spawned at`.
//!
//! [`profile`] groups the records by (reason, spawn site), as Go's
//! `debug=1` groups goroutines by identical stack: the most common group
//! first, ties by reason then site, so the output is stable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One task of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Goroutine {
    /// The task id (0: a `block_on` future).
    pub(crate) id: u64,
    /// The wait reason (`chan receive`), or the state (`running`,
    /// `runnable`, `waiting`).
    pub(crate) reason: String,
    /// Milliseconds waited in `reason`, when the dump says.
    pub(crate) age_ms: Option<u64>,
    /// The task's name (`task::Builder::name`); `main` for goroutine 0.
    pub(crate) name: Option<String>,
    /// `file:line` of the spawn (or of `block_on`).
    pub(crate) site: String,
}

/// Parses `dump`'s blocks.
pub(crate) fn parse(dump: &str) -> Vec<Goroutine> {
    let mut out = Vec::new();
    let mut lines = dump.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(mut g) = header(line) else { continue };
        if let Some(next) = lines.peek() {
            let next = next.trim_start();
            if let Some(site) = next
                .strip_prefix("spawned at ")
                .or_else(|| next.strip_prefix("block_on at "))
            {
                g.site = site.trim().to_string();
                lines.next();
            }
        }
        out.push(g);
    }
    out
}

/// `goroutine N [reason(, M ms)?]( name)?:`, the site left empty.
fn header(line: &str) -> Option<Goroutine> {
    let rest = line.strip_prefix("goroutine ")?;
    let (id, rest) = rest.split_once(" [")?;
    let id = id.parse().ok()?;
    let (inside, rest) = rest.split_once(']')?;
    let name = rest.strip_suffix(':')?.trim();
    let (reason, age_ms) = match inside.rsplit_once(", ") {
        Some((r, age)) if age.ends_with(" ms") => {
            (r, age.trim_end_matches(" ms").trim().parse().ok())
        }
        _ => (inside, None),
    };
    Some(Goroutine {
        id,
        reason: reason.to_string(),
        age_ms,
        name: (!name.is_empty()).then(|| name.to_string()),
        site: String::new(),
    })
}

/// The tasks of one wait reason: how many, and the one waiting longest
/// (the lowest id where the dump gives no age).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReasonGroup<'a> {
    pub(crate) reason: &'a str,
    pub(crate) count: usize,
    pub(crate) oldest: &'a Goroutine,
}

/// `gs` grouped by reason, the largest group first.
pub(crate) fn by_reason(gs: &[Goroutine]) -> Vec<ReasonGroup<'_>> {
    let mut groups: BTreeMap<&str, (usize, &Goroutine)> = BTreeMap::new();
    for g in gs {
        let e = groups.entry(&g.reason).or_insert((0, g));
        e.0 += 1;
        let older = (g.age_ms.unwrap_or(0), std::cmp::Reverse(g.id))
            > (e.1.age_ms.unwrap_or(0), std::cmp::Reverse(e.1.id));
        if older {
            e.1 = g;
        }
    }
    let mut v: Vec<_> = groups
        .into_iter()
        .map(|(reason, (count, oldest))| ReasonGroup {
            reason,
            count,
            oldest,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(b.reason)));
    v
}

/// Go's `goroutine?debug=1`: `goroutine profile: total N`, then one line
/// `N [reason] file:line` per (reason, spawn site).
pub(crate) fn profile(gs: &[Goroutine]) -> String {
    let mut groups: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for g in gs {
        *groups.entry((&g.reason, &g.site)).or_default() += 1;
    }
    let mut v: Vec<_> = groups.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = format!("goroutine profile: total {}\n", gs.len());
    for ((reason, site), n) in v {
        let _ = writeln!(out, "{n} [{reason}] {site}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "goroutine 0 [running] main:\n\tblock_on at src/main.rs:3\n\n\
        goroutine 5 [chan receive, 12 ms] worker:\n\tspawned at src/a.rs:10\n\n\
        goroutine 6 [chan receive, 40 ms]:\n\tspawned at src/a.rs:10\n\n\
        goroutine 7 [runnable]:\n\tspawned at src/b.rs:2\n\n\
        goroutine 8 [IO wait, 1 ms] conn, 1:\n\tspawned at src/c.rs:7\n\n";

    #[test]
    fn parses_every_block() {
        let gs = parse(DUMP);
        assert_eq!(gs.len(), 5);
        assert_eq!(
            gs[1],
            Goroutine {
                id: 5,
                reason: "chan receive".into(),
                age_ms: Some(12),
                name: Some("worker".into()),
                site: "src/a.rs:10".into(),
            }
        );
        assert_eq!(gs[0].site, "src/main.rs:3");
        assert_eq!(gs[0].name.as_deref(), Some("main"));
        assert_eq!(gs[3].reason, "runnable");
        assert_eq!(gs[3].age_ms, None);
        assert_eq!(gs[4].name.as_deref(), Some("conn, 1"));
        assert_eq!(gs[4].reason, "IO wait");
    }

    #[test]
    fn groups_by_reason_with_the_oldest() {
        let gs = parse(DUMP);
        let groups = by_reason(&gs);
        assert_eq!(groups[0].reason, "chan receive");
        assert_eq!(groups[0].count, 2);
        assert_eq!(groups[0].oldest.id, 6);
        assert_eq!(groups.len(), 4);
    }

    #[test]
    fn profile_has_one_line_per_reason_and_site() {
        let p = profile(&parse(DUMP));
        let lines: Vec<_> = p.lines().collect();
        assert_eq!(lines[0], "goroutine profile: total 5");
        assert_eq!(lines[1], "2 [chan receive] src/a.rs:10");
        assert_eq!(lines.len(), 5);
        assert!(lines.contains(&"1 [running] src/main.rs:3"));
    }
}
