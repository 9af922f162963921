//! The netpoll holder (tokio's worker parked on its driver), and the
//! batched polls of the network an M makes with or without its P.
//!
//! Go's M releases its P before it blocks in `netpoll`, so when the events
//! come it must take an idle P back, or, if every P got busy meanwhile,
//! hand them to the global queue and park: a third thread woken onto two
//! CPUs. Here the M that runs out of work first, while sockets are
//! registered, blocks in the netpoller *holding its P*
//! (`netpoll_holding_p`), with the earliest timer of any P as timeout:
//!
//! 1. Claim the sleeper's role under the timer-sleep lock (if another M
//!    holds it, stop instead), and stop spinning.
//! 2. Publish `np_holder` (SeqCst) and fence (`Idle::holder_sleeps`), then
//!    re-check every queue and `exitq`.
//! 3. If its last sleep there was short, poll without blocking for a while
//!    first (`netpoll_spin`, `Builder::netpoll_spin`); finding events or
//!    work ends the step as a wake-up would.
//! 4. Block. What the poll readies goes to this P's queue without a
//!    `wakep` each; afterwards one `wakep` if more than one task came,
//!    other Ps' due timers are fired, and the M goes back to step 1 of the
//!    loop with its P.
//!
//! A submitter's `wakep` that finds no idle P and no spinning M reads
//! `np_holder` and kicks the holder through the poller's waker (one kick
//! per sleep): the holder then spins and steals, as an idle M started by
//! `startm` would. Step 2 and the submitter's fence pair as in parking
//! step 3 (loom model `loom_holder_racing_wakep`). An M back from a
//! syscall whose P was retaken, finding no idle P, queues on `exitq` and
//! kicks the holder, which then stops (parking above), handing its P over
//! (`loom_holder_racing_exitsyscall`). Sysmon counts the holder's P as
//! idle.

use super::Worker;
use crate::loom::{lock, Ordering::*};
use crate::sched::p::OwnedP;
use crate::time::{clock::now_nanos, queue::NO_TIMER};

/// The time between two polls of `netpoll_spin`. Polling back to back
/// takes the poll set's locks often enough to slow the writers whose
/// events it waits for; a few microseconds apart, the spin finds the events
/// as soon and leaves the writers be (docs/perf-log.md, "Figures moved out
/// of the scheduler's comments").
const SPIN_POLL_INTERVAL_NANOS: u64 = 5_000;

impl Worker {
    /// Step 8 of the loop (module doc, "The netpoll holder"): blocks in the
    /// netpoller keeping this M's P, unless no source is registered, another M
    /// sleeps there already or an M waits in `exitsyscall` for a P. Returns
    /// false in those cases (the caller stops), true once it has blocked or
    /// found work to look for.
    #[cfg(not(loom))]
    pub(super) fn netpoll_holding_p(&self, p: &OwnedP<'_>) -> bool {
        let shared = &*self.shared;
        if !shared.poller.has_sources() {
            return false;
        }
        let until = {
            let mut ts = lock(&shared.timer_sleep);
            if ts.sleeping {
                return false;
            }
            let until = shared.earliest_timer();
            ts.claim(until, true, true);
            until
        };
        self.stop_spinning();
        // Published (SeqCst, fenced) before the re-checks: a submitter
        // either sees it in `wakep`, or its work is seen here. The same
        // for an M queueing on `exitq` (`Idle::wait_for_p`), through the
        // scheduler lock that `exitq_waiting` takes.
        shared.idle.holder_sleeps();
        let exitq = shared.idle.exitq_waiting();
        let sleep = !exitq && !shared.any_work();
        let spin_was_on = self.spin_poll.get();
        if sleep && !self.netpoll_spin(until) {
            shared.stats.parks.fetch_add(1, Relaxed);
            tracing::trace!(p = p.id, until, "M blocks in the netpoller holding its P");
            shared.bubble_idle();
            let start = now_nanos();
            self.netpoll_until(until);
            // The sleep's length sets the spin for the next time, unless
            // the sleep came after a spin that ran out of time: then the
            // gap was the spin and the sleep together, longer than the
            // limit, and the spin stays off.
            if self.spin_poll.get() || !spin_was_on {
                self.spin_poll
                    .set(now_nanos().saturating_sub(start) < self.spin_nanos);
            }
        }
        shared.idle.holder_wakes();
        lock(&shared.timer_sleep).clear();
        if exitq {
            // Give the P to the M waiting for one: the caller stops.
            return false;
        }
        if !sleep {
            return true;
        }
        // Sysmon may have gone to its deep sleep while this P looked idle.
        shared.sysmon.wake_if_deep();
        // The sleep was until the earliest timer of any P.
        let now = shared.now();
        for other in shared.allp.iter().filter(|o| o.id != p.id) {
            self.fire(&other.timers, now);
        }
        // With `holder_wakes` done, `wakep` cannot kick this M itself.
        self.wake_for_backlog(p);
        true
    }

