//! `timers`: many short sleeps at once, and how late they wake.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::System;

/// Sleeping tasks per round (Go: `timerCount`).
const TIMERS: usize = 100_000;
/// The sleeps are whole milliseconds in `MIN_MS..=MAX_MS` (Go:
/// `timerMinMs`, `timerMaxMs`).
const MIN_MS: u64 = 1;
const MAX_MS: u64 = 50;
/// The seed of the duration sequence. Go's twin draws from `math/rand`
/// with its own seed; the distributions match, the exact sequences do not.
const SEED: u64 = 42;

/// Shared by the sleeping tasks: the latch and one lateness slot per task
/// (Go's `late` slice).
struct TimerShared {
    latch: Latch,
    late_ns: Box<[AtomicI64]>,
}

/// `timers`: [`TIMERS`] tasks each sleep a uniformly random whole number
/// of milliseconds in `MIN_MS..=MAX_MS` (the same sequence every round and
/// on every runtime) and record lateness = wake instant − deadline, where
/// each task takes its deadline (`now + duration`) just before it sleeps,
/// as the Go twin does. The value is round time / [`TIMERS`]; the lateness
/// samples go to the harness for the p99.
pub(crate) fn timers<S: System>(rt: &S::Runtime) -> RoundResult {
    let durations = durations();
    let (latch, done) = Latch::new(TIMERS);
    let shared = Arc::new(TimerShared {
        latch,
        late_ns: (0..TIMERS).map(|_| AtomicI64::new(0)).collect(),
    });
    let driver_shared = shared.clone();
    let elapsed = on_task::<S, _>(rt, async move {
        let start = Instant::now();
        for (i, duration) in durations.into_iter().enumerate() {
            let shared = driver_shared.clone();
            S::go(async move {
                let deadline = Instant::now() + duration;
                S::sleep(duration).await;
                let late = signed_ns_since(Instant::now(), deadline);
                // Relaxed: the latch publishes it to the driver.
                shared.late_ns[i].store(late, Ordering::Relaxed);
                shared.latch.count_down();
            });
        }
        wait(done).await;
        start.elapsed()
    });
    let late = shared
        .late_ns
        .iter()
        .map(|l| l.load(Ordering::Relaxed))
        .collect();
    RoundResult {
        late,
        ..RoundResult::ns_per_op(elapsed, TIMERS)
    }
}

/// The sleep durations, from a xorshift64 generator seeded with [`SEED`].
fn durations() -> Vec<Duration> {
    let mut x = SEED;
    (0..TIMERS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(MIN_MS + x % (MAX_MS - MIN_MS + 1))
        })
        .collect()
}

/// `now - then` in ns, negative when `now` is earlier.
fn signed_ns_since(now: Instant, then: Instant) -> i64 {
    match now.checked_duration_since(then) {
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        None => -i64::try_from((then - now).as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Tasks in `timer_stop` (Go: `timerStopTasks`): as many as `http_hello`'s
/// connections, each with one timeout pending at a time.
const STOP_TASKS: usize = 64;
/// Timeouts each task arms and stops (Go: `timerStopsPerTask`).
const STOPS_PER_TASK: usize = 5_000;
/// The timeout: far enough that none fires (hyper's header-read default).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `timer_stop`: the timeout a server arms per request and stops a moment
/// later. [`STOP_TASKS`] tasks each, [`STOPS_PER_TASK`] times, arm a
/// [`STOP_TIMEOUT`] sleep (one poll, which registers it), yield, and drop
/// it (Go: `time.NewTimer`, `runtime.Gosched`, `Stop`). The yield lets
/// the other tasks run between the arm and the stop, so the timers are
/// pending together and a task may be stopped on another worker than it
/// armed on, as a connection's task is. The value is round time / all the
/// stops.
pub(crate) fn timer_stop<S: System>(rt: &S::Runtime) -> RoundResult {
    let (latch, done) = Latch::new(STOP_TASKS);
    let latch = Arc::new(latch);
    let elapsed = on_task::<S, _>(rt, async move {
        let start = Instant::now();
        for _ in 0..STOP_TASKS {
            let latch = latch.clone();
            S::go(async move {
                for _ in 0..STOPS_PER_TASK {
                    let mut timeout = std::pin::pin!(S::sleep(STOP_TIMEOUT));
                    assert!(
                        futures::poll!(timeout.as_mut()).is_pending(),
                        "a 30 s timeout fired"
                    );
                    S::yield_now().await;
                }
                latch.count_down();
            });
        }
        wait(done).await;
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, STOP_TASKS * STOPS_PER_TASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_ms_in_range_and_repeatable() {
        let ds = durations();
        assert_eq!(ds.len(), TIMERS);
        assert!(ds.iter().all(|d| d.subsec_nanos() % 1_000_000 == 0));
        assert!(ds
            .iter()
            .all(|d| (MIN_MS..=MAX_MS).contains(&(d.as_millis() as u64))));
        assert!(ds.iter().any(|d| d.as_millis() as u64 == MIN_MS));
        assert!(ds.iter().any(|d| d.as_millis() as u64 == MAX_MS));
        assert_eq!(ds, durations());
    }
}
