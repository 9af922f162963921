//! M: a worker thread, and its scheduling loop (Go's `schedule` and
//! `findRunnable`), in rooms by the stages of Go's `schedule()`:
//!
//! - this file: the M's record ([`Worker`]), its thread's main loop (find a
//!   task, run it, again), running one poll (`execute`), the P's
//!   owner-only access during a poll, and the clock the loop reads once a
//!   pass;
//! - `find.rs`: where the next task comes from (timers, the global queue,
//!   the local queue, stalled Ps, the network, stealing), and the spinning
//!   rules;
//! - `park.rs`: how an M with nothing to do gives up its P and sleeps (Go's
//!   "delicate dance"), or sleeps on the timers;
//! - `netpoll.rs`: the M that blocks in the netpoller keeping its P (the
//!   holder), and the batched polls;
//! - `syscall.rs`: `gort::syscall`'s enter and exit, and the hand-off of a
//!   P that sysmon retook.
//!
//! # The loop
//!
//! An M holding a P repeats: find a runnable task (`find_runnable`), poll
//! it (`execute`). A spinning M that finds work stops spinning and, if it
//! was the last spinning M, wakes another (Go's `resetspinning`), so that a
//! burst of new work fans out one M at a time. A poll that hands its task
//! back (woken during the poll, or yielding) is requeued by the M at its
//! P's tail, through the M's own handle on the runtime (`task/state.rs`,
//! invariant 7). An M that lost its P during a poll (sysmon retook it)
//! takes an idle one or parks.

use std::cell::{Cell, RefCell};
use std::io;
use std::sync::Arc;

use super::context;
use super::handle::Handle;
use super::idle::MPark;
use super::p::{OwnedP, P};
use super::Shared;
use crate::loom::{lock, Ordering::*};
use crate::task::Notified;
use crate::time::clock::now_nanos;

mod find;
#[cfg(not(loom))]
mod netpoll;
mod park;
pub(crate) mod syscall;

/// One M's record, reachable from its thread through `context::with_worker`.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    park: Arc<MPark>,
    /// The P this M holds.
    p: Cell<Option<usize>>,
    spinning: Cell<bool>,
    /// True while a task is being polled on this M.
    in_poll: Cell<bool>,
    /// True while this M blocks in the netpoller: the tasks the poll
    /// readies go to its P's queue if it holds one (`netpoll_holding_p`),
    /// else to the global queue, without waking an M each; after the poll
    /// this M wakes one M for the rest (Go's `findRunnable` +
    /// `injectglist`).
    netpoll_batch: Cell<bool>,
    /// Per P: its status word as this M last saw it while the P had work,
    /// and since when (`steal_from_stalled`).
    stall_watch: RefCell<Vec<(u64, u64)>>,
    /// While polling: the P's status word this M set (`P::begin_poll`).
    pword: Cell<u64>,
    /// True while this M is blocked in `gort::syscall`.
    in_syscall: Cell<bool>,
    /// What `scheddetail` shows of this M.
    info: Arc<super::trace::MInfo>,
    /// True while this M fires timers while holding a P.
    firing: Cell<bool>,
    rng: Cell<u64>,
    /// Counts the wake-ups this M makes, to time one in
    /// `latency::SAMPLE_PERIOD`.
    sample_tick: Cell<u32>,
    /// The clock (`now_nanos`) as this M read it for its timers in the
    /// current `find_runnable` or the poll it led to, or 0 (`has_passed`).
    last_now: Cell<u64>,
    #[cfg_attr(loom, allow(dead_code))]
    /// Whether this M's last sleep in the netpoller as the holder was
    /// shorter than `spin_nanos`: then it polls without blocking first
    /// (`netpoll_spin`).
    spin_poll: Cell<bool>,
    #[cfg_attr(loom, allow(dead_code))]
    /// `Builder::netpoll_spin`, in nanoseconds.
    spin_nanos: u64,
}

/// How close to this M's last clock reading a deadline must be for
/// `has_passed` to read the clock again rather than answer "not yet".
const NEAR_NANOS: u64 = 1_000_000;

