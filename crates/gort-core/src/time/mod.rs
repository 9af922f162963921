//! Time: `sleep`, `sleep_until`, `timeout`, and Go's `Ticker` and `Timer`.
//!
//! Timers live in the P of the task that arms them (see `queue.rs`); the M
//! holding that P fires them from its scheduling loop, a spinning M fires the
//! due timers of other Ps before it parks, and the last M to park sleeps
//! until the earliest timer of all (see `sched::worker`). A timer armed from
//! a thread with no P (a `block_on` future) goes to a P chosen by the
//! runtime, which wakes the sleeping M if the new deadline is earlier than
//! the one it sleeps until.
//!
//! All futures here must be polled inside a gort runtime (an M, or a thread
//! inside `block_on`); polling one elsewhere panics with a message saying so.

mod alarm;
mod entry;
mod queue;
mod sleep;
mod ticker;
mod timeout;
mod timer;

pub(crate) use entry::TimerEntry;
pub(crate) use queue::{TimerQueue, NO_TIMER};
pub use sleep::{sleep, sleep_until, Sleep};
pub use ticker::Ticker;
pub use timeout::{timeout, Elapsed, Timeout};
pub use timer::Timer;

pub use std::time::{Duration, Instant};

use std::sync::OnceLock;

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
pub(crate) fn now_nanos() -> u64 {
    nanos_of(Instant::now())
}

/// Milliseconds since the epoch, as of sysmon's last round (or the last
/// dump): a clock for diagnostics that costs one load to read. Relaxed.
static COARSE_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[inline]
pub(crate) fn coarse_ms() -> u64 {
    COARSE_MS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Advances the coarse clock to `now` (nanoseconds since the epoch).
pub(crate) fn refresh_coarse(now: u64) {
    COARSE_MS.fetch_max(now / 1_000_000, std::sync::atomic::Ordering::Relaxed);
}
