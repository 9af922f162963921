//! Go's `time.Ticker`.

use std::time::{Duration, Instant};

use super::alarm::Alarm;

/// Delivers the time at intervals of `period` (Go's `time.Ticker`).
///
/// Ticks a slow receiver misses are dropped: after a late `recv`, the next
/// tick comes at the next multiple of the period. Several tasks may call
/// `recv` at once; each tick goes to one of them.
///
/// # Differences from Go
///
/// `recv` on a stopped ticker returns `None` where Go's channel would block
/// forever. As in Go 1.23, no tick from before a `stop` or `reset` is
/// delivered after it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let t = gort_core::time::Ticker::new(Duration::from_millis(2));
///     for _ in 0..3 {
///         t.recv().await.unwrap();
///     }
///     t.stop();
///     assert_eq!(t.recv().await, None);
/// });
/// ```
#[derive(Debug)]
pub struct Ticker {
    alarm: Alarm,
}

impl Ticker {
    /// A ticker whose first tick comes `period` from now.
    ///
    /// # Panics
    ///
    /// If `period` is zero, as Go's `NewTicker` panics on a non-positive one.
    pub fn new(period: Duration) -> Ticker {
        assert!(!period.is_zero(), "non-positive interval for Ticker::new");
        Ticker {
            alarm: Alarm::new(super::now() + period, Some(period)),
        }
    }

    /// Waits for the next tick and returns the time it was delivered, or
    /// `None` once the ticker is stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped `recv` claims no tick.
    pub async fn recv(&self) -> Option<Instant> {
        self.alarm.recv().await
    }

    /// Stops the ticker; pending and later `recv`s return `None`.
    pub fn stop(&self) {
        self.alarm.stop();
    }

    /// Restarts the ticker with a new period, first tick `period` from now.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn reset(&self, period: Duration) {
        assert!(!period.is_zero(), "non-positive interval for Ticker::reset");
        self.alarm.reset(super::now() + period, Some(period));
    }
}