/// Starts an M; with `start`, it begins holding that P (spinning or not).
/// Its thread runs the user's thread hooks (`Builder::on_thread_start`,
/// `on_thread_stop`) around its loop and is named by `thread_name_fn` if
/// set. Fails once the runtime has ended (`shutdown.rs`, invariant 2).
pub(crate) fn spawn_m(
    shared: Arc<Shared>,
    n: usize,
    start: Option<(usize, bool)>,
) -> io::Result<()> {
    // Counted before it exists, so that shutdown waits for it and the last
    // thread out drains (`shutdown.rs`); refused once the runtime ended.
    let Some(ticket) = super::shutdown::Ticket::register(&shared) else {
        return Err(io::Error::other("the gort runtime has shut down"));
    };
    let name = shared
        .config
        .hooks
        .thread_name(|| format!("{}-{}", shared.config.thread_name, n));
    let mut b = crate::loom::thread::Builder::new().name(name);
    if let Some(size) = shared.config.stack_size {
        b = b.stack_size(size);
    }
    let s2 = shared.clone();
    // If the spawn fails, the closure and its ticket drop here, uncounting
    // the thread that never ran.
    let handle = b.spawn(move || {
        // Before the start hook, which may record trace events.
        crate::exectrace::set_m(n);
        // The start hook before any work; the stop hook (and the count's
        // decrement) when `_thread` drops, after the loop and its guards.
        let _thread = ticket.start();
        // A panic here is a bug in the scheduler (task panics are caught in
        // `task::raw`): a P would be lost and the program would hang, so
        // fail loudly instead, as Go's `fatal error` does. Under loom the
        // panic is the model's failure: loom reports it.
        #[cfg(not(loom))]
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m_main(s2, n, start))).is_err()
        {
            eprintln!("fatal error: gort M{n} panicked in the scheduler");
            std::process::abort();
        }
        #[cfg(loom)]
        m_main(s2, n, start);
    })?;
    lock(&shared.threads).push(handle);
    Ok(())
}

fn m_main(shared: Arc<Shared>, n: usize, start: Option<(usize, bool)>) {
    // An M that sysmon started inherited its SCHED_BATCH.
    super::os_policy::unbatch_m();
    let w = Worker {
        shared: shared.clone(),
        park: Arc::new(MPark::new()),
        p: Cell::new(None),
        spinning: Cell::new(false),
        in_poll: Cell::new(false),
        netpoll_batch: Cell::new(false),
        stall_watch: RefCell::new(vec![(0, 0); shared.procs()]),
        pword: Cell::new(0),
        in_syscall: Cell::new(false),
        info: Arc::new(super::trace::MInfo::new(n)),
        firing: Cell::new(false),
        sample_tick: Cell::new(0),
        last_now: Cell::new(0),
        spin_poll: Cell::new(false),
        spin_nanos: u64::try_from(shared.config.netpoll_spin.as_nanos()).unwrap_or(u64::MAX),
        rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9)),
    };
    lock(&shared.ms).push(w.info.clone());
    super::sysmon::start(&shared);
    let _worker = context::set_worker(&w);
    let _enter = context::enter(Handle::internal(shared.clone()));
    let _span = tracing::trace_span!("gort-m", m = n).entered();
    match start {
        Some((p, spinning)) => w.acquirep(p, spinning),
        None => {
            if !w.stopm() {
                return;
            }
        }
    }
    while let Some(task) = w.find_runnable() {
        if w.spinning.get() {
            w.reset_spinning();
        }
        w.execute(task);
        if w.p.get().is_none() && !w.reacquire_after_handoff() {
            return;
        }
    }
    if let Some(p) = w.p.take() {
        shared.allp[p].release();
    }
}

impl Worker {
    /// The P this M holds, if any.
    #[inline]
    pub(crate) fn current_p(&self) -> Option<&P> {
        self.p.get().map(|i| &self.shared.allp[i])
    }

    #[inline]
    pub(crate) fn in_poll(&self) -> bool {
        self.in_poll.get()
    }

    #[inline]
    pub(crate) fn firing_timers(&self) -> bool {
        self.firing.get()
    }

    /// Whether wake-ups on this M are batched (see `netpoll_batch`).
    pub(crate) fn netpoll_batch(&self) -> bool {
        self.netpoll_batch.get()
    }

    /// Whether the deadline `when` has passed, for a timer about to be
    /// armed by the task this M is polling. `last_now` is the clock as this
    /// M read it for its timers when it picked that task (or later in the
    /// poll), so it has passed and is at most the poll's run time old. A
    /// deadline before it has passed; one within [`NEAR_NANOS`] after it is
    /// checked against the clock; one further out is taken as not passed
    /// without reading the clock. With no reading (no timer was pending),
    /// the clock is read.
    ///
    /// "Not passed" is wrong only for a deadline that passed during a poll
    /// that has run longer than the gap: the timer is armed already due,
    /// and this P's next timer check, at the start of the next
    /// `find_runnable`, fires it. So a sleep never ends early and ends late
    /// by at most one trip through the scheduler, while a server that arms
    /// a 30 s timeout per request (hyper's header-read timeout) reads no
    /// clock for it.
    #[inline]
    pub(crate) fn has_passed(&self, when: u64) -> bool {
        let last = self.last_now.get();
        if last != 0 {
            if when <= last {
                return true;
            }
            if when - last > NEAR_NANOS {
                return false;
            }
        }
        when <= self.read_clock()
    }

