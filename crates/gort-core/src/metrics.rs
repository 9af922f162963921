//! A snapshot of the scheduler's counters and gauges
//! (`gort::runtime::metrics()`).

use crate::loom::Ordering::Relaxed;
use std::time::Duration;

use crate::loom::lock;
use crate::sched::latency::BUCKETS;
use crate::sched::p::{state as state_of, PLOCKED, PPOLLING, PSYSCALL};
use crate::sched::trace::MInfo;
use crate::sched::Shared;
use crate::task::Id;

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
    /// Ps handed from an M blocked in `gort::syscall` to another M.
    pub handoffs: u64,
    /// Ps retaken by sysmon (from a long syscall or a long poll).
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
    /// Times the M about to block in the netpoller found work by polling
    /// without blocking first, and did not block
    /// ([`Builder::netpoll_spin`](crate::Builder::netpoll_spin)).
    pub netpoll_spins: u64,
    /// Rounds in which sysmon found a timer overdue by more than 2 ms and
    /// called for an M to fire it. An M watching the timers fires them when
    /// they are due, so this stays 0 unless every M was busy (timers run
    /// late under overload, and there is no idle M to call) or the M that
    /// watched them is stuck in a task's blocking poll
    /// (`docs/architecture.md`, "Timers").
    pub timer_rescues: u64,
    /// How long tasks waited, runnable, before an M polled them (Go's
    /// `/sched/latencies:seconds`), from a sample of one wake-up in 32 per M.
    pub sched_latencies: LatencyHistogram,
    /// Every M started, in start order: what `scheddetail` prints one line
    /// each of (`M2: p=0 curg=17 spinning=false blocked=false`).
    pub ms: Vec<MStatus>,
}

/// One M (worker thread) in a [`Metrics`] snapshot, as Go's
/// `scheddetail` shows it.
///
/// ```
/// let rt = gort_core::Builder::new().procs(2).build().unwrap();
/// rt.block_on(async { gort_core::spawn(async {}).await.unwrap() });
/// for m in rt.metrics().ms {
///     println!("M{}: {:?} p={:?} task={:?}", m.id, m.state, m.p, m.task);
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MStatus {
    /// The M's id (its trace track, `M<id>` in the dump's thread names).
    pub id: usize,
    /// What the M is doing.
    pub state: MState,
    /// The P it holds, if any.
    pub p: Option<usize>,
    /// The task its P is polling now (a poll in progress, a syscall in
    /// one included).
    pub task: Option<Id>,
}

/// What an M is doing, in a [`MStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MState {
    /// Holds a P and is not looking for work: polling a task, firing
    /// timers, or between the two.
    Running,
    /// Holds a P and is looking for work (Go's spinning M).
    Spinning,
    /// In `gort::syscall`, or waiting for a P after one. Its P is lent
    /// for the call, as Go's `entersyscall` lends it: the P stays with the
    /// call unless sysmon hands it to another M (`p` is `None` either way).
    Syscall,
    /// Holds no P: parked on the idle list, blocked in the netpoller, or
    /// on its way to one of them.
    Idle,
}

impl Metrics {
    pub(crate) fn collect(s: &Shared) -> Metrics {
        Metrics {
            threads: s.idle.nthreads.load(Relaxed),
            idle_threads: s.idle.nmidle.load(Relaxed),
            spinning_threads: s.idle.nmspinning.load(Relaxed),
            idle_procs: s.idle.npidle.load(Relaxed),
            global_queue_len: s.inject.len(),
            local_queue_lens: s.allp.active(s.procs()).map(|p| p.len()).collect(),
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
            netpoll_spins: s.stats.netpoll_spins.load(Relaxed),
            timer_rescues: s.stats.timer_rescues.load(Relaxed),
            sched_latencies: {
                let mut counts = [0; BUCKETS];
                for p in s.allp.iter() {
                    p.stats.sched_latency.add_to(&mut counts);
                }
                LatencyHistogram {
                    counts: counts.to_vec(),
                }
            },
            ms: lock(&s.ms).iter().map(|m| MStatus::of(s, m)).collect(),
        }
    }
}

