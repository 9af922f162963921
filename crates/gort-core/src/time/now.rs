//! `now`: the time as the runtime's timers see it, a synctest bubble's
//! virtual clock inside one (`sched::bubble`), else the real one.

use std::time::Instant;

use super::clock::{bubbles_exist, instant_of};
use crate::sched::context;

/// The current time: inside a synctest bubble (`gort::synctest`), the
/// bubble's virtual clock, which starts when the bubble is made and moves
/// only when every task of the bubble is durably blocked; everywhere else
/// `Instant::now()`. Every deadline in `gort::time` (sleep, timeout,
/// Ticker, Timer, `after`, context deadlines) is taken from it.
///
/// Outside a bubble it costs one load of a process-wide counter more than
/// `Instant::now()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gort_core::time::{now, sleep};
/// let rt = gort_core::Builder::new().__synctest().build().unwrap();
/// rt.block_on(async {
///     let t0 = now();
///     sleep(Duration::from_secs(3600)).await; // no real hour passes
///     assert_eq!(now() - t0, Duration::from_secs(3600));
/// });
/// ```
#[inline]
pub fn now() -> Instant {
    if !bubbles_exist() {
        return Instant::now();
    }
    bubble_now().unwrap_or_else(Instant::now)
}

/// The virtual time of the bubble this thread is in, if it is in one.
#[cold]
fn bubble_now() -> Option<Instant> {
    context::with_current(|h| {
        h.and_then(|h| h.shared.bubble.as_ref())
            .map(|b| instant_of(b.clock.now()))
    })
}
