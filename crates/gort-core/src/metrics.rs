//! A snapshot of the scheduler's counters and gauges
//! (`gort::runtime::metrics()`).

use crate::loom::Ordering::Relaxed;
use std::time::Duration;

use crate::sched::latency::BUCKETS;
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
