//! The machinery under [`Ticker`](super::Ticker) and [`Timer`](super::Timer):
//! a deadline that receivers wait for and claim, and that `stop`/`reset`
//! move under them.
//!
//! Each receiver sleeps until the deadline it read, then claims it under the
//! lock only if the deadline is still the one it read (same generation); a
//! `stop` or `reset` bumps the generation and wakes every waiting receiver so
//! it re-reads. So a value is delivered to exactly one receiver, and none is
//! delivered from before a `stop`/`reset` (Go 1.23's "no stale values").

use std::future::poll_fn;
use std::sync::Mutex;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::sleep::sleep_until;
use crate::task::{park_waker, same_waker};

#[derive(Debug)]
struct State {
    /// The armed deadline; `None` when stopped (or a one-shot delivered).
    next: Option<Instant>,
    /// `Some` for a ticker.
    period: Option<Duration>,
    generation: u64,
    waiters: Vec<Waker>,
}

#[derive(Debug)]
pub(crate) struct Alarm {
    state: Mutex<State>,
}

impl Alarm {
    pub(crate) fn new(first: Instant, period: Option<Duration>) -> Alarm {
        Alarm {
            state: Mutex::new(State {
                next: Some(first),
                period,
                generation: 0,
                waiters: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Disarms; returns whether it was armed.
    pub(crate) fn stop(&self) -> bool {
        let wake = {
            let mut s = self.lock();
            let was = s.next.take().is_some();
            s.generation += 1;
            (was, std::mem::take(&mut s.waiters))
        };
        wake.1.into_iter().for_each(Waker::wake);
        wake.0
    }

    /// Re-arms for `first` (and, for a ticker, a new period); returns
    /// whether it was armed.
    pub(crate) fn reset(&self, first: Instant, period: Option<Duration>) -> bool {
        let wake = {
            let mut s = self.lock();
            let was = s.next.replace(first).is_some();
            if period.is_some() {
                s.period = period;
            }
            s.generation += 1;
            (was, std::mem::take(&mut s.waiters))
        };
        wake.1.into_iter().for_each(Waker::wake);
        wake.0
    }

    /// Waits for the deadline and claims it: `None` if disarmed.
    pub(crate) async fn recv(&self) -> Option<Instant> {
        loop {
            let (deadline, generation) = {
                let s = self.lock();
                (s.next?, s.generation)
            };
            let mut sleep = sleep_until(deadline);
            let current = poll_fn(|cx| {
                {
                    let mut s = self.lock();
                    if s.generation != generation {
                        return Poll::Ready(false);
                    }
                    if !s.waiters.iter().any(|w| same_waker(w, cx.waker())) {
                        s.waiters.push(park_waker(cx.waker()));
                    }
                }
                sleep.poll_elapsed(cx).map(|()| true)
            })
            .await;
            if !current {
                continue;
            }
            let (claimed, waiters) = {
                let mut s = self.lock();
                if s.generation != generation || s.next != Some(deadline) {
                    (None, Vec::new())
                } else {
                    let now = super::now();
                    s.next = s.period.map(|p| next_tick(deadline, p, now));
                    (Some(now), std::mem::take(&mut s.waiters))
                }
            };
            // Other receivers waiting on this deadline re-read the next one.
            waiters.into_iter().for_each(Waker::wake);
            if claimed.is_some() {
                return claimed;
            }
        }
    }
}

/// The first tick after `now` on the grid `deadline + k * period`: ticks a
/// slow receiver missed are dropped, as Go drops them.
fn next_tick(deadline: Instant, period: Duration, now: Instant) -> Instant {
    let next = deadline + period;
    if next > now {
        return next;
    }
    let behind = now - deadline;
    let k = behind.as_nanos() / period.as_nanos().max(1) + 1;
    deadline + period * (k.min(u32::MAX as u128) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_are_dropped() {
        let t0 = Instant::now();
        let p = Duration::from_millis(10);
        assert_eq!(next_tick(t0, p, t0), t0 + p);
        assert_eq!(
            next_tick(t0, p, t0 + Duration::from_millis(35)),
            t0 + Duration::from_millis(40)
        );
        assert_eq!(
            next_tick(t0, p, t0 + Duration::from_millis(10)),
            t0 + Duration::from_millis(20)
        );
    }
}
