//! M: a worker thread, and its scheduling loop (Go's `schedule` and
//! `findRunnable`).
//!
//! # The loop
//!
//! An M holding a P repeats: find a runnable task, poll it. Finding one
//! (`find_runnable`) tries, in order:
//!
//! 1. the P's due timers (their tasks land in the P's timer-ready queue,
//!    stealable, and run before the local queue; with more than one, a
//!    `wakep` so that idle Ps take the rest);
//! 2. every 61st tick, one task from the global queue first, so that a pair
//!    of tasks re-waking each other through the local queue cannot starve it;
//! 3. `runnext`, then the local queue (the queue first after
//!    `MAX_RUNNEXT_STREAK` runnext polls in a row, so a ping-pong pair cannot
//!    starve it either);
//! 4. a batch from the global queue;
//! 5. a P whose queue has not moved for 100 µs: half of it
//!    (`steal_from_stalled`);
//! 6. the network, without blocking, unless an M blocks there already (Go
//!    polls here, before spinning); what it readies goes to this P's queue,
//!    with one `wakep` if more than one task came;
//! 7. spinning: if fewer than half the busy Ps have a spinning M, become one
//!    and try to steal half of another P's queue, over `STEAL_TRIES` passes in
//!    random order; the last pass also fires other Ps' due timers and may
//!    take a `runnext`;
//! 8. with sockets registered and no M asleep in the netpoller, block there
//!    keeping the P (below, "The netpoll holder");
//! 9. otherwise stop (below).
//!
//! A spinning M that finds work stops spinning and, if it was the last
//! spinning M, wakes another (Go's `resetspinning`), so that a burst of new
//! work fans out one M at a time.
//!
//! # Parking: the steps an M takes to stop (Go's "delicate dance")
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
//!
//! # The netpoll holder (tokio's worker parked on its driver)
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

use crate::loom::fence;
use std::cell::{Cell, RefCell};
use std::io;
use std::sync::Arc;

use crossbeam_deque::Steal;

use super::context;
use super::handle::Handle;
use super::idle::MPark;
use super::p::P;
use super::Shared;
use crate::loom::{lock, Ordering::*};
use crate::task::{Notified, WaitReason};
use crate::time::{clock::now_nanos, queue::NO_TIMER};

/// How soon a timer left unwatched by an M leaving its timer sleep must be
/// due for that M to wake another to watch it (`stop`): sysmon's
/// threshold for a long poll. A later one is left to sysmon, which calls
/// an M for a timer 2 ms overdue (`sysmon.rs`, step 2).
const WATCH_NANOS: u64 = super::sysmon::LONG_POLL_NANOS;

/// Passes over all Ps a spinning M makes before giving up (Go's `stealTries`).
const STEAL_TRIES: usize = 4;
/// Polls from `runnext` in a row before the queue gets a turn.
const MAX_RUNNEXT_STREAK: u32 = 16;
/// Go checks the global queue first every 61st schedule.
const GLOBAL_CHECK_INTERVAL: u32 = 61;
/// How long a P with queued work may show the same status word before a
/// spinning M steals from it (`steal_from_stalled`).
const STALLED_NANOS: u64 = 100_000;

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
    /// Whether this M's last sleep in the netpoller as the holder was
    /// shorter than `spin_nanos`: then it polls without blocking first
    /// (`netpoll_spin`).
    spin_poll: Cell<bool>,
    /// `Builder::netpoll_spin`, in nanoseconds.
    spin_nanos: u64,
}

/// The time between two polls of `netpoll_spin`. Polling back to back
/// (one `epoll_wait` every ~0.75 µs here) takes the poll set's locks often
/// enough to slow the writers whose events it waits for: on `http_hello`
/// a ~6 µs spacing was 0.6–1.8 % faster in three runs of 8 alternating
/// rounds, and 5 µs read the same as 6.
const SPIN_POLL_INTERVAL_NANOS: u64 = 5_000;

/// How close to this M's last clock reading a deadline must be for
/// `has_passed` to read the clock again rather than answer "not yet".
const NEAR_NANOS: u64 = 1_000_000;

