//! The runtime's clocks: nanoseconds since a process-wide epoch, in which
//! timers are kept, and a coarse millisecond clock for diagnostics.
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
