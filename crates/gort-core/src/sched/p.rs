//! P: a processor, the right to run tasks.
//!
//! A P owns a bounded local run queue (Go's `runq`, here a crossbeam-deque
//! FIFO `Worker` whose other end is stealable), a `runnext` slot, a second
//! stealable queue of the tasks its timers readied (`timer_ready`), and its
//! timers. An M must hold a P to run tasks; a P passes between Ms as a value
//! (an index into `allp` plus the `status` word), so a later hand-off (an M
//! blocked in a syscall, a poll that runs too long) moves the P, with its
//! queue and timers, to another M without copying anything.
//!
//! Ownership protocol: `status` goes `IDLE -> RUNNING` by a CAS with Acquire
//! when an M acquires the P, and back with a Release store when it lets go.
//! Between the two, that M alone touches the owner-only part, `Local` (the
//! push/pop ends of the two queues, the `runnext` streak), behind one
//! loom-faced `UnsafeCell`; the Acquire/Release pair orders the previous
//! owner's accesses before the next owner's. `Local` is reached only
//! through an [`OwnedP`] guard, made by the one unsafe `P::owned`: the M
//! makes it between polls (`Worker::owned_p`) or, inside a poll, between
//! `lock_owner` and `unlock_owner` (`Worker::with_owned_p`), and every
//! owner operation is a safe method on it.
//!
//! Hand-off (Go's `retake`/`handoffp`): while the owner polls a task the
//! word says `POLLING`, and while it is blocked in `gort::syscall`,
//! `SYSCALL`; in both, sysmon may CAS the word to `IDLE` and hand the P to
//! another M. So the owner, inside a poll, touches the owner-only queue
//! only between `lock_owner` (`POLLING -> LOCKED`, a CAS that fails once
//! the P is retaken) and `unlock_owner`, and ends the poll with a CAS back
//! to `RUNNING` that tells it whether it still holds the P. Each word
//! carries a sequence number bumped on every poll and syscall, so sysmon
//! retakes only if it sees the very same poll or syscall twice, a sysmon
//! period (syscall) or 10 ms (poll) apart.
//!
//! ```text
//!  IDLE ──acquire──▶ RUNNING ──begin_poll──▶ POLLING ◀─unlock_owner─ LOCKED
//!   ▲                   ▲          end_poll ──┘  │  └──lock_owner──▶
//!   │                   └────────────────────────┤
//!   └────────── sysmon retake (CAS) ◀── POLLING / SYSCALL ◀─enter_syscall
//! ```
//!
//! `runnext` (Go's `runnext`): the task woken by the task running on this P
//! runs next, inheriting the rest of the time slice, so a producer and a
//! consumer ping-pong on one P without touching the queue. Thieves may take
//! `runnext` only on their last pass, and only after sleeping 3 µs (as Go) while
//! the owner is inside a poll, so that the owner nearly always gets it first.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::loom::deque::{Steal, Stealer, Worker as Deque};

use crate::loom::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering::*, UnsafeCell};
use crate::task::{Header, Notified};
use crate::time::queue::TimerQueue;

/// Capacity of the local run queue, as in Go.
pub(crate) const LOCAL_QUEUE_CAP: usize = 256;

// The status word: `(seq << STATE_BITS) | state`. `seq` counts polls and
// syscalls, so sysmon can tell "the same poll as 10 ms ago" from a new one
// by comparing whole words.

/// The P is on the idle list (or being handed over).
pub(crate) const PIDLE: u64 = 0;
/// An M holds the P and is between polls (only the owner changes it).
pub(crate) const PRUNNING: u64 = 1;
/// The owner is polling a task: sysmon may retake the P if the same poll
/// runs on (and the owner then finds out at the end of the poll).
pub(crate) const PPOLLING: u64 = 2;
/// The owner, inside a poll, is touching the owner-only queue: not
/// retakable until it is done.
pub(crate) const PLOCKED: u64 = 3;
/// The owner is blocked in `gort::syscall`: sysmon may retake the P.
pub(crate) const PSYSCALL: u64 = 4;
const STATE_BITS: u32 = 8;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// The state part of a status word.
pub(crate) fn state(word: u64) -> u64 {
    word & STATE_MASK
}