/// Starts an M; with `start`, it begins holding that P (spinning or not).
pub(crate) fn spawn_m(
    shared: Arc<Shared>,
    n: usize,
    start: Option<(usize, bool)>,
) -> io::Result<()> {
    let mut b = std::thread::Builder::new().name(format!("{}-{}", shared.config.thread_name, n));
    if let Some(size) = shared.config.stack_size {
        b = b.stack_size(size);
    }
    let s2 = shared.clone();
    let handle = b.spawn(move || {
        // A panic here is a bug in the scheduler (task panics are caught in
        // `task::raw`): a P would be lost and the program would hang, so
        // fail loudly instead, as Go's `fatal error` does.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m_main(s2, n, start))).is_err()
        {
            eprintln!("fatal error: gort M{n} panicked in the scheduler");
            std::process::abort();
        }
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
        let now = now_nanos();
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
        let again = task.run();
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
    }

    /// The end of `execute`'s poll: this M's P goes back to `RUNNING`, or
    /// this M learns it lost it.
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
    pub(crate) fn with_owned_p<R>(&self, f: impl FnOnce(&P) -> R) -> Option<R> {
        let p = self.current_p()?;
        if !self.in_poll.get() {
            return Some(f(p));
        }
        let word = self.pword.get();
        if !p.lock_owner(word) {
            return None;
        }
        let r = f(p);
        p.unlock_owner(word);
        Some(r)
    }

    /// Whether this M still holds `p` (always, between polls; inside one,
    /// unless sysmon retook it).
    #[inline]
    pub(crate) fn holds_polled_p(&self, p: &P) -> bool {
        !self.in_poll.get() || p.still(self.pword.get())
    }

    /// Go's `entersyscall`/`exitsyscall` around `f`, which blocks this M:
    /// the P stays ours unless sysmon retakes it while `f` runs; then we
    /// take any idle P, or wait for one, before the poll goes on.
    pub(crate) fn syscall<R>(&self, f: impl FnOnce() -> R) -> R {
        let (Some(pid), true, false) = (self.p.get(), self.in_poll.get(), self.in_syscall.get())
        else {
            return f();
        };
        let p = &self.shared.allp[pid];
        let Some(sys) = p.enter_syscall(self.pword.get()) else {
            // Retaken already (a long poll): nothing of ours to lend.
            return f();
        };
        // Without a P, wake-ups made by `f` go to the global queue. (The
        // `scheddetail` mirror of `p` is left alone on this fast path.)
        self.p.set(None);
        self.in_syscall.set(true);
        crate::task::set_wait_reason(WaitReason::Syscall);
        struct Exit<'a> {
            w: &'a Worker,
            pid: usize,
            sys: u64,
        }
        impl Drop for Exit<'_> {
            // Runs on unwinding too: the M must hold a P again (or know it
            // lost it) before the poll goes on.
            fn drop(&mut self) {
                self.w.exit_syscall(self.pid, self.sys);
            }
        }
        let _exit = Exit { w: self, pid, sys };
        f()
    }

    fn exit_syscall(&self, pid: usize, sys: u64) {
        self.in_syscall.set(false);
        crate::task::set_wait_reason(WaitReason::None);
        let p = &self.shared.allp[pid];
        if let Some(word) = p.exit_syscall(sys) {
            // Fast path: the syscall was short, or nobody needed the P.
            self.p.set(Some(pid));
            self.pword.set(word);
            return;
        }
        // Slow path (Go's `exitsyscall0`): the P went to another M. Take
        // any idle P, or wait for one: at most `procs` Ms run tasks.
        tracing::debug!(p = pid, "exitsyscall: P was handed off");
        self.set_p(None);
        self.info.blocked.store(true, Relaxed);
        let shared = &self.shared;
        if let Some(np) = shared.idle.wait_for_p(&self.park, || shared.kick_holder()) {
            let pp = &self.shared.allp[np];
            pp.acquire();
            self.set_p(Some(np));
            self.pword.set(pp.resume_poll());
            pp.in_poll.store(true, Relaxed);
            self.shared.sysmon.wake_if_deep();
        }
        // `None`: shutdown; the poll finishes without a P.
        self.info.blocked.store(false, Relaxed);
        self.shared.detached_ms.fetch_sub(1, Relaxed);
    }

    /// After a poll during which this M lost its P: get one back, or park
    /// until handed one. False at shutdown.
    fn reacquire_after_handoff(&self) -> bool {
        // The poll is over: this M runs no task now.
        self.shared.detached_ms.fetch_sub(1, Relaxed);
        if self.try_idle_p(false) {
            return true;
        }
        self.stopm()
    }

    /// Go's `resetspinning`.
    fn reset_spinning(&self) {
        self.spinning.set(false);
        self.info.spinning.store(false, Relaxed);
        let prev = self.shared.idle.nmspinning.fetch_sub(1, SeqCst);
        debug_assert!(prev > 0, "nmspinning underflow");
        if prev == 1 {
            self.shared.wakep();
        }
    }

    /// Returns a task to run, or `None` at shutdown.
    fn find_runnable(&self) -> Option<Notified> {
        let shared = &*self.shared;
        loop {
            if shared.is_shutdown() {
                return None;
            }
            let p = self.current_p().expect("find_runnable without a P");
            // 1. Timers, and the tasks they readied.
            // The reading is kept for `has_passed` during the poll this
            // call leads to; with no timer pending there is none (0).
            self.last_now.set(0);
            if p.timers.next_when() != NO_TIMER {
                let now = self.read_clock();
                if self.fire(&p.timers, now) > 0 {
                    self.wake_for_backlog(p);
                }
            }
            // SAFETY: this M holds P.
            if let Some(t) = unsafe { p.timer_ready_get() } {
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
            let streak = p.runnext_streak.load(Relaxed);
            // SAFETY: this M holds P.
            let got = unsafe {
                if streak >= MAX_RUNNEXT_STREAK {
                    p.runqget_fair()
                } else {
                    p.runqget()
                }
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
                    p.runnext_streak.store(next, Relaxed);
                    let hits = &p.stats.runnext_hits;
                    hits.store(hits.load(Relaxed) + 1, Relaxed);
                } else {
                    p.runnext_streak.store(0, Relaxed);
                }
                return Some(t);
            }
            // 4. Global batch.
            if let Some(t) = self.global_batch(p) {
                return Some(t);
            }
            // 5. A P whose queue has not moved for 100 µs has an M that is
            // not running: its tasks would wait for the OS to run that M
            // again while fresh events keep this M busy. On http_hello
            // (wrk sharing the 2 CPUs) this took the p99 from 6.4 ms to
            // 4.8 ms (tokio 4.2) with the same requests/s, and left
            // tcp_echo as it was.
            if let Some(t) = self.steal_from_stalled(p) {
                return Some(t);
            }
            // 6. The network, without blocking, unless an M blocks in it
            // already (that M takes the events): Go's `findRunnable` polls
            // here, before it spins and steals. Stealing before this poll
            // was tried: on tcp_echo (50 connections, 2 Ps) it cost 18-25 %
            // of the throughput; moving a busy P's tasks is dearer than
            // taking fresh events. gort first polled here only once
            // spinning, so every event found this way cost a `wakep` when
            // the M stopped spinning (`reset_spinning`): with one TCP
            // connection ping-ponging between two tasks (2 Ps), every
            // round trip woke the other M, and the two took turns in the
            // poller: 13.6 µs a round trip, against 11.3 µs once polling
            // here (tokio 10.9).
            #[cfg(not(loom))]
            if shared.poller.has_sources()
                && !shared.idle.holder_asleep()
                && self.netpoll_now(p) > 0
            {
                continue;
            }
            // 7. Spin and steal.
            let procs = shared.procs();
            let busy = procs - shared.idle.npidle.load(SeqCst);
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
            // 9. Stop.
            if !self.stop() {
                return None;
            }
        }
    }

    fn global_batch(&self, p: &P) -> Option<Notified> {
        let shared = &*self.shared;
        if shared.inject.is_empty() {
            return None;
        }
        // Go's globrunqget: a fair share, at most half a local queue.
        let n = (shared.inject.len() / shared.procs() + 1).min(super::p::LOCAL_QUEUE_CAP / 2);
        // SAFETY: this M holds P.
        let q = unsafe { p.runq() };
        loop {
            match shared.inject.steal_batch_with_limit_and_pop(q, n) {
                Steal::Success(t) => return Some(t),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
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
    fn steal_from_stalled(&self, p: &P) -> Option<Notified> {
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
            let seen = &mut watch[victim.id];
            if seen.0 != word || seen.1 == 0 {
                *seen = (word, now);
                continue;
            }
            if now.saturating_sub(seen.1) < STALLED_NANOS {
                continue;
            }
            // SAFETY: this M holds P.
            let q = unsafe { p.runq() };
            if let Some(t) = victim.steal_into(q, true) {
                shared.stats.steals.fetch_add(1, Relaxed);
                tracing::trace!(thief = p.id, victim = victim.id, "steal from a stalled P");
                return Some(t);
            }
        }
        None
    }

    /// Go's `stealWork`.
    fn steal_work(&self, p: &P) -> Option<Notified> {
        let shared = &*self.shared;
        let n = shared.procs();
        // SAFETY: this M holds P.
        let q = unsafe { p.runq() };
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
                    if self.fire(&victim.timers, now_nanos()) > 0 {
                        self.wake_for_backlog(p);
                        // SAFETY: this M holds P.
                        if let Some(t) = unsafe { p.timer_ready_get() } {
                            return Some(t);
                        }
                    }
                }
                if let Some(t) = victim.steal_into(q, last) {
                    shared.stats.steals.fetch_add(1, Relaxed);
                    tracing::trace!(thief = p.id, victim = victim.id, "steal");
                    return Some(t);
                }
            }
            if let Some(t) = self.global_batch(p) {
                return Some(t);
            }
        }
        None
    }

    /// Parks this M (module doc, "Parking"). Returns false at shutdown, true
    /// once the M holds a P again.
    fn stop(&self) -> bool {
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
        let was_spinning = self.stop_spinning();
        loop {
            // Step 3.
            fence(SeqCst);
            if shared.any_work() && self.try_idle_p(was_spinning) {
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
                if netpoll {
                    // A kick from now on goes through the poller's waker,
                    // which breaks this poll even if it has not begun yet.
                    drop(ts);
                    #[cfg(not(loom))]
                    self.netpoll_until(until);
                    ts = lock(&shared.timer_sleep);
                } else {
                    loop {
                        let now = now_nanos();
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
                let now = now_nanos();
                for p in shared.allp.iter() {
                    self.fire(&p.timers, now);
                }
                // The poll's wake-ups were batched into the global queue:
                // wake one M for what this M will not take itself (it
                // wakes more as it finds work, `wakep`'s usual chain).
                // SeqCst fence: as step 3's, so a P released after our
                // `try_idle_p` either sees the queue or is seen by `wakep`.
                fence(SeqCst);
                let backlog = if let Some(p) = got_p.then(|| self.current_p()).flatten() {
                    // SAFETY: this M holds P.
                    shared.inject.len() + unsafe { p.queued() } > 1
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

    /// Step 8 of the loop (module doc, "The netpoll holder"): blocks in the
    /// netpoller keeping this M's P, unless no source is registered, another M
    /// sleeps there already or an M waits in `exitsyscall` for a P. Returns
    /// false in those cases (the caller stops), true once it has blocked or
    /// found work to look for.
    #[cfg(not(loom))]
    fn netpoll_holding_p(&self, p: &P) -> bool {
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
        let now = now_nanos();
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
    /// block at once. Measured in `docs/semantics.md`.
    #[cfg(not(loom))]
    fn netpoll_spin(&self, until: u64) -> bool {
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
    fn netpoll_until(&self, until: u64) {
        let timeout = (until != NO_TIMER)
            .then(|| std::time::Duration::from_nanos(until.saturating_sub(now_nanos())));
        self.netpoll_batched(timeout, true);
    }

    /// Polls the network without blocking, holding `p`, then wakes one M
    /// for the backlog, if any (`wake_for_backlog`): this M runs the first
    /// task itself. (A `wakep` per task, as a poll outside the batch mode
    /// makes, woke the other M for the one task this M was about to run:
    /// on `tcp_rtt`, every 61st tick's poll did, and 1 % of the round
    /// trips took twice as long.) Returns the number of sources made ready.
    #[cfg(not(loom))]
    fn netpoll_now(&self, p: &P) -> usize {
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
    fn netpoll_batched(&self, timeout: Option<std::time::Duration>, must: bool) -> usize {
        self.netpoll_batch.set(true);
        let n = self.shared.poller.poll(timeout, must);
        self.netpoll_batch.set(false);
        n
    }

    /// After a batch of wake-ups onto `p` (a batched poll holding it, or
    /// timers fired): they went to `p`'s queues without waking anyone, so
    /// one M for what this M will not get to soon, if the queues hold more
    /// than one task; that M wakes more as it finds work (`wakep`'s usual
    /// chain).
    fn wake_for_backlog(&self, p: &P) {
        // SAFETY: this M holds P.
        if unsafe { p.queued() } > 1 {
            self.shared.wakep();
        }
    }

    /// Leaves the spinning state, if in it (uncounted from `nmspinning`,
    /// SeqCst). Returns whether it was spinning.
    fn stop_spinning(&self) -> bool {
        let was = self.spinning.replace(false);
        self.info.spinning.store(false, Relaxed);
        if was {
            self.shared.idle.drop_spinning();
        }
        was
    }

    /// Takes an idle P if one is left. Returns whether it did.
    fn try_idle_p(&self, spinning: bool) -> bool {
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
    fn stopm(&self) -> bool {
        self.shared.stats.parks.fetch_add(1, Relaxed);
        tracing::trace!("M parks");
        match self.shared.idle.park_m(&self.park) {
            Some((p, spinning)) => {
                tracing::trace!(p, spinning, "M unparked");
                self.acquirep(p, spinning);
                true
            }
            None => false,
        }
    }
}

fn steal_one(q: &crossbeam_deque::Injector<Notified>) -> Option<Notified> {
    loop {
        match q.steal() {
            Steal::Success(t) => return Some(t),
            Steal::Retry => continue,
            Steal::Empty => return None,
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
