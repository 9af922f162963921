//! `GORT_DEBUG=schedtrace=MS[,scheddetail=1]`: Go's scheduler trace,
//! printed by sysmon to stderr every MS milliseconds.
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=1 idlethreads=1 runqueue=0 [2 0]
//! ```
//!
//! With `scheddetail=1`, one line per P and one per M follow, in the
//! spirit of Go's (`P0: status=1 schedtick=.. runqsize=..`, `M2: p=0
//! curg=17 spinning=false blocked=false`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use super::config::Config;
use super::p::state;
use super::Shared;
use crate::loom::lock;

/// One M, as `scheddetail` shows it. Relaxed: a diagnostic.
#[derive(Debug)]
pub(crate) struct MInfo {
    pub(crate) id: usize,
    /// The P held, or `usize::MAX`.
    pub(crate) p: AtomicUsize,
    pub(crate) spinning: AtomicBool,
    /// In `gort::syscall` (its P lent), or waiting for a P after one.
    pub(crate) blocked: AtomicBool,
}

impl MInfo {
    pub(crate) fn new(id: usize) -> MInfo {
        MInfo {
            id,
            p: AtomicUsize::new(usize::MAX),
            spinning: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
        }
    }
}

pub(crate) struct Trace {
    period_ns: u64,
    detail: bool,
    start: u64,
    next: u64,
}

impl Trace {
    pub(crate) fn from_config(c: &Config, start: u64) -> Option<Trace> {
        (c.debug.schedtrace_ms > 0).then(|| Trace {
            period_ns: c.debug.schedtrace_ms * 1_000_000,
            detail: c.debug.scheddetail,
            start,
            next: start + c.debug.schedtrace_ms * 1_000_000,
        })
    }

    pub(crate) fn tick(&mut self, shared: &Shared, now: u64) {
        if now < self.next {
            return;
        }
        self.next = now + self.period_ns;
        eprint!("{}", render(shared, now - self.start, self.detail));
    }
}

/// The trace lines for one tick.
pub(crate) fn render(shared: &Shared, since_start_ns: u64, detail: bool) -> String {
    let idle = &shared.idle;
    let lens: Vec<String> = shared
        .allp
        .active(shared.procs())
        .map(|p| p.len().to_string())
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={} [{}]",
        since_start_ns / 1_000_000,
        shared.procs(),
        idle.npidle.load(Relaxed),
        idle.nthreads.load(Relaxed),
        idle.nmspinning.load(Relaxed),
        idle.nmidle.load(Relaxed),
        shared.inject.len(),
        lens.join(" "),
    );
    if !detail {
        return out;
    }
    for p in shared.allp.iter() {
        let word = p.status.load(Relaxed);
        let _ = writeln!(
            out,
            "  P{}: status={} schedtick={} polls={} runqsize={} timers={}",
            p.id,
            state(word),
            p.schedtick.load(Relaxed),
            p.stats.polls.load(Relaxed),
            p.len(),
            p.timers.len(),
        );
    }
    for m in lock(&shared.ms).iter() {
        let p = m.p.load(Relaxed);
        // The task its P polls last or now (a per-M store per poll would
        // cost the hot path for a diagnostic).
        let curg = if p < shared.allp.len() {
            shared.allp[p].polling_task.load(Relaxed)
        } else {
            0
        };
        let _ = writeln!(
            out,
            "  M{}: p={} curg={} spinning={} blocked={}",
            m.id,
            if p == usize::MAX { -1 } else { p as i64 },
            curg,
            m.spinning.load(Relaxed),
            m.blocked.load(Relaxed),
        );
    }
    out
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::config::DebugFlags;

    #[test]
    fn parses_like_godebug() {
        assert_eq!(
            DebugFlags::parse("schedtrace=1000,scheddetail=1"),
            DebugFlags {
                schedtrace_ms: 1000,
                scheddetail: true,
                trace: None,
            }
        );
        assert_eq!(
            DebugFlags::parse("schedtrace=5,trace=/tmp/t.json").trace,
            Some("/tmp/t.json".into())
        );
        assert_eq!(
            DebugFlags::parse("schedtrace=x,foo=1,,"),
            DebugFlags::default()
        );
        assert_eq!(DebugFlags::parse(" schedtrace = 5 ").schedtrace_ms, 5);
    }
}