fn with_state(word: u64, state: u64) -> u64 {
    (word & !STATE_MASK) | state
}

/// Per-P counters. Relaxed: statistics, read by `metrics()`.
#[derive(Default)]
pub(crate) struct PStats {
    pub(crate) runnext_hits: AtomicU64,
    pub(crate) polls: AtomicU64,
    /// Sampled waits of the tasks this P polled (`latency.rs`).
    pub(crate) sched_latency: super::latency::LatencyHist,
}

pub(crate) struct P {
    pub(crate) id: usize,
    /// See the module doc, "Ownership protocol".
    pub(crate) status: AtomicU64,
    /// The id and spawn site of the task being polled, for sysmon's warning
    /// about polls that run too long. Relaxed: a diagnostic.
    pub(crate) polling_task: AtomicU64,
    pub(crate) polling_site: AtomicPtr<std::panic::Location<'static>>,
    /// One `Notified` reference, or null. Owner: swap; thieves: CAS.
    runnext: AtomicPtr<Header>,
    /// What only the owner touches, through an [`OwnedP`] (module doc,
    /// "Ownership protocol").
    local: UnsafeCell<Local>,
    /// The other end of `Local::runq`.
    stealer: Stealer<Notified>,
    /// The other end of `Local::timer_ready`; thieves take from it first.
    timer_stealer: Stealer<Notified>,
    /// Set while the owner polls a task: a thief seeing it backs off before
    /// taking `runnext`. Relaxed: a hint.
    pub(crate) in_poll: AtomicBool,
    /// Written by the owner only: schedule calls, for the every-61st-tick
    /// global check. Atomic because `scheddetail` reads it from sysmon.
    pub(crate) schedtick: AtomicU32,
    pub(crate) timers: TimerQueue,
    pub(crate) stats: PStats,
}

/// The owner's part of a P: the push/pop ends of its two queues, and its
/// count of `runnext` polls in a row. Reached only through [`OwnedP`].
struct Local {
    /// The owner end of the local run queue (Go's `runq`).
    runq: Deque<Notified>,
    /// The owner end of the tasks readied by this P's M firing timers, run
    /// before the local queue (see `OwnedP::timer_ready_put`).
    timer_ready: Deque<Notified>,
    /// Consecutive `runnext` polls without taking from the queue.
    runnext_streak: u32,
}

// SAFETY: `local` (the owner ends of two deques, which are Send but not
// Sync, and a counter) is the only non-Sync field; it is touched only
// through an `OwnedP`, which exists only for the M that holds the P (module
// doc: the status word's Acquire/Release hand-over, and `lock_owner` inside
// a poll).
unsafe impl Sync for P {}

impl P {
    pub(crate) fn new(id: usize) -> P {
        let runq = Deque::new_fifo();
        let stealer = runq.stealer();
        let timer_ready = Deque::new_fifo();
        let timer_stealer = timer_ready.stealer();
        P {
            id,
            status: AtomicU64::new(PIDLE),
            polling_task: AtomicU64::new(0),
            polling_site: AtomicPtr::new(ptr::null_mut()),
            runnext: AtomicPtr::new(ptr::null_mut()),
            local: UnsafeCell::new(Local {
                runq,
                timer_ready,
                runnext_streak: 0,
            }),
            stealer,
            timer_stealer,
            in_poll: AtomicBool::new(false),
            schedtick: AtomicU32::new(0),
            timers: TimerQueue::new(),
            stats: PStats::default(),
        }
    }

    /// Takes ownership: `IDLE -> RUNNING`.
    pub(crate) fn acquire(&self) {
        let cur = self.status.load(Relaxed);
        assert_eq!(state(cur), PIDLE, "acquirep: P{} is not idle", self.id);
        // Acquire: the previous owner's accesses (released by its Release
        // store or by sysmon's retake CAS) happen before ours.
        let ok = self
            .status
            .compare_exchange(cur, with_state(cur, PRUNNING), Acquire, Relaxed);
        assert!(ok.is_ok(), "acquirep: P{} changed hands", self.id);
    }

