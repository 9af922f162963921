//! The runtime's clocks: nanoseconds since a process-wide epoch, in which
//! timers are kept, and a coarse millisecond clock for diagnostics; and a
//! synctest bubble's virtual clock, counted in the same nanoseconds.
//!
//! How the virtual clock reaches the timers at no cost outside a bubble:
//! the scheduler reads time through `Shared::now`, one branch on whether
//! its runtime is a bubble (a field already in cache on that path); the
//! futures read it through `gort::time::now`, which first loads one
//! process-wide counter of live bubbles ([`bubbles_exist`]) and takes
//! `Instant::now()` while it is 0, the thread's runtime only when it is not.
//!
//! A leaf: it imports nothing of the crate, so every layer may use it.

use std::sync::OnceLock;
use std::time::Instant;

/// The process-wide origin of the nanosecond clock timers are kept in.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `t` as nanoseconds since the epoch (0 for instants before it).
pub(crate) fn nanos_of(t: Instant) -> u64 {
    let e = epoch();
    t.checked_duration_since(e)
        .map_or(0, |d| d.as_nanos().min(u64::MAX as u128 - 1) as u64)
}

/// The current time as nanoseconds since the epoch.
#[cfg(not(loom))]
pub(crate) fn now_nanos() -> u64 {
    nanos_of(Instant::now())
}

/// Under loom the clock moves only when a model moves it
/// ([`loom_set_now`]): loom replays a schedule by running the model again
/// and needs every decision to come out the same, and the scheduler
/// decides some things by elapsed time (`steal_from_stalled`'s 100 µs,
/// every timer). Per OS thread: a model's threads are coroutines on one,
/// and models run in parallel on others.
#[cfg(loom)]
pub(crate) fn now_nanos() -> u64 {
    LOOM_NOW.with(|n| n.get())
}

#[cfg(loom)]
std::thread_local! {
    static LOOM_NOW: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

/// Sets the model's clock (loom only; see [`now_nanos`]). A model sets it
/// first, since the value outlives the execution.
#[cfg(loom)]
pub(crate) fn loom_set_now(t: u64) {
    LOOM_NOW.with(|n| n.set(t));
}

/// Milliseconds since the epoch, as of sysmon's last round (or the last
/// dump): a clock for diagnostics that costs one load to read. Relaxed.
/// A std atomic even under loom (a `static`, which loom's atomics cannot
/// be): a diagnostic clock, part of no protocol.
static COARSE_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[inline]
pub(crate) fn coarse_ms() -> u64 {
    COARSE_MS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Advances the coarse clock to `now` (nanoseconds since the epoch).
pub(crate) fn refresh_coarse(now: u64) {
    COARSE_MS.fetch_max(now / 1_000_000, std::sync::atomic::Ordering::Relaxed);
}

/// The instant `nanos` nanoseconds after the epoch.
pub(crate) fn instant_of(nanos: u64) -> Instant {
    epoch() + std::time::Duration::from_nanos(nanos)
}

/// Live synctest bubbles in the process. Relaxed: a gate, not a guard.
/// While it is 0, `gort::time::now` reads `Instant::now()` and the timers
/// hold plain wakers without asking which runtime they are in; each
/// bubble counts itself for as long as its runtime lives. A std atomic
/// even under loom (a `static`): the models run without bubbles, or with
/// one made before their threads, so it is a constant to them.
static BUBBLES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether any synctest bubble lives in this process (`BUBBLES`).
#[inline]
pub(crate) fn bubbles_exist() -> bool {
    BUBBLES.load(std::sync::atomic::Ordering::Relaxed) != 0
}

/// A bubble's virtual clock: nanoseconds since the epoch, starting where
/// the real clock was when the bubble was made and moved only by the
/// bubble's monitor (`sched::bubble`), never backwards.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    /// Relaxed loads and stores: the clock is moved only while every task
    /// of the bubble is durably blocked, and the moves reach the tasks
    /// through the timer wake-ups that follow them (a task's queue push
    /// and pop order the store before the task's next read). Through the
    /// loom facade, so a model of a bubble checks that claim.
    nanos: crate::loom::AtomicU64,
    /// Where it started.
    pub(crate) start: u64,
}

impl VirtualClock {
    /// A clock reading the real time now, counted in `BUBBLES`.
    pub(crate) fn new() -> VirtualClock {
        BUBBLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let start = now_nanos().max(1);
        VirtualClock {
            nanos: crate::loom::AtomicU64::new(start),
            start,
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.nanos.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves the clock forward to `to` (never back).
    pub(crate) fn advance_to(&self, to: u64) {
        self.nanos
            .fetch_max(to, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for VirtualClock {
    fn drop(&mut self) {
        BUBBLES.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}
