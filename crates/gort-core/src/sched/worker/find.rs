//! Finding the next task (Go's `findRunnable`), and the spinning rules.
//!
//! `find_runnable` tries, in order (the step numbers are the code's):
//!
//! 0. if `set_gomaxprocs` removed this M's P, move its work to the Ps that
//!    stay and let it go (`procresize.rs`, `Worker::retire_p`);
//! 1. the P's due timers (their tasks land in the P's timer-ready queue,
//!    stealable, and run before the local queue; with more than one, a
//!    `wakep` so that idle Ps take the rest);
//! 2. every 61st tick, one task from the global queue first, so that a pair
//!    of tasks re-waking each other through the local queue cannot starve
//!    it; and, with sources registered, the network without blocking (as
//!    tokio's driver check every 61 ticks: while every M is busy no one
//!    sleeps in the poller, and sysmon's forced poll comes only after
//!    10 ms);
//! 3. `runnext`, then the local queue (the queue first after
//!    `MAX_RUNNEXT_STREAK` runnext polls in a row, so a ping-pong pair cannot
//!    starve it either);
//! 4. a batch from the global queue;
//! 5. a P whose queue has not moved for 100 µs: half of it
//!    (`steal_from_stalled`);
//! 6. the network, without blocking, unless the netpoll holder is asleep
//!    there (it takes the events; an M asleep there without a P, parking
//!    step 4, is not counted),
//!    spinning or not (Go polls here, before it spins); what it readies
//!    goes to this P's queue, with one `wakep` if more than one task came
//!    (`netpoll.rs`, `netpoll_now`);
//! 7. spinning: if this M spins already, or fewer than half the busy Ps
//!    have a spinning M, spin: try to steal half of another P's queue
//!    (its timer-ready tasks first), over `STEAL_TRIES` passes in random
//!    order; the last pass also fires other Ps' due timers and may take a
//!    `runnext`; a spinning M does not poll the network again here;
//! 8. with sockets registered and no M asleep in the netpoller, block there
//!    keeping the P (`netpoll.rs`, its header);
//! 9. otherwise stop (`park.rs`).
//!
//! A spinning M that finds work stops spinning (`reset_spinning`) and, if
//! it was the last spinning M, wakes another (Go's `resetspinning`), so
//! that a burst of new work fans out one M at a time.

use crate::loom::deque::Steal;

use super::Worker;
use crate::loom::Ordering::*;
use crate::sched::p::OwnedP;
use crate::task::Notified;
use crate::time::queue::NO_TIMER;

/// Passes over all Ps a spinning M makes before giving up (Go's `stealTries`).
const STEAL_TRIES: usize = 4;
/// Polls from `runnext` in a row before the queue gets a turn.
const MAX_RUNNEXT_STREAK: u32 = 16;
/// Go checks the global queue first every 61st schedule.
const GLOBAL_CHECK_INTERVAL: u32 = 61;
/// How long a P with queued work may show the same status word before a
/// spinning M steals from it (`steal_from_stalled`).
const STALLED_NANOS: u64 = 100_000;

impl Worker {
    /// Go's `resetspinning`.
    pub(super) fn reset_spinning(&self) {
        self.spinning.set(false);
        self.info.spinning.store(false, Relaxed);
        let prev = self.shared.idle.nmspinning.fetch_sub(1, SeqCst);
        debug_assert!(prev > 0, "nmspinning underflow");
        if prev == 1 {
            self.shared.wakep();
        }
    }

