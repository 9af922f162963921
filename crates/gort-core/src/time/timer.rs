//! Go's `time.Timer`, with Go 1.23's semantics.

use std::time::{Duration, Instant};

use super::alarm::Alarm;

/// Delivers the time once, after a duration (Go's `time.Timer`).
///
/// # Differences from Go
///
/// `recv` on a timer that is stopped, or whose value was already received
/// and that was not reset, returns `None` where Go's channel would block
/// forever. As in Go 1.23, `stop` and `reset` report whether the timer was
/// still armed (a fired but unreceived value counts as armed), and no value
/// armed before them is received after them.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let t = gort_core::time::Timer::new(Duration::from_millis(1));
///     assert!(t.recv().await.is_some());
///     assert!(!t.stop(), "already delivered");
///     assert!(!t.reset(Duration::from_secs(60)));
///     assert!(t.stop(), "stopped before it fired");
///     assert_eq!(t.recv().await, None);
/// });
/// ```
#[derive(Debug)]
pub struct Timer {
    alarm: Alarm,
}

impl Timer {
    /// A timer that fires `d` from now.
    pub fn new(d: Duration) -> Timer {
        Timer {
            alarm: Alarm::new(super::now() + d, None),
        }
    }

    /// Waits for the timer and returns the time it was delivered, or `None`
    /// if it is stopped or already delivered.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped `recv` claims nothing.
    pub async fn recv(&self) -> Option<Instant> {
        self.alarm.recv().await
    }

    /// Stops the timer; true if it was armed (this call prevented delivery).
    pub fn stop(&self) -> bool {
        self.alarm.stop()
    }

    /// Re-arms the timer to fire `d` from now; true if it was armed.
    pub fn reset(&self, d: Duration) -> bool {
        self.alarm.reset(super::now() + d, None)
    }
}