    /// Gives ownership up: `RUNNING -> IDLE`.
    pub(crate) fn release(&self) {
        let cur = self.status.load(Relaxed);
        debug_assert_eq!(state(cur), PRUNNING);
        // Release: our owner-only accesses happen before the next owner's.
        self.status.store(with_state(cur, PIDLE), Release);
    }

    /// Owner, before a poll: `RUNNING -> POLLING(seq + 1)`. Returns the
    /// word, which the owner keeps for the calls below. A plain store:
    /// nobody else writes a RUNNING word.
    #[inline]
    pub(crate) fn begin_poll(&self) -> u64 {
        let cur = self.status.load(Relaxed);
        debug_assert_eq!(state(cur), PRUNNING);
        let word = with_state(cur.wrapping_add(1 << STATE_BITS), PPOLLING);
        // Release: sysmon, Acquiring this word, sees the task id and site
        // stored just before it.
        self.status.store(word, Release);
        word
    }

    /// Owner, after a poll: `POLLING -> RUNNING`; false if sysmon retook
    /// the P meanwhile (the caller no longer holds it).
    #[inline]
    pub(crate) fn end_poll(&self, word: u64) -> bool {
        // Acquire on failure is not needed: a caller that lost the P
        // touches nothing of it. Release on success: nothing to publish;
        // the owner keeps the P.
        self.status
            .compare_exchange(word, with_state(word, PRUNNING), Relaxed, Relaxed)
            .is_ok()
    }

    /// Puts `task` in `runnext` and returns the task it displaced. Safe
    /// without holding the P: `runnext` is an atomic slot thieves also take
    /// from, so a wake-up inside a poll needs no `lock_owner` unless it
    /// displaces a task into the queue.
    #[inline]
    pub(crate) fn put_runnext(&self, task: Notified) -> Option<Notified> {
        let new = task.into_raw().as_ptr();
        // AcqRel: Release publishes the task to a thief's CAS; Acquire
        // takes ownership of the displaced one.
        let old = self.runnext.swap(new, AcqRel);
        // SAFETY: runnext holds a Notified reference from into_raw.
        NonNull::new(old).map(|old| unsafe { Notified::from_raw(old) })
    }

    /// Whether the status word is still `word` (the owner's poll has not
    /// been retaken).
    #[inline]
    pub(crate) fn still(&self, word: u64) -> bool {
        self.status.load(Acquire) == word
    }

    /// Owner, inside a poll, before touching the owner-only queue:
    /// `POLLING -> LOCKED`, so sysmon cannot retake the P in the middle.
    /// False if it was retaken: the caller must not touch the queue.
    #[inline]
    pub(crate) fn lock_owner(&self, word: u64) -> bool {
        // Acquire pairs with `unlock_owner`'s Release (ours, from the last
        // lock) only trivially; what matters is that a retake CAS and this
        // one cannot both succeed on the same word.
        self.status
            .compare_exchange(word, with_state(word, PLOCKED), Acquire, Relaxed)
            .is_ok()
    }

    /// Owner: `LOCKED -> POLLING` after touching the queue.
    #[inline]
    pub(crate) fn unlock_owner(&self, word: u64) {
        // Release: the queue accesses happen before a later retake (whose
        // CAS Acquires) hands the P to another M.
        self.status.store(word, Release);
    }

    /// Owner, entering `gort::syscall` inside a poll: `POLLING(s) ->
    /// SYSCALL(s + 1)`. `None` if the P was retaken already.
    pub(crate) fn enter_syscall(&self, word: u64) -> Option<u64> {
        let sys = with_state(word.wrapping_add(1 << STATE_BITS), PSYSCALL);
        // Release: everything before the syscall happens before a retake.
        self.status
            .compare_exchange(word, sys, Release, Relaxed)
            .ok()
            .map(|_| sys)
    }