    /// Returns a task to run, or `None` at shutdown.
    pub(super) fn find_runnable(&self) -> Option<Notified> {
        let shared = &*self.shared;
        loop {
            if shared.is_shutdown() {
                return None;
            }
            // 0. A P past `gomaxprocs` (one relaxed load a pass).
            if self.p.get().is_some_and(|p| p >= shared.idle.nprocs()) {
                if !self.retire_p() {
                    return None;
                }
                continue;
            }
            // Steps 1-8 own the P (a block, so the guard is gone before
            // `stop` lets the P go).
            {
                let owned = self.owned_p();
                let p = &owned;
                // 1. Timers, and the tasks they readied.
                // The reading is kept for `has_passed` during the poll this
                // call leads to; with no timer pending there is none (0).
                self.last_now.set(0);
                if p.timers.next_when() != NO_TIMER {
                    let now = self.read_clock();
                    if self.fire_into(p, &p.timers, now) > 0 {
                        self.wake_for_backlog(p);
                    }
                }
                if let Some(t) = p.timer_ready_get() {
                    return Some(t);
                }
                // 2. Fairness.
                let tick = p.schedtick.load(Relaxed).wrapping_add(1);
                p.schedtick.store(tick, Relaxed);
                if tick.is_multiple_of(GLOBAL_CHECK_INTERVAL) {
                    if !shared.inject.is_empty() {
                        if let Some(t) = steal_one(&shared.inject) {
                            return Some(t);
                        }
                    }
                    // Poll the network without blocking (as tokio's driver
                    // check every 61 ticks): while every M is busy no one
                    // sleeps in the poller, and waiting for sysmon's 10 ms
                    // would stall the I/O.
                    #[cfg(not(loom))]
                    if shared.poller.has_sources() && self.netpoll_now(p) > 0 {
                        continue;
                    }
                }
                // 3. Local.
                let streak = p.runnext_streak();
                let got = if streak >= MAX_RUNNEXT_STREAK {
                    p.runqget_fair()
                } else {
                    p.runqget()
                };
                if let Some((t, from_next)) = got {
                    if from_next {
                        // Past the limit, the queue just had its turn and was
                        // empty: the count starts over with this poll (else
                        // every later poll would try the empty queue first).
                        let next = if streak >= MAX_RUNNEXT_STREAK {
                            1
                        } else {
                            streak + 1
                        };
                        p.set_runnext_streak(next);
                        let hits = &p.stats.runnext_hits;
                        hits.store(hits.load(Relaxed) + 1, Relaxed);
                    } else {
                        p.set_runnext_streak(0);
                    }
                    return Some(t);
                }
                // 4. Global batch.
                if let Some(t) = self.global_batch(p) {
                    return Some(t);
                }
                // 5. A P whose queue has not moved for 100 µs has an M that is
                // not running: its tasks would wait for the OS to run that M
                // again while fresh events keep this M busy. With a load
                // generator sharing the CPUs this cut the tail latency at the
                // same throughput (docs/perf-log.md, "Figures moved out of the
                // scheduler's comments").
                if let Some(t) = self.steal_from_stalled(p) {
                    return Some(t);
                }
                // 6. The network, without blocking, unless an M blocks in it
                // already (that M takes the events): Go's `findRunnable` polls
                // here, before it spins and steals. Stealing before this poll
                // was tried and cost throughput: moving a busy P's tasks is
                // dearer than taking fresh events. gort first polled here only
                // once spinning, so every event found this way cost a `wakep`
                // when the M stopped spinning (`reset_spinning`): with one TCP
                // connection ping-ponging between two tasks (2 Ps), every
                // round trip woke the other M, and the two took turns in the
                // poller (docs/perf-log.md, "Figures moved out of the
                // scheduler's comments").
                #[cfg(not(loom))]
                if shared.poller.has_sources()
                    && !shared.idle.holder_asleep()
                    && self.netpoll_now(p) > 0
                {
                    continue;
                }
                // 7. Spin and steal.
                let procs = shared.procs();
                let busy = procs.saturating_sub(shared.idle.npidle.load(SeqCst));
                if self.spinning.get() || 2 * shared.idle.nmspinning.load(SeqCst) < busy {
                    if !self.spinning.get() {
                        self.spinning.set(true);
                        self.info.spinning.store(true, Relaxed);
                        shared.idle.nmspinning.fetch_add(1, SeqCst);
                    }
                    if let Some(t) = self.steal_work(p) {
                        return Some(t);
                    }
                }
                // 8. Block in the netpoller with the P, if no M sleeps there.
                #[cfg(not(loom))]
                if self.netpoll_holding_p(p) {
                    continue;
                }
            }
            // 9. Stop.
            if !self.stop() {
                return None;
            }
        }
    }

