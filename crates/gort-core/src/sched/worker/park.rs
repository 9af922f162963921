//! Parking: the steps an M takes to stop (Go's "delicate dance").
//!
//! 1. Under the scheduler lock, re-check the global queue; if empty, put the
//!    P on `pidle` and increment `npidle` (SeqCst).
//! 2. If spinning, decrement `nmspinning` (SeqCst).
//! 3. SeqCst fence, then re-check every P's queue and the global queue. A
//!    submitter pushes and then runs `wakep`, whose fence and loads of
//!    `npidle`/`nmspinning` pair with steps 1-3: either it saw our P idle and
//!    started an M, or we see its task here. If work is seen, take an idle P
//!    back (if any is left) and start over.
//! 4. Under the timer-sleep lock, compute the earliest timer of all Ps. If
//!    there is one (or any I/O source is registered) and no other M sleeps
//!    for an earlier one, become the sleeper: block in the netpoller with
//!    that timeout when sources are registered (Go's `netpoll(delay)`),
//!    else wait on `timer_cv` (exact, where `epoll_wait` rounds to
//!    milliseconds); a kick breaks either. Then fire every due timer of
//!    every P, take an idle P if any, and start over. Tasks the poll
//!    readied went to the global queue, with Ms woken for them.
//! 5. Otherwise push this M on `midle` and park on its note until `startm`
//!    hands it a P (or shutdown).
//!
//! Step 4's sleeper blocks in the netpoller only in a race: with sources
//! registered, the first M to run out of work is normally the holder
//! below, and the next ones park in step 5.

use super::Worker;
use crate::loom::{fence, lock, Ordering::*};
use crate::time::queue::NO_TIMER;

/// How soon a timer left unwatched by an M leaving its timer sleep must be
/// due for that M to wake another to watch it (`stop`): sysmon's
/// threshold for a long poll. A later one is left to sysmon, which calls
/// an M for a timer 2 ms overdue (`sysmon.rs`, step 2).
const WATCH_NANOS: u64 = crate::sched::sysmon::LONG_POLL_NANOS;

impl Worker {
    /// Parks this M (module doc, "Parking"). Returns false at shutdown, true
    /// once the M holds a P again.
    pub(super) fn stop(&self) -> bool {
        let shared = &*self.shared;
        let pid = self.p.get().expect("stop without a P");
        // Step 1. The status goes idle before the P is visible on pidle,
        // where another M may take and acquire it at once.
        shared.allp[pid].release();
        if !shared.idle.put_p(pid, || !shared.inject.is_empty()) {
            shared.allp[pid].acquire();
            return true;
        }
        self.set_p(None);
        // Step 2.
        self.stop_spinning();
        loop {
            // Step 3.
            fence(SeqCst);
            // Work seen: back with an idle P, spinning, as Go's
            // `checkRunqsNoP` (`becomeSpinning`): the work may sit in
            // another P's queue, which only a spinning M steals from. Taken
            // back not spinning (as this M left, when it had not been),
            // the M found the spinning quota full again, skipped the steal
            // and came straight back here, round and round until the other
            // M ran its task: a busy loop `loom_sched.rs` found.
            if shared.any_work() && self.try_idle_p(true) {
                return true;
            }
            if shared.is_shutdown() {
                return false;
            }
            // Step 4.
            let mut ts = lock(&shared.timer_sleep);
            let until = shared.earliest_timer();
            #[cfg(not(loom))]
            let netpoll = shared.poller.has_sources();
            #[cfg(loom)]
            let netpoll = false;
            if until != NO_TIMER && ts.sleeping && until < ts.until {
                // The sleeper waits for a later deadline than one we know
                // of: make it re-read the timers; we park below.
                shared.kick(&mut ts);
            } else if (until != NO_TIMER || netpoll) && !ts.sleeping {
                ts.claim(until, netpoll, false);
                shared.stats.parks.fetch_add(1, Relaxed);
                tracing::trace!(until, netpoll, "M sleeps until the next timer");
                // A bubble's clock may jump now (`bubble.rs`).
                shared.bubble_idle();
                if netpoll {
                    // A kick from now on goes through the poller's waker,
                    // which breaks this poll even if it has not begun yet.
                    drop(ts);
                    #[cfg(not(loom))]
                    self.netpoll_until(until);
                    ts = lock(&shared.timer_sleep);
                } else {
                    loop {
                        let now = shared.now();
                        if ts.kicked || now >= ts.until || shared.is_shutdown() {
                            break;
                        }
                        let d = std::time::Duration::from_nanos(ts.until - now);
                        ts = wait_timeout(&shared.timer_cv, ts, d);
                    }
                }
                ts.clear();
                drop(ts);
                // With a P, the readied tasks go to its timer-ready list;
                // without one, to the global queue.
                let got_p = self.try_idle_p(false);
                let now = shared.now();
                for p in shared.allp.iter() {
                    self.fire(&p.timers, now);
                }
                // The poll's wake-ups were batched into the global queue:
                // wake one M for what this M will not take itself (it
                // wakes more as it finds work, `wakep`'s usual chain).
                // SeqCst fence: as step 3's, so a P released after our
                // `try_idle_p` either sees the queue or is seen by `wakep`.
                fence(SeqCst);
                let backlog = if got_p {
                    shared.inject.len() + self.owned_p().queued() > 1
                } else {
                    !shared.inject.is_empty()
                };
                // Leaving the sleep, this M leaves the timers unwatched: if
                // the task it is about to run blocks its poll (a call not
                // wrapped in `gort::syscall`), a timer on its P waits for
                // sysmon to rescue the P (10 ms), and one on an idle P for
                // sysmon to notice it overdue. For a timer due within those
                // 10 ms, waking an M hands the watch on: it finds no work
                // and sleeps until the timer, which it fires on whichever P
                // it is (`fire` above, `steal_work`). Go's `resetspinning`
                // makes the same hand-off: an M leaving the poller wakes a
                // spinning M, which ends in the poller.
                let watch = got_p && !backlog && {
                    let earliest = shared.earliest_timer();
                    earliest != NO_TIMER && earliest < now.saturating_add(WATCH_NANOS)
                };
                if backlog || watch {
                    self.shared.wakep();
                }
                if got_p {
                    return true;
                }
                if netpoll {
                    // Go's `findRunnable`: no P after a blocking netpoll
                    // means every P is busy; their Ms take the readied
                    // tasks. Park rather than poll again: looping back into
                    // the poller made every I/O event a thread hand-off.
                    return self.stopm();
                }
                continue;
            }
            drop(ts);
            // Step 5.
            return self.stopm();
        }
    }