    /// Owner, leaving the syscall: `SYSCALL -> POLLING`, returning the new
    /// polling word; `None` if sysmon retook the P meanwhile.
    pub(crate) fn exit_syscall(&self, sys: u64) -> Option<u64> {
        let word = with_state(sys, PPOLLING);
        // Acquire: if a retake happened and then the P came back to us we
        // would not be here (we take other Ps through `acquire`).
        self.status
            .compare_exchange(sys, word, Acquire, Relaxed)
            .ok()
            .map(|_| word)
    }

    /// Sysmon: takes the P from an M blocked in a syscall or a long poll,
    /// if its status is still `seen`. On success the P is idle and the
    /// caller must hand it off.
    pub(crate) fn retake(&self, seen: u64) -> bool {
        debug_assert!(matches!(state(seen), PPOLLING | PSYSCALL));
        // AcqRel: Acquire the blocked owner's accesses (published by its
        // `unlock_owner`/`enter_syscall` Release) for the next owner.
        self.status
            .compare_exchange(seen, with_state(seen, PIDLE), AcqRel, Relaxed)
            .is_ok()
    }

    /// Owner, after acquiring a P in the middle of a poll (leaving a
    /// syscall whose P was retaken): `RUNNING -> POLLING`.
    pub(crate) fn resume_poll(&self) -> u64 {
        self.begin_poll()
    }