    pub(super) fn global_batch(&self, p: &OwnedP<'_>) -> Option<Notified> {
        let shared = &*self.shared;
        if shared.inject.is_empty() {
            return None;
        }
        // Go's globrunqget: a fair share, at most half a local queue.
        let n =
            (shared.inject.len() / shared.procs() + 1).min(crate::sched::p::LOCAL_QUEUE_CAP / 2);
        p.with_runq(|q| loop {
            match shared.inject.steal_batch_with_limit_and_pop(q, n) {
                Steal::Success(t) => return Some(t),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        })
    }

    /// Steals from a P whose queue holds work but whose status word (bumped
    /// by every poll its M starts) has not changed for [`STALLED_NANOS`]
    /// as far as this M has seen: its M is stuck in one poll or, far more
    /// often under load, descheduled by the OS. Go has no such check: a
    /// spinning M polls the network first, and while events keep coming
    /// (a load generator sharing the CPUs) it never runs out of work to
    /// steal the stalled P's, which then wait for the OS to run its M
    /// again, a time slice of milliseconds (`docs/semantics.md`).
    ///
    /// The watch is per M and only sees what this M samples, so a stall is
    /// never reported early: `since` is when this M first saw the word.
    pub(super) fn steal_from_stalled(&self, p: &OwnedP<'_>) -> Option<Notified> {
        let shared = &*self.shared;
        let mut watch = self.stall_watch.borrow_mut();
        let mut now = 0;
        for victim in shared.allp.iter() {
            if victim.id == p.id || !victim.has_work() {
                continue;
            }
            // Relaxed: a hint; the steal itself is the deque's protocol.
            let word = victim.status.load(Relaxed);
            if now == 0 {
                // Step 1's reading when timers are pending, microseconds
                // old against the 100 µs this looks for.
                now = self.loop_clock();
            }
            if watch.len() <= victim.id {
                // `set_gomaxprocs` made more Ps since this M started.
                watch.resize(victim.id + 1, (0, 0));
            }
            let seen = &mut watch[victim.id];
            if seen.0 != word || seen.1 == 0 {
                *seen = (word, now);
                continue;
            }
            if now.saturating_sub(seen.1) < STALLED_NANOS {
                continue;
            }
            if let Some(t) = p.with_runq(|q| victim.steal_into(q, true)) {
                shared.stats.steals.fetch_add(1, Relaxed);
                tracing::trace!(thief = p.id, victim = victim.id, "steal from a stalled P");
                crate::exectrace::steal(victim.id, p.id, t.header().id.0);
                return Some(t);
            }
        }
        None
    }

    /// Go's `stealWork`, over every P made: one that `set_gomaxprocs`
    /// removed may hold a leftover (`procresize.rs`).
    pub(super) fn steal_work(&self, p: &OwnedP<'_>) -> Option<Notified> {
        let shared = &*self.shared;
        let n = shared.allp.len();
        for pass in 0..STEAL_TRIES {
            let last = pass == STEAL_TRIES - 1;
            let start = self.fastrand() as usize % n;
            for i in 0..n {
                let victim = &shared.allp[(start + i) % n];
                if victim.id == p.id {
                    continue;
                }
                if last && victim.timers.next_when() != NO_TIMER {
                    // Fire the due timers of a P whose M is busy (or of an
                    // idle P): their tasks come to our queue.
                    if self.fire_into(p, &victim.timers, shared.now()) > 0 {
                        self.wake_for_backlog(p);
                        if let Some(t) = p.timer_ready_get() {
                            return Some(t);
                        }
                    }
                }
                if let Some(t) = p.with_runq(|q| victim.steal_into(q, last)) {
                    shared.stats.steals.fetch_add(1, Relaxed);
                    tracing::trace!(thief = p.id, victim = victim.id, "steal");
                    crate::exectrace::steal(victim.id, p.id, t.header().id.0);
                    return Some(t);
                }
            }
            if let Some(t) = self.global_batch(p) {
                return Some(t);
            }
        }
        None
    }
}

fn steal_one(q: &crate::loom::deque::Injector<Notified>) -> Option<Notified> {
    loop {
        match q.steal() {
            Steal::Success(t) => return Some(t),
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}
