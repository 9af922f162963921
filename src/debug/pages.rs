//! The HTML of the index page, `/debug/gort/`, and the frame every page
//! shares.
//!
//! Pages are written as strings, with every value that comes from the
//! program (task names, file paths, thread names) passed through
//! [`escape`]. Each page is self-contained, as the issue asks: one inline
//! stylesheet, no script, no font or image from elsewhere, so it renders
//! the same on a machine with no network. The index refreshes itself with
//! `<meta http-equiv="refresh">` (default every 5 s, `?refresh=N`, 0 for
//! never), as a live dashboard without JavaScript.
//!
//! The index shows what Go's pprof index and `schedtrace` show together:
//! the tasks by wait reason (how many, and the one waiting longest, from
//! the goroutine dump), each P's local queue, the Ms (one row each, as
//! `scheddetail` prints them: state, P held, task being polled; then the
//! counts by state), and sysmon's and the scheduler's counters, from
//! [`Metrics`]. The trace view has one lane per M.

use std::fmt::Write as _;

use super::goroutines::{self, Goroutine};
use crate::runtime::{MState, Metrics};

/// `s` with `& < > " '` escaped, for HTML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
    table{border-collapse:collapse;margin:0.5em 0 1.5em}\
    td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}\
    th{background:#eee}td.n{text-align:right}\
    .swatch{display:inline-block;width:10px;height:10px;margin-right:5px}\
    .warn{color:#a00}code{font-size:12px}";

/// A whole page: `title`, an optional refresh period in seconds, `body`.
pub(crate) fn page(title: &str, refresh: Option<u64>, body: &str) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    if let Some(s) = refresh {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{s}\">");
    }
    let _ = write!(
        out,
        "<title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    );
    out
}

/// The index page, from a dump and a metrics snapshot.
pub(crate) fn index(dump: &str, m: &Metrics, refresh: Option<u64>) -> String {
    let gs: Vec<Goroutine> = goroutines::parse(dump);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>gort runtime</h1>\n<p>{} tasks (the <code>block_on</code> futures included), \
         {} Ps, {} Ms. Pages: <a href=\"goroutine?debug=1\">goroutines</a> \
         (<a href=\"goroutine?debug=2\">full dump</a>), <a href=\"metrics\">metrics</a>, \
         <a href=\"trace?seconds=1\">trace (1 s, JSON)</a>, \
         <a href=\"trace/view?seconds=1\">timeline (1 s)</a>.{}</p>",
        gs.len(),
        m.local_queue_lens.len(),
        m.threads,
        refresh.map_or(String::new(), |s| format!(" Refreshes every {s} s.")),
    );

    b.push_str(
        "<h2>Tasks by wait reason</h2>\n<table id=\"tasks\"><tr><th>reason</th><th>tasks</th>\
         <th>oldest: task</th><th>name</th><th>waiting for</th><th>spawned at</th></tr>\n",
    );
    for g in goroutines::by_reason(&gs) {
        let o = g.oldest;
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td><code>{}</code></td></tr>",
            escape(g.reason),
            g.count,
            o.id,
            escape(o.name.as_deref().unwrap_or("")),
            o.age_ms.map_or("-".to_string(), |a| format!("{a} ms")),
            escape(&o.site),
        );
    }
    b.push_str("</table>\n");

    b.push_str(
        "<h2>Ps</h2>\n<table id=\"ps\"><tr><th>P</th><th>local queue (runnext included)</th></tr>\n",
    );
    for (p, len) in m.local_queue_lens.iter().enumerate() {
        let _ = writeln!(b, "<tr><td>P{p}</td><td class=\"n\">{len}</td></tr>");
    }
    let _ = writeln!(
        b,
        "<tr><td>global queue</td><td class=\"n\">{}</td></tr>\n\
         <tr><td>idle Ps</td><td class=\"n\">{}</td></tr>\n</table>",
        m.global_queue_len, m.idle_procs
    );

    b.push_str(
        "<h2>Ms</h2>\n<table id=\"ms\"><tr><th>M</th><th>state</th><th>P</th><th>task</th></tr>\n",
    );
    for t in &m.ms {
        let state = match t.state {
            MState::Running => "running",
            MState::Spinning => "spinning",
            MState::Syscall => "syscall",
            MState::Idle => "idle",
            _ => "other",
        };
        let p = t.p.map_or("-".to_string(), |p| format!("P{p}"));
        let task = t.task.map_or("-".to_string(), |id| id.to_string());
        let _ = writeln!(
            b,
            "<tr class=\"m\"><td>M{}</td><td>{state}</td><td>{p}</td><td class=\"n\">{task}</td></tr>",
            t.id
        );
    }
    b.push_str("</table>\n");
    let running = m
        .threads
        .saturating_sub(m.idle_threads)
        .saturating_sub(m.spinning_threads);
    let _ = writeln!(
        b,
        "<table id=\"m-counts\"><tr><th>Ms by state</th><th>Ms</th></tr>\n\
         <tr><td>running (holding a P, in a poll or a syscall)</td><td class=\"n\">{running}</td></tr>\n\
         <tr><td>spinning (holding a P, looking for work)</td><td class=\"n\">{}</td></tr>\n\
         <tr><td>idle (parked, no P)</td><td class=\"n\">{}</td></tr>\n\
         <tr><td>started, in all</td><td class=\"n\">{}</td></tr>\n\
         <tr><td>spawn_blocking threads</td><td class=\"n\">{}</td></tr>\n</table>",
        m.spinning_threads, m.idle_threads, m.threads, m.blocking_threads
    );

    let p99 = m
        .sched_latencies
        .quantile(0.99)
        .map_or("-".to_string(), |d| format!("{d:?}"));
    let rows: [(&str, String); 11] = [
        (
            "sysmon retakes (long syscall or long poll)",
            m.sysmon_retakes.to_string(),
        ),
        ("sysmon timer rescues", m.timer_rescues.to_string()),
        (
            "handoffs (P from an M in a syscall)",
            m.handoffs.to_string(),
        ),
        ("steals", m.steals.to_string()),
        ("polls", m.polls.to_string()),
        ("runnext hits", m.runnext_hits.to_string()),
        ("M parks", m.parks.to_string()),
        ("M unparks", m.unparks.to_string()),
        ("netpoll spins", m.netpoll_spins.to_string()),
        (
            "scheduling latency samples",
            m.sched_latencies.count().to_string(),
        ),
        ("scheduling latency p99 (bucket edge)", p99),
    ];
    b.push_str("<h2>Sysmon and scheduler counters</h2>\n<table id=\"counters\">\n");
    for (k, v) in rows {
        let _ = writeln!(
            b,
            "<tr><td>{k}</td><td class=\"n\">{}</td></tr>",
            escape(&v)
        );
    }
    b.push_str("</table>\n");
    page("gort runtime", refresh, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn index_lists_reasons_ps_and_ms() {
        let dump = "goroutine 3 [sleep, 9 ms] <b>:\n\tspawned at src/x.rs:1\n\n";
        // `Metrics` is non-exhaustive: no struct expression outside gort-core.
        let mut m = Metrics::default();
        m.local_queue_lens = vec![2, 5];
        m.threads = 3;
        m.idle_threads = 1;
        let html = index(dump, &m, Some(5));
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(html.contains("<td>sleep</td><td class=\"n\">1</td>"));
        assert!(html.contains("&lt;b&gt;"), "names are escaped");
        assert!(html.contains("<tr><td>P1</td><td class=\"n\">5</td></tr>"));
        assert!(html.contains("looking for work)</td><td class=\"n\">0</td>"));
        assert!(!html.contains("<script"));
    }
}