    /// `find_runnable` step 0: this M's P is past `gomaxprocs`. Its work
    /// moves to the Ps that stay, it goes off (or back on `pidle`, if a
    /// grow brought it back meanwhile: decided under the scheduler lock),
    /// and this M takes an idle P or parks, as an M that ran out of work
    /// does (`procresize.rs`). Returns false at shutdown.
    pub(super) fn retire_p(&self) -> bool {
        let shared = &self.shared;
        let pid = self.p.get().expect("retire_p without a P");
        self.stop_spinning();
        let moved = shared.move_work_off(&self.owned_p());
        // As `stop`'s step 1: the status goes idle before the P is on any
        // list where another M may take it.
        shared.allp[pid].release();
        self.set_p(None);
        shared.idle.lock().put_idle(&shared.idle, pid);
        tracing::debug!(p = pid, "M let go of a P past gomaxprocs");
        if moved {
            shared.wakep();
        }
        if self.try_idle_p(false) {
            return true;
        }
        self.stopm()
    }

    /// Leaves the spinning state, if in it (uncounted from `nmspinning`,
    /// SeqCst). Returns whether it was spinning.
    pub(super) fn stop_spinning(&self) -> bool {
        let was = self.spinning.replace(false);
        self.info.spinning.store(false, Relaxed);
        if was {
            self.shared.idle.drop_spinning();
        }
        was
    }

    /// Takes an idle P if one is left. Returns whether it did.
    pub(super) fn try_idle_p(&self, spinning: bool) -> bool {
        let Some(p) = self.shared.idle.take_p() else {
            return false;
        };
        if spinning {
            self.shared.idle.nmspinning.fetch_add(1, SeqCst);
        }
        self.acquirep(p, spinning);
        true
    }

    /// Go's `stopm`: parks on `midle` until handed a P. Returns false at
    /// shutdown.
    pub(super) fn stopm(&self) -> bool {
        self.shared.stats.parks.fetch_add(1, Relaxed);
        tracing::trace!("M parks");
        crate::exectrace::m_park();
        self.shared.bubble_idle();
        match self.shared.idle.park_m(&self.park) {
            Some((p, spinning)) => {
                tracing::trace!(p, spinning, "M unparked");
                crate::exectrace::m_unpark();
                self.acquirep(p, spinning);
                true
            }
            None => false,
        }
    }
}

fn wait_timeout<'a, T>(
    cv: &crate::loom::Condvar,
    g: crate::loom::MutexGuard<'a, T>,
    d: std::time::Duration,
) -> crate::loom::MutexGuard<'a, T> {
    #[cfg(loom)]
    {
        let _ = d;
        cv.wait(g).unwrap()
    }
    #[cfg(not(loom))]
    {
        cv.wait_timeout(g, d).unwrap_or_else(|e| e.into_inner()).0
    }
}
