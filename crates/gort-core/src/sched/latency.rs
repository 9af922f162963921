//! Scheduling latency: how long a task waits in a run queue, runnable,
//! before an M polls it (Go's `/sched/latencies:seconds` metric).
//!
//! # Sampling
//!
//! Go tracks one in eight transitions of each goroutine to runnable
//! (`gTrackingPeriod`). Here each M counts the tasks it makes runnable and
//! stamps every [`SAMPLE_PERIOD`]th (32nd) with the clock in the task's header
//! (`Header::runnable_since`); a thread that is not an M (`block_on`, a
//! waker on a plain thread) counts in a thread-local instead, with the
//! same period: stamping each of its wake-ups read the clock on every
//! spawn from outside the runtime (`spawn_many_remote`'s whole workload).
//! When an M is about to poll a task, a stamped header
//! gives the wait, which goes into the polling P's histogram, and the
//! stamp is cleared. An unsampled wake-up costs one increment of an
//! M-local counter; an unsampled poll one load of a header field beside
//! the wait reason, which `execute` writes anyway.
//!
//! # Buckets
//!
//! Bucket `i` counts waits in `[2^i, 2^(i+1))` nanoseconds (bucket 0 also
//! counts waits under 1 ns); the last bucket is open above. Powers of two
//! are coarse, but a wait of 3 µs and one of 4 ms, the difference that
//! matters, never share a bucket.
//!
//! Each P's histogram is written only by the M that holds the P, with a
//! plain load and store (no read-modify-write). In the rare instant where
//! sysmon retakes a P from the middle of a poll, two Ms may both write it
//! and one count may be lost: a diagnostic tolerates that.

// std atomics even under loom: a diagnostic the models need not explore.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One wake-up in this many (per M) is timed. Go's 8 cost 1.3 % more
/// instructions on `chan_pingpong` (callgrind, `--procs 1 --child
/// chan_pingpong gort`: 128.5 M against 124.9 M without the metric), most
/// of it two clock reads per sample; 32 costs 1.2 % (126.4 M) and still
/// samples thousands of wake-ups a second on a busy runtime.
pub(crate) const SAMPLE_PERIOD: u32 = 32;

/// Whether the wake-up a thread that is not an M is making now is one to
/// time: every [`SAMPLE_PERIOD`]th on this thread.
#[inline]
pub(crate) fn sample_foreign_wakeup() -> bool {
    crate::loom::model_thread_local! {
        static TICK: std::cell::Cell<u32> = std::cell::Cell::new(0);
    }
    TICK.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n.is_multiple_of(SAMPLE_PERIOD)
    })
}

/// Buckets of [`LatencyHist`]: up to `2^39` ns (about 9 minutes), the last
/// one open above.
pub(crate) const BUCKETS: usize = 40;

/// A per-P histogram of sampled scheduling latencies.
pub(crate) struct LatencyHist {
    counts: [AtomicU64; BUCKETS],
}

impl Default for LatencyHist {
    fn default() -> Self {
        LatencyHist {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl LatencyHist {
    /// Counts one wait of `nanos`. Owner-only (module doc).
    pub(crate) fn record(&self, nanos: u64) {
        let c = &self.counts[bucket(nanos)];
        c.store(c.load(Relaxed) + 1, Relaxed);
    }

    /// Adds this histogram's counts into `into`.
    pub(crate) fn add_to(&self, into: &mut [u64; BUCKETS]) {
        for (sum, c) in into.iter_mut().zip(&self.counts) {
            *sum += c.load(Relaxed);
        }
    }
}

/// The bucket of a wait of `nanos`.
fn bucket(nanos: u64) -> usize {
    let log2 = 63 - (nanos | 1).leading_zeros() as usize;
    log2.min(BUCKETS - 1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(3), 1);
        assert_eq!(bucket(4), 2);
        assert_eq!(bucket(1023), 9);
        assert_eq!(bucket(1024), 10);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn record_counts_into_the_right_bucket() {
        let h = LatencyHist::default();
        h.record(5);
        h.record(6);
        h.record(4_000_000);
        let mut sum = [0; BUCKETS];
        h.add_to(&mut sum);
        assert_eq!(sum[2], 2);
        assert_eq!(sum[bucket(4_000_000)], 1);
        assert_eq!(sum.iter().sum::<u64>(), 3);
    }
}
