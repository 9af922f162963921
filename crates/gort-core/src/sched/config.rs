//! The runtime's configuration, as `Builder::build` settled it: what every
//! layer below the user's API reads (the scheduler, the offload pool, the
//! trace), kept apart from `rt.rs` so that none of them imports the API.

use std::time::Duration;

use crate::blocking::pool::PoolConfig;

/// Everything `Builder` settles, for the layers below it.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) procs: usize,
    pub(crate) max_threads: usize,
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    /// `GORT_DEBUG`, read when the runtime is built.
    pub(crate) debug: DebugFlags,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) detect_deadlock: bool,
    pub(crate) netpoll_spin: Duration,
}

impl Config {
    /// The `spawn_blocking` pool's share of the configuration.
    pub(crate) fn blocking_pool(&self) -> PoolConfig {
        PoolConfig {
            cap: self.max_blocking_threads,
            keep_alive: self.blocking_keep_alive,
            name: self.thread_name.clone(),
            stack_size: self.stack_size,
        }
    }
}

/// What `GORT_DEBUG` asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DebugFlags {
    pub(crate) schedtrace_ms: u64,
    pub(crate) scheddetail: bool,
}

impl DebugFlags {
    /// Parses `GORT_DEBUG` (`name=value` pairs, comma-separated, as Go's
    /// `GODEBUG`); unknown names and bad values are ignored, as Go does.
    pub(crate) fn parse(v: &str) -> DebugFlags {
        let mut f = DebugFlags::default();
        for kv in v.split(',') {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            match (k.trim(), v.trim().parse::<u64>()) {
                ("schedtrace", Ok(ms)) => f.schedtrace_ms = ms,
                ("scheddetail", Ok(d)) => f.scheddetail = d != 0,
                _ => {}
            }
        }
        f
    }

    pub(crate) fn from_env() -> DebugFlags {
        std::env::var("GORT_DEBUG")
            .map(|v| DebugFlags::parse(&v))
            .unwrap_or_default()
    }
}
