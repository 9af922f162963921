//! `sleep` and `sleep_until`: a future that completes at a deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::clock::nanos_of;
use super::entry::TimerEntry;
use crate::task::WaitReason;

/// Waits until `duration` has elapsed (Go's `time.Sleep`).
///
/// # Panics
///
/// When polled outside a gort runtime.
///
/// # Cancel safety
///
/// Dropping the future stops the timer; nothing else is lost.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let t0 = Instant::now();
///     gort_core::time::sleep(Duration::from_millis(5)).await;
///     assert!(t0.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let deadline = super::now()
        .checked_add(duration)
        .unwrap_or_else(far_future);
    Sleep::new(deadline)
}

/// Waits until `deadline`.
///
/// # Panics
///
/// When polled outside a gort runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// About thirty years from now: what "never" means for a deadline.
pub(crate) fn far_future() -> Instant {
    super::now() + Duration::from_secs(86400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<TimerEntry>>,
}

impl std::fmt::Debug for TimerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerEntry")
            .field("fired", &self.is_fired())
            .finish()
    }
}

impl Sleep {
    pub(crate) fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            entry: None,
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed (and the future would be ready).
    pub fn is_elapsed(&self) -> bool {
        self.entry.as_ref().is_some_and(|e| e.is_fired()) || super::now() >= self.deadline
    }

    /// Moves the deadline, stopping the pending timer.
    pub fn reset(&mut self, deadline: Instant) {
        if let Some(e) = self.entry.take() {
            e.cancel();
        }
        self.deadline = deadline;
    }

    /// Polls without needing a pin (the future is `Unpin`).
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &self.entry {
            Some(e) => {
                if e.is_fired() {
                    return Poll::Ready(());
                }
                e.register(cx.waker());
                // Re-check after registering: a fire between the first check
                // and the registration would otherwise be missed.
                if e.is_fired() {
                    return Poll::Ready(());
                }
                crate::task::set_wait_reason(WaitReason::Sleep);
                Poll::Pending
            }
            None => match crate::sched::add_timer(nanos_of(self.deadline), cx.waker()) {
                None => Poll::Ready(()),
                // Fired already: the runtime has shut down (`TimerQueue::arm`
                // hands out fired entries then), and nobody will wake us.
                Some(entry) if entry.is_fired() => Poll::Ready(()),
                Some(entry) => {
                    self.entry = Some(entry);
                    crate::task::set_wait_reason(WaitReason::Sleep);
                    Poll::Pending
                }
            },
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_elapsed(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            e.cancel();
        }
    }
}