impl MStatus {
    fn of(s: &Shared, m: &MInfo) -> MStatus {
        let p = Some(m.p.load(Relaxed)).filter(|&p| p < s.allp.len());
        let state = if m.blocked.load(Relaxed) {
            MState::Syscall
        } else if p.is_none() {
            MState::Idle
        } else if m.spinning.load(Relaxed) {
            MState::Spinning
        } else {
            MState::Running
        };
        // The P's word says whether a poll is in progress; its
        // `polling_task` is the last task polled either way. (An M in a
        // syscall shows no P: the task is the one of the P it lent.)
        let task = p.and_then(|p| {
            let p = &s.allp[p];
            let polling = matches!(
                state_of(p.status.load(Relaxed)),
                PPOLLING | PLOCKED | PSYSCALL
            );
            Some(p.polling_task.load(Relaxed))
                .filter(|&t| polling && t != 0)
                .map(Id)
        });
        MStatus {
            id: m.id,
            state,
            p,
            task,
        }
    }
}

/// A histogram of durations with power-of-two buckets: bucket `i` counts
/// durations in `[2^i, 2^(i+1))` nanoseconds; the last is open above.
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     gort_core::spawn(async {}).await.unwrap();
/// });
/// let lat = rt.metrics().sched_latencies;
/// if let Some(p99) = lat.quantile(0.99) {
///     println!("99% of sampled tasks waited under {p99:?} to run");
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// The count of each bucket, bucket 0 first.
    pub counts: Vec<u64>,
}

impl LatencyHistogram {
    /// The durations bucket `i` covers: `[lower, upper)`; `upper` is
    /// `None` for the last bucket.
    pub fn bucket_bounds(&self, i: usize) -> (Duration, Option<Duration>) {
        let lower = if i == 0 { 0 } else { 1u64 << i };
        let upper = (i + 1 < self.counts.len()).then(|| Duration::from_nanos(1u64 << (i + 1)));
        (Duration::from_nanos(lower), upper)
    }

    /// The samples taken after `earlier`, an earlier snapshot of the same
    /// runtime's histogram (the counts only grow).
    ///
    /// ```
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let before = rt.metrics().sched_latencies;
    /// rt.block_on(async { gort_core::spawn(async {}).await.unwrap() });
    /// let during = rt.metrics().sched_latencies.since(&before);
    /// assert!(during.count() <= rt.metrics().sched_latencies.count());
    /// ```
    pub fn since(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        let counts = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, &c)| c.saturating_sub(earlier.counts.get(i).copied().unwrap_or(0)))
            .collect();
        LatencyHistogram { counts }
    }

    /// Samples in all.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// An upper bound of the `q` quantile (`0.0..=1.0`): the upper edge of
    /// the bucket where it falls (the lower edge for the open last
    /// bucket). `None` with no samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lower, upper) = self.bucket_bounds(i);
                return Some(upper.unwrap_or(lower));
            }
        }
        unreachable!("rank <= total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_upper_edges() {
        let mut counts = vec![0; 40];
        counts[10] = 98; // [1024, 2048) ns
        counts[22] = 2; // [4.19, 8.39) ms
        let h = LatencyHistogram { counts };
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(Duration::from_nanos(2048)));
        assert_eq!(h.quantile(0.98), Some(Duration::from_nanos(2048)));
        assert_eq!(h.quantile(0.99), Some(Duration::from_nanos(1 << 23)));
        assert_eq!(h.quantile(0.0), Some(Duration::from_nanos(2048)));
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
        assert_eq!(
            h.bucket_bounds(0),
            (Duration::ZERO, Some(Duration::from_nanos(2)))
        );
        assert_eq!(h.bucket_bounds(39).1, None);
    }
}