    /// Reads the clock and keeps the reading for the rest of this
    /// `find_runnable` and the poll it leads to (`last_now`).
    fn read_clock(&self) -> u64 {
        let now = self.shared.now();
        self.last_now.set(now);
        now
    }

    /// The clock as this `find_runnable` already read it, or read now: a
    /// check that counts in tens of microseconds needs no second reading
    /// in the same pass.
    fn loop_clock(&self) -> u64 {
        match self.last_now.get() {
            0 => self.read_clock(),
            now => now,
        }
    }

    /// Fires the due timers of `timers` with this M's P receiving the
    /// readied tasks first (`P::timer_ready_put`, stealable). A caller
    /// holding a P then calls [`Worker::wake_for_backlog`], so that a burst
    /// of timers fans out to idle Ps (Go's `ready` calls `wakep`).
    fn fire(&self, timers: &crate::time::queue::TimerQueue, now: u64) -> usize {
        self.firing.set(true);
        let n = timers.run(now);
        self.firing.set(false);
        n
    }

    /// As [`fire`](Worker::fire), holding `p`, but no more timers than
    /// `p`'s timer-ready queue has room for (`TimerQueue::run_at_most`):
    /// the rest stay due in their heap rather than spill behind the global
    /// queue. The hot paths (`find_runnable`'s step 1 and a thief's last
    /// pass) use this; the park and netpoll paths, which fire every P's
    /// timers when the runtime was idle, use `fire`.
    fn fire_into(
        &self,
        p: &OwnedP<'_>,
        timers: &crate::time::queue::TimerQueue,
        now: u64,
    ) -> usize {
        let room = p.timer_ready_room();
        self.firing.set(true);
        let n = timers.run_at_most(now, room);
        self.firing.set(false);
        n
    }

    fn acquirep(&self, p: usize, spinning: bool) {
        self.shared.allp[p].acquire();
        self.set_p(Some(p));
        self.spinning.set(spinning);
        self.info.spinning.store(spinning, Relaxed);
        self.shared.sysmon.wake_if_deep();
    }

    /// Records the P this M holds (and mirrors it for `scheddetail`).
    fn set_p(&self, p: Option<usize>) {
        self.p.set(p);
        self.info.p.store(p.unwrap_or(usize::MAX), Relaxed);
    }