    /// The owner's access to this P's queues.
    ///
    /// # Safety
    /// The calling M holds this P: it acquired it (or was handed it) and has
    /// not let it go, and, inside a poll, it is between `lock_owner` and
    /// `unlock_owner` (module doc). The guard is dropped before that ends;
    /// it is not `Send`, so it stays on the M's thread.
    #[inline]
    pub(crate) unsafe fn owned(&self) -> OwnedP<'_> {
        OwnedP {
            p: self,
            _on_this_thread: PhantomData,
        }
    }

    /// Go's `runqsteal`: takes about half of this P's timer-readied tasks
    /// or, if there are none, of its queue, into `dest` (the thief's queue)
    /// and returns one task to run. On the last pass (`steal_runnext`) empty
    /// queues let the thief take `runnext`.
    pub(crate) fn steal_into(
        &self,
        dest: &Deque<Notified>,
        steal_runnext: bool,
    ) -> Option<Notified> {
        loop {
            // The timer-readied first: their deadlines have passed.
            match self
                .timer_stealer
                .steal_batch_with_limit_and_pop(dest, LOCAL_QUEUE_CAP / 2)
            {
                Steal::Success(t) => return Some(t),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        loop {
            match self
                .stealer
                .steal_batch_with_limit_and_pop(dest, LOCAL_QUEUE_CAP / 2)
            {
                Steal::Success(t) => return Some(t),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        if !steal_runnext {
            return None;
        }
        let next = self.runnext.load(Acquire);
        if next.is_null() {
            return None;
        }
        if self.in_poll.load(Relaxed) && !backoff_for_runnext(&self.runnext, next) {
            return None;
        }
        // Acquire on success: takes ownership of the task the owner published.
        match self
            .runnext
            .compare_exchange(next, ptr::null_mut(), Acquire, Relaxed)
        {
            // SAFETY: we removed the reference from runnext: it is ours.
            Ok(t) => Some(unsafe { Notified::from_raw(NonNull::new_unchecked(t)) }),
            Err(_) => None,
        }
    }

    /// Tasks in the queues plus `runnext`. Racy by nature: for metrics and
    /// for the "any work anywhere?" recheck before parking.
    pub(crate) fn len(&self) -> usize {
        self.stealer.len()
            + self.timer_stealer.len()
            + usize::from(!self.runnext.load(Acquire).is_null())
    }

    /// Whether a task is queued here (any of the queues or `runnext`).
    #[inline]
    pub(crate) fn has_work(&self) -> bool {
        !self.stealer.is_empty()
            || !self.timer_stealer.is_empty()
            || !self.runnext.load(Acquire).is_null()
    }

    /// Drops every queued task reference. Used at shutdown, with no M
    /// running.
    ///
    /// # Safety
    /// No M holds this P.
    pub(crate) unsafe fn drain(&self) {
        let t = self.runnext.swap(ptr::null_mut(), Acquire);
        if let Some(t) = NonNull::new(t) {
            // SAFETY: runnext held a Notified reference.
            drop(unsafe { Notified::from_raw(t) });
        }
        // SAFETY: no M holds the P (the contract): the caller stands in for
        // its owner.
        let owned = unsafe { self.owned() };
        owned.with(|l| {
            while l.runq.pop().is_some() {}
            while l.timer_ready.pop().is_some() {}
        });
    }
}

/// The right to touch a P's owner-only part: made by [`P::owned`] for the
/// M that holds the P, for as long as it may (module doc). What used to be
/// `unsafe fn`s with "the caller holds this P" are safe methods here; the
/// one unsafe step is making the guard.
pub(crate) struct OwnedP<'a> {
    p: &'a P,
    _on_this_thread: PhantomData<*const ()>,
}

impl std::ops::Deref for OwnedP<'_> {
    type Target = P;
    #[inline]
    fn deref(&self) -> &P {
        self.p
    }
}

impl<'a> OwnedP<'a> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&Local) -> R) -> R {
        // SAFETY: the guard exists only for the owner (`P::owned`), and
        // the owner is one thread, so no other access overlaps this one.
        self.p.local.with(|l| f(unsafe { &*l }))
    }

    #[inline]
    fn with_mut<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        // SAFETY: as `with`; the closure cannot reach the guard again, so
        // no shared access overlaps this one.
        self.p.local.with_mut(|l| f(unsafe { &mut *l }))
    }

    /// Runs `f` with the owner's end of the local queue: the destination
    /// of a steal or of a global batch.
    #[inline]
    pub(crate) fn with_runq<R>(&self, f: impl FnOnce(&Deque<Notified>) -> R) -> R {
        self.with(|l| f(&l.runq))
    }

    /// Consecutive `runnext` polls without taking from the queue.
    #[inline]
    pub(crate) fn runnext_streak(&self) -> u32 {
        self.with(|l| l.runnext_streak)
    }

    #[inline]
    pub(crate) fn set_runnext_streak(&self, n: u32) {
        self.with_mut(|l| l.runnext_streak = n);
    }

    /// Go's `runqput`. With `next`, the task goes to `runnext` and the task
    /// it displaces goes to the tail of the queue. Returns whether the queue
    /// (the stealable part) got a new task, which is when idle Ms may be worth
    /// waking. On overflow, half the queue moves to `global`.
    ///
    #[inline]
    pub(crate) fn runqput(
        &self,
        task: Notified,
        next: bool,
        global: &crate::loom::deque::Injector<Notified>,
    ) -> bool {
        let task = if next {
            let new = task.into_raw().as_ptr();
            // AcqRel: Release publishes the task to a thief's CAS; Acquire
            // takes ownership of the displaced one.
            let old = self.p.runnext.swap(new, AcqRel);
            match NonNull::new(old) {
                None => return false,
                // SAFETY: runnext holds a Notified reference from into_raw.
                Some(old) => unsafe { Notified::from_raw(old) },
            }
        } else {
            task
        };
        self.with_runq(|q| {
            q.push(task);
            if q.len() > LOCAL_QUEUE_CAP {
                // Go's runqputslow: move the older half to the global queue
                // so other Ps can take it in batches.
                for _ in 0..LOCAL_QUEUE_CAP / 2 {
                    match q.pop() {
                        Some(t) => global.push(t),
                        None => break,
                    }
                }
                tracing::trace!(
                    p = self.p.id,
                    "runq overflow: half moved to the global queue"
                );
            }
        });
        true
    }

    /// A task readied by a timer this P's M fired. Its deadline has passed,
    /// so it runs before the local queue rather than behind it: in a burst
    /// of timers the local queue overflows, and its older half, readied
    /// tasks included, would go to the back of the global queue behind any
    /// backlog there (`docs/perf-log.md` has the measurement). The queue is
    /// stealable, as the local one: a spinning M, or the M that sysmon hands
    /// this P to, takes from it first, so a task that computes on this P
    /// holds up none of the others its timers readied (Go: `runtimer` ->
    /// `ready` -> `runqput` + `wakep`; the firing M wakes one, see
    /// `Worker::fire`). At most `LOCAL_QUEUE_CAP` wait here; beyond that
    /// they take the normal path. Returns the task back when full.
    ///
    #[inline]
    pub(crate) fn timer_ready_put(&self, task: Notified) -> Result<(), Notified> {
        self.with(|l| {
            if l.timer_ready.len() >= LOCAL_QUEUE_CAP {
                return Err(task);
            }
            l.timer_ready.push(task);
            Ok(())
        })
    }

    /// Room left in the timer-ready queue: how many timers this P's M may
    /// fire now without the readied tasks spilling into the local queue
    /// (`TimerQueue::run_at_most`).
    #[inline]
    pub(crate) fn timer_ready_room(&self) -> usize {
        self.with(|l| LOCAL_QUEUE_CAP.saturating_sub(l.timer_ready.len()))
    }

    /// Takes the oldest timer-readied task.
    ///
    #[inline]
    pub(crate) fn timer_ready_get(&self) -> Option<Notified> {
        self.with(|l| l.timer_ready.pop())
    }

    /// Tasks in this P's two queues (not `runnext`): after a batch of
    /// wake-ups, more than one means work this M will not get to next.
    ///
    #[inline]
    pub(crate) fn queued(&self) -> usize {
        self.with(|l| l.runq.len() + l.timer_ready.len())
    }

    /// Go's `runqget`: `runnext` first, then the head of the queue. The bool
    /// says whether it came from `runnext`.
    ///
    #[inline]
    pub(crate) fn runqget(&self) -> Option<(Notified, bool)> {
        if !self.p.runnext.load(Relaxed).is_null() {
            // Acquire: pairs with the Release of the swap that stored it.
            let t = self.p.runnext.swap(ptr::null_mut(), Acquire);
            if let Some(t) = NonNull::new(t) {
                // SAFETY: runnext holds a Notified reference from into_raw.
                return Some((unsafe { Notified::from_raw(t) }, true));
            }
        }
        self.with(|l| l.runq.pop()).map(|t| (t, false))
    }

    /// Like `runqget` but the queue first: used when `runnext` has been taken
    /// too many times in a row, so queued tasks are not starved.
    ///
    #[inline]
    pub(crate) fn runqget_fair(&self) -> Option<(Notified, bool)> {
        if let Some(t) = self.with(|l| l.runq.pop()) {
            return Some((t, false));
        }
        self.runqget()
    }
}

impl Drop for P {
    fn drop(&mut self) {
        // SAFETY: &mut self: no M holds the P.
        unsafe { self.drain() }
    }
}

/// Go sleeps before stealing `runnext` from a P that is running
/// (`usleep(3)` in `runqgrab`), so that its owner, about to finish the
/// current poll, gets it first. So do we, the same way: a 3 µs sleep
/// request, which with Linux's default timer slack lasts ~50 µs, as Go's
/// does. Spinning a few microseconds instead let thieves take `runnext` so
/// often that tasks of a producer/consumer group bounced between Ps
/// (docs/perf-log.md, "Figures moved out of the scheduler's comments").
/// Returns false if the owner took the task meanwhile.
#[cfg(not(loom))]
fn backoff_for_runnext(slot: &AtomicPtr<Header>, seen: *mut Header) -> bool {
    std::thread::sleep(std::time::Duration::from_micros(3));
    slot.load(Relaxed) == seen
}

/// Under loom the back-off is one yield: the model explores every
/// interleaving anyway.
#[cfg(loom)]
fn backoff_for_runnext(slot: &AtomicPtr<Header>, seen: *mut Header) -> bool {
    loom::thread::yield_now();
    slot.load(Relaxed) == seen
}