    /// Before the holder blocks: polls without blocking, every
    /// [`SPIN_POLL_INTERVAL_NANOS`], for up to `Builder::netpoll_spin`
    /// (`spin_nanos`) and not past `until`, if its last sleep in the
    /// netpoller was shorter than that. Returns true
    /// once a poll readied a task or work turned up in a queue; false when
    /// a kick waits (the blocking poll takes it at once), the runtime shuts
    /// down or the time is up. Running out of time turns the spin off
    /// until a sleep is short again: the events are further apart than the
    /// limit, and polling for them would only burn the CPU.
    ///
    /// Under load the holder's sleeps are a few tens of microseconds, and
    /// each costs a switch out and back and a wake-up made by the thread
    /// whose write ends it (on loopback, the client's). Polling instead
    /// uses the CPU the sleep would have left idle. Linux's socket busy
    /// polling (`net.core.busy_poll`) makes the same trade; Go and tokio
    /// block at once. Measured in `docs/perf-log.md`.
    #[cfg(not(loom))]
    pub(super) fn netpoll_spin(&self, until: u64) -> bool {
        if !self.spin_poll.get() || self.spin_nanos == 0 {
            return false;
        }
        let shared = &*self.shared;
        let mut now = now_nanos();
        let limit = now.saturating_add(self.spin_nanos);
        loop {
            if self.netpoll_batched(Some(std::time::Duration::ZERO), false) > 0 || shared.any_work()
            {
                shared.stats.netpoll_spins.fetch_add(1, Relaxed);
                return true;
            }
            if shared.poller.kick_pending() || shared.is_shutdown() {
                return false;
            }
            let next = now_nanos().saturating_add(SPIN_POLL_INTERVAL_NANOS);
            loop {
                for _ in 0..8 {
                    std::hint::spin_loop();
                }
                now = now_nanos();
                if now >= next || shared.poller.kick_pending() {
                    break;
                }
            }
            if now >= until {
                // A timer is due: the blocking poll returns at once.
                return false;
            }
            if now >= limit {
                self.spin_poll.set(false);
                return false;
            }
        }
    }

    /// Blocks in the netpoller until `until` (`NO_TIMER`: no deadline), an
    /// event or a kick, with the poll's wake-ups batched (`netpoll_batch`).
    #[cfg(not(loom))]
    pub(super) fn netpoll_until(&self, until: u64) {
        let timeout = (until != NO_TIMER)
            .then(|| std::time::Duration::from_nanos(until.saturating_sub(self.shared.now())));
        self.netpoll_batched(timeout, true);
    }

    /// Polls the network without blocking, holding `p`, then wakes one M
    /// for the backlog, if any (`wake_for_backlog`): this M runs the first
    /// task itself. (A `wakep` per task, as a poll outside the batch mode
    /// makes, woke the other M for the one task this M was about to run,
    /// doubling the round trips that met it: docs/perf-log.md, "Figures
    /// moved out of the scheduler's comments".) Returns the number of
    /// sources made ready.
    #[cfg(not(loom))]
    pub(super) fn netpoll_now(&self, p: &OwnedP<'_>) -> usize {
        let n = self.netpoll_batched(Some(std::time::Duration::ZERO), false);
        if n > 0 {
            self.wake_for_backlog(p);
        }
        n
    }

    /// [`Poller::poll`](crate::io::poller::Poller::poll) with the wake-ups
    /// it makes batched (`netpoll_batch`): onto this M's P with no `wakep`
    /// each, or, without a P, onto the global queue.
    #[cfg(not(loom))]
    pub(super) fn netpoll_batched(
        &self,
        timeout: Option<std::time::Duration>,
        must: bool,
    ) -> usize {
        self.netpoll_batch.set(true);
        let n = self.shared.poller.poll(timeout, must);
        self.netpoll_batch.set(false);
        n
    }
}
