//! A snapshot of the scheduler's counters and gauges
//! (`gort::runtime::metrics()`).

use crate::loom::Ordering::Relaxed;
use crate::sched::Shared;

/// Scheduler counters (since the runtime started) and gauges (now).
///
/// Gauges are read without stopping the world, each at a slightly different
/// instant, as Go's schedtrace does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Ms started (worker threads), parked or not.
    pub threads: usize,
    /// Ms parked with no P.
    pub idle_threads: usize,
    /// Ms holding a P and looking for work.
    pub spinning_threads: usize,
    /// Ps on the idle list.
    pub idle_procs: usize,
    /// Tasks in the global queue.
    pub global_queue_len: usize,
    /// Tasks in each P's local queue, `runnext` included.
    pub local_queue_lens: Vec<usize>,
    /// Successful steals (each moves a batch of tasks).
    pub steals: u64,
    /// Ps handed from an M blocked in a syscall to another M. Always 0 until
    /// `gort::syscall` hand-off lands.
    pub handoffs: u64,
    /// Ps retaken by sysmon. Always 0 until sysmon lands.
    pub sysmon_retakes: u64,
    /// Live threads of the `spawn_blocking` pool, idle or running a job.
    pub blocking_threads: usize,
    /// Live spawned tasks.
    pub tasks: usize,
    /// Polls of tasks, all Ps together.
    pub polls: u64,
    /// Polls of a task taken from `runnext`.
    pub runnext_hits: u64,
    /// Times an M parked.
    pub parks: u64,
    /// Times a parked M was handed a P.
    pub unparks: u64,
}

impl Metrics {
    pub(crate) fn collect(s: &Shared) -> Metrics {
        Metrics {
            threads: s.idle.nthreads.load(Relaxed),
            idle_threads: s.idle.nmidle.load(Relaxed),
            spinning_threads: s.idle.nmspinning.load(Relaxed),
            idle_procs: s.idle.npidle.load(Relaxed),
            global_queue_len: s.inject.len(),
            local_queue_lens: s.allp.iter().map(|p| p.len()).collect(),
            steals: s.stats.steals.load(Relaxed),
            handoffs: s.stats.handoffs.load(Relaxed),
            sysmon_retakes: s.stats.sysmon_retakes.load(Relaxed),
            blocking_threads: s.blocking.threads(),
            tasks: s.owned.len(),
            polls: s.allp.iter().map(|p| p.stats.polls.load(Relaxed)).sum(),
            runnext_hits: s
                .allp
                .iter()
                .map(|p| p.stats.runnext_hits.load(Relaxed))
                .sum(),
            parks: s.stats.parks.load(Relaxed),
            unparks: s.stats.unparks.load(Relaxed),
        }
    }
}
