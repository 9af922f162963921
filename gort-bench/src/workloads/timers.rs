//! The timer workloads: `timers` (many short sleeps at once, and how late
//! they wake), `timer_stop` (timeouts armed and stopped) and
//! `timer_burst_hog` (timers that fire together while one of their tasks
//! hogs its worker).

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{on_task, wait, Latch};
use crate::harness::{percentile, RoundResult};
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

/// Tasks in `timer_burst_hog` (Go: `burstTasks`).
const BURST_TASKS: usize = 10;
/// Their shared deadline lies this long after the driver starts spawning
/// them (Go: `burstDelay`): time enough for every one to be asleep.
const BURST_DELAY: Duration = Duration::from_millis(5);
/// How long the first task to wake computes without awaiting (Go:
/// `burstHog`).
const BURST_HOG: Duration = Duration::from_millis(50);
/// `BurstShared::hog` before any task has claimed it.
const NO_HOG: usize = usize::MAX;

/// Shared by `timer_burst_hog`'s tasks.
struct BurstShared {
    latch: Latch,
    /// The index of the task that computes: the first to wake claims it.
    hog: AtomicUsize,
    /// Each task's lateness; the hog's slot is left unread.
    late_ns: Box<[AtomicI64]>,
}

/// `timer_burst_hog`: [`BURST_TASKS`] tasks sleep until one shared
/// deadline, [`BURST_DELAY`] after the driver starts spawning them. The
/// first of them to wake (decided at run time, by a compare-exchange)
/// computes for [`BURST_HOG`] without awaiting, spinning on the clock;
/// every other one records its lateness, wake instant − deadline, and
/// ends. Run with two workers, this asks whether the tasks that a timer
/// readied together get to the idle worker or wait behind the one that
/// hogs theirs.
///
/// The value is the round's nearest-rank p99 lateness in ns of the tasks
/// that did not compute (with nine of them, the latest); their samples go
/// to the harness too, which prints the median round's p99 as
/// `SYSTEM_p99_late_ns`, as for `timers`.
pub(crate) fn timer_burst_hog<S: System>(rt: &S::Runtime) -> RoundResult {
    let (latch, done) = Latch::new(BURST_TASKS);
    let shared = Arc::new(BurstShared {
        latch,
        hog: AtomicUsize::new(NO_HOG),
        late_ns: (0..BURST_TASKS).map(|_| AtomicI64::new(0)).collect(),
    });
    let driver_shared = shared.clone();
    on_task::<S, _>(rt, async move {
        let deadline = Instant::now() + BURST_DELAY;
        for i in 0..BURST_TASKS {
            let shared = driver_shared.clone();
            S::go(async move {
                S::sleep_until(deadline).await;
                let woke = Instant::now();
                // Relaxed: only who wins matters, and the latch publishes
                // the winner to the driver.
                let first = shared
                    .hog
                    .compare_exchange(NO_HOG, i, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok();
                if first {
                    compute_for(BURST_HOG);
                } else {
                    // Relaxed: the latch publishes it to the driver.
                    shared.late_ns[i].store(signed_ns_since(woke, deadline), Ordering::Relaxed);
                }
                shared.latch.count_down();
            });
        }
        wait(done).await;
    });
    let hog = shared.hog.load(Ordering::Relaxed);
    assert!(hog < BURST_TASKS, "timer_burst_hog: no task computed");
    let late: Vec<i64> = (0..BURST_TASKS)
        .filter(|&i| i != hog)
        .map(|i| shared.late_ns[i].load(Ordering::Relaxed))
        .collect();
    RoundResult {
        value: percentile(&late, 0.99) as f64,
        late,
        extra: Vec::new(),
    }
}

/// Computes for `d` without yielding: spins on the clock.
fn compute_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
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
