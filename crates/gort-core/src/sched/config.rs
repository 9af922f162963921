//! The runtime's configuration, as `Builder::build` settled it: what every
//! layer below the user's API reads (the scheduler, the offload pool, the
//! trace), kept apart from `rt.rs` so that none of them imports the API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::blocking::pool::PoolConfig;

/// A hook run on a runtime thread (`Builder::on_thread_start`, `on_thread_stop`).
pub(crate) type Hook = Arc<dyn Fn() + Send + Sync + 'static>;
/// Names a runtime thread (`Builder::thread_name_fn`).
pub(crate) type NameFn = Arc<dyn Fn() -> String + Send + Sync + 'static>;

/// What the user asked to run on, and call, every thread the runtime
/// starts (Ms, sysmon, offload threads), not the thread in `block_on`.
#[derive(Clone, Default)]
pub(crate) struct ThreadHooks {
    /// Runs on the new thread, runtime entered, before any work.
    pub(crate) start: Option<Hook>,
    /// Runs on the thread as its last act, runtime still entered.
    pub(crate) stop: Option<Hook>,
    /// Names each new thread, in place of the `thread_name` prefix.
    pub(crate) name: Option<NameFn>,
}

impl ThreadHooks {
    /// The name of a thread about to start: `name_fn`'s, else `default`.
    pub(crate) fn thread_name(&self, default: impl FnOnce() -> String) -> String {
        match &self.name {
            Some(f) => f(),
            None => default(),
        }
    }

    /// Runs the start hook, if any (on the new thread).
    pub(crate) fn on_start(&self) {
        if let Some(f) = &self.start {
            f();
        }
    }

    /// Runs the stop hook, if any (on the exiting thread).
    pub(crate) fn on_stop(&self) {
        if let Some(f) = &self.stop {
            f();
        }
    }
}

impl fmt::Debug for ThreadHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadHooks")
            .field("start", &self.start.is_some())
            .field("stop", &self.stop.is_some())
            .field("name", &self.name.is_some())
            .finish()
    }
}

/// Everything `Builder` settles, for the layers below it.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `gomaxprocs` at start (`set_gomaxprocs` changes it later).
    pub(crate) procs: usize,
    /// `procs` is the default (no `procs(n)`, no `GORT_MAXPROCS`): sysmon
    /// follows the cgroup CPU limit (`procresize.rs`).
    pub(crate) procs_by_default: bool,
    pub(crate) max_threads: usize,
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
    /// `GORT_DEBUG`, read when the runtime is built.
    pub(crate) debug: DebugFlags,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) detect_deadlock: bool,
    /// The runtime is a synctest bubble (`crate::synctest`).
    pub(crate) synctest: bool,
    pub(crate) netpoll_spin: Duration,
    /// `on_thread_start`, `on_thread_stop`, `thread_name_fn`.
    pub(crate) hooks: ThreadHooks,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DebugFlags {
    pub(crate) schedtrace_ms: u64,
    pub(crate) scheddetail: bool,
    /// `trace=PATH`: the execution trace of the runtime's whole life into
    /// `PATH` (`exectrace`).
    pub(crate) trace: Option<std::path::PathBuf>,
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
            if k.trim() == "trace" && !v.trim().is_empty() {
                f.trace = Some(v.trim().into());
                continue;
            }
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