    fn fastrand(&self) -> u64 {
        // xorshift64*: statistical quality is irrelevant, speed is not.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Whether the wake-up this M is making now is one to time
    /// (`latency.rs`).
    #[inline]
    pub(crate) fn sample_wakeup(&self) -> bool {
        let t = self.sample_tick.get().wrapping_add(1);
        self.sample_tick.set(t);
        t.is_multiple_of(super::latency::SAMPLE_PERIOD)
    }

    #[inline]
    fn execute(&self, task: Notified) {
        let p = self.current_p().expect("execute without a P");
        let header = task.header();
        let since = header.runnable_since.load(Relaxed);
        if since != 0 {
            header.runnable_since.store(0, Relaxed);
            p.stats
                .sched_latency
                .record(now_nanos().saturating_sub(since));
        }
        p.in_poll.store(true, Relaxed);
        self.pword.set(p.begin_poll());
        self.in_poll.set(true);
        p.polling_task.store(header.id.0, Relaxed);
        p.polling_site
            .store(header.spawned_at as *const _ as *mut _, Relaxed);
        let id = header.id.0;
        let traced = crate::exectrace::poll_begin(id, || header.name.as_deref());
        let again = task.run();
        crate::exectrace::poll_end(traced, id, p.id);
        self.in_poll.set(false);
        self.end_poll();
        if let Some(task) = again {
            // Woken during its poll, or yielding: the tail of this P's
            // queue (the global queue if the P was retaken meanwhile),
            // pushed through this M's own handle, not the one in the cell
            // (state.rs invariant 7). After `end_poll`, so the queue is
            // this M's to touch.
            self.shared.push_runnable(task, |_| false);
        }
        crate::exectrace::after_poll(traced);
    }

    /// The end of `execute`'s poll: this M's P goes back to `RUNNING`, or
    /// this M learns it lost it.
    #[inline]
    fn end_poll(&self) {
        // The poll may have moved this M to another P (a syscall whose P
        // was retaken), or lost its P to sysmon (a poll that ran too long).
        let Some(p) = self.current_p() else {
            return;
        };
        p.in_poll.store(false, Relaxed);
        if !p.end_poll(self.pword.get()) {
            tracing::debug!(p = p.id, "P retaken during a long poll");
            self.set_p(None);
            return;
        }
        // Owner-only counter: a plain load and store, no read-modify-write.
        p.stats
            .polls
            .store(p.stats.polls.load(Relaxed) + 1, Relaxed);
    }

    /// Runs `f` with this M's P, if it still holds it. Inside a poll the P
    /// may be retaken by sysmon at any moment, so the owner-only parts are
    /// touched between `lock_owner` and `unlock_owner` (module doc of
    /// `p.rs`); `None` if the P is gone.
    #[inline]
    pub(crate) fn with_owned_p<R>(&self, f: impl FnOnce(&OwnedP<'_>) -> R) -> Option<R> {
        if !self.in_poll.get() {
            return self.current_p().map(|_| f(&self.owned_p()));
        }
        let p = self.current_p()?;
        let word = self.pword.get();
        if !p.lock_owner(word) {
            return None;
        }
        // SAFETY: inside a poll, between `lock_owner` and `unlock_owner`:
        // sysmon cannot retake the P meanwhile (p.rs, "Hand-off"), and the
        // guard lives only for `f`.
        let r = f(&unsafe { p.owned() });
        p.unlock_owner(word);
        Some(r)
    }

    /// This M's P, as its owner, between polls.
    ///
    /// # Panics
    ///
    /// Without a P, or inside a poll (where `with_owned_p` takes the
    /// owner's lock first).
    #[inline]
    pub(super) fn owned_p(&self) -> OwnedP<'_> {
        assert!(!self.in_poll.get(), "owned_p inside a poll");
        let p = self.current_p().expect("owned_p without a P");
        // SAFETY: between polls this M holds its P: only this M lets go of
        // it (`release` in `stop`, or a hand-off it makes), and sysmon
        // retakes only a P whose word says POLLING or SYSCALL, which this
        // M's P does not between polls (p.rs, "Ownership protocol").
        unsafe { p.owned() }
    }

    /// Whether this M still holds `p` (always, between polls; inside one,
    /// unless sysmon retook it).
    #[inline]
    pub(crate) fn holds_polled_p(&self, p: &P) -> bool {
        !self.in_poll.get() || p.still(self.pword.get())
    }

    /// After a batch of wake-ups onto `p` (a batched poll holding it, or
    /// timers fired): they went to `p`'s queues without waking anyone, so
    /// one M for what this M will not get to soon, if the queues hold more
    /// than one task; that M wakes more as it finds work (`wakep`'s usual
    /// chain).
    #[inline]
    fn wake_for_backlog(&self, p: &OwnedP<'_>) {
        if p.queued() > 1 {
            self.shared.wakep();
        }
    }

    /// Where a task made runnable on this M goes: the placement rule, Go's
    /// `ready` / `runqput` / `globrunqput`. In order:
    ///
    /// 1. Woken by the task this M is polling (`next`, not while firing
    ///    timers): this P's `runnext` (Go's `ready`), so a producer and its
    ///    consumer run back to back; the task it displaces goes to the tail
    ///    of the local queue. `runnext` is an atomic slot, so the common
    ///    case touches no guarded queue.
    /// 2. Readied by a timer this M fires: this P's timer-ready queue (run
    ///    before the local queue, stealable), or the tail when it is full.
    /// 3. Otherwise (yielding, woken between polls, a batched netpoll
    ///    holding the P): the tail of this P's local queue; half of it moves
    ///    to the global queue when it overflows.
    /// 4. A batched netpoll without a P (the sleeper in `park.rs`, step 4):
    ///    the global queue.
    /// 5. No P (it was retaken during the poll): `Err(task)`, for the
    ///    caller to put on the global queue.
    ///
    /// `Ok(wake)` says whether an M should be woken for it: the stealable
    /// part of a queue grew (or the P was retaken under a `runnext` put),
    /// outside a batched poll, which wakes one M for its whole batch
    /// afterwards (`wake_for_backlog`, and `park.rs` step 4).
    #[inline]
    pub(crate) fn place(&self, task: Notified, next: bool) -> Result<bool, Notified> {
        let mut task = task;
        let mut next = next;
        if next && !self.firing_timers() {
            if let Some(p) = self.current_p() {
                match p.put_runnext(task) {
                    // If the P was retaken under us, wake an M for it.
                    None => return Ok(!self.holds_polled_p(p)),
                    Some(displaced) => {
                        task = displaced;
                        next = false;
                    }
                }
            }
        }
        let mut task = Some(task);
        let pushed = self.with_owned_p(|p| {
            let t = task.take().expect("pushed once");
            let t = if self.firing_timers() {
                match p.timer_ready_put(t) {
                    Ok(()) => return false,
                    Err(t) => t,
                }
            } else {
                t
            };
            p.runqput(t, next, &self.shared.inject)
        });
        match pushed {
            Some(wake) => Ok(wake && !self.netpoll_batch()),
            None if self.netpoll_batch() => {
                self.shared.inject.push(task.take().expect("not pushed"));
                Ok(false)
            }
            None => Err(task.take().expect("not pushed")),
        }
    }
}
