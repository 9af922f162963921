//! The scheduler: Go's `sched` and `allp`, with the M loop in [`worker`].
//!
//! # Concepts
//!
//! - **G** is a task (`crate::task`).
//! - **P** ([`p::P`]) is the right to run tasks: a local run queue of 256, a
//!   `runnext` slot, timers. The first `gomaxprocs` of `allp` run tasks;
//!   `set_gomaxprocs` changes how many (`procresize.rs`).
//! - **M** ([`worker::Worker`]) is an OS thread. It runs tasks only while it
//!   holds a P. Idle Ms park on their own note; idle Ps sit on `pidle`.
//! - The **global queue** (`inject`, Go's `sched.runq`) takes tasks spawned
//!   or woken from threads without a P, and the overflow of local queues.
//!
//! # Where a runnable task goes (Go's `runqput` / `globrunqput`)
//!
//! On an M of this runtime, `Worker::place` decides (the rule is in its
//! doc): `runnext` for a task woken by the one being polled, the P's
//! timer-ready queue for one a timer readied, else the tail of the P's
//! queue. From any other thread, the global queue. Then
//! [`Shared::wakep`] starts a spinning M if the stealable part of a queue
//! grew, there is an idle P and no M is spinning yet. A wake-up that only
//! fills an empty `runnext` wakes no one: the P's own M runs it as soon as
//! the current poll returns, and waking a parked thread is dear (`Shared`
//! docs and `docs/perf-log.md`).
//!
//! # One layer
//!
//! This file, `worker/`, `context.rs`, `handle.rs`, `sysmon.rs` and
//! `trace.rs` import each other: the Ms, sysmon and the thread contexts all
//! act on `Shared`, which starts them. They are one layer, below `rt.rs`
//! and above the queues, timers, netpoller and offload pool they own
//! (`tests/layers.rs` checks that no circle leaves it).
//!
//! # Rejected designs
//!
//! - One M per P with no hand-off (tokio's shape): simpler, but a P could
//!   then never move away from a blocked thread; Ps here are indices that
//!   any M can acquire, so a later hand-off only moves an index.
//! - A global timer wheel: see `time::queue` for why timers are per P.
//!
//! Shutdown, and who drains the runtime last, is in `shutdown.rs`.

pub(crate) mod allp;
pub(crate) mod block_on;
pub(crate) mod bubble;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod deadlock;
pub(crate) mod handle;
pub(crate) mod idle;
pub(crate) mod latency;
pub(crate) mod leaks;
mod os_policy;
pub(crate) mod p;
pub(crate) mod poolclean;
pub(crate) mod procresize;
pub(crate) mod shutdown;
pub(crate) mod sysmon;
pub(crate) mod trace;
pub(crate) mod worker;

use std::sync::Arc;
use std::task::Waker;

use crate::loom::deque::{Injector, Steal};

use crate::loom::{lock, AtomicU64, Condvar, Mutex, Ordering::*};
use crate::task::{Notified, OwnedTasks, Schedule, Task};
use crate::time::{entry::TimerEntry, queue::NO_TIMER};
use allp::AllP;
use config::Config;
use idle::Idle;

/// The state of the one M that sleeps until the earliest timer.
pub(crate) struct TimerSleep {
    /// An M is parked in `timer_cv` until `until`.
    pub(crate) sleeping: bool,
    pub(crate) until: u64,
    /// Set to make the sleeper re-read the timers.
    pub(crate) kicked: bool,
    /// The sleeper blocks in the netpoller (kicked through its waker), not
    /// on `timer_cv`.
    pub(crate) in_netpoll: bool,
    /// The sleeper holds its P (`Worker::netpoll_holding_p`): a kick wakes
    /// it, but it takes no idle P when it wakes.
    pub(crate) holds_p: bool,
}

impl TimerSleep {
    /// Nobody sleeps.
    fn new() -> TimerSleep {
        TimerSleep {
            sleeping: false,
            until: NO_TIMER,
            kicked: false,
            in_netpoll: false,
            holds_p: false,
        }
    }

    /// The calling M becomes the sleeper, until `until`.
    pub(crate) fn claim(&mut self, until: u64, in_netpoll: bool, holds_p: bool) {
        self.sleeping = true;
        self.until = until;
        self.kicked = false;
        self.in_netpoll = in_netpoll;
        self.holds_p = holds_p;
    }

    /// The sleeper is awake: nobody sleeps.
    pub(crate) fn clear(&mut self) {
        *self = TimerSleep::new();
    }
}

/// Runtime-wide counters. Relaxed: statistics.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) unparks: AtomicU64,
    /// Ps handed from a blocked M to another (Go's `handoffp` calls).
    pub(crate) handoffs: AtomicU64,
    /// Ps sysmon took from Ms blocked in a syscall or a long poll.
    pub(crate) sysmon_retakes: AtomicU64,
    /// Times the netpoll holder found work polling without blocking.
    pub(crate) netpoll_spins: AtomicU64,
    /// sysmon rounds that found a timer 2 ms overdue and called `wakep`
    /// (`Metrics::timer_rescues`).
    pub(crate) timer_rescues: AtomicU64,
}

pub(crate) struct Shared {
    /// Every P made; the first `gomaxprocs` (`idle.nprocs`) run tasks.
    pub(crate) allp: AllP,
    /// Held by `set_gomaxprocs` (`procresize.rs`): one resize at a time.
    pub(crate) resize: Mutex<()>,
    /// `gomaxprocs` is the default, which sysmon keeps in line with the
    /// cgroup CPU limit; false once the user chose (`procresize.rs`).
    /// Relaxed: written under `resize`, read by sysmon as a hint.
    pub(crate) procs_by_default: crate::loom::AtomicBool,
    pub(crate) inject: Injector<Notified>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) config: Config,
    pub(crate) timer_sleep: Mutex<TimerSleep>,
    pub(crate) timer_cv: Condvar,
    /// The Ms' and sysmon's join handles (offload threads are counted in
    /// `lifecycle` only), joined by a shutdown whose wait saw them all done.
    pub(crate) threads: Mutex<Vec<crate::loom::thread::JoinHandle<()>>>,
    pub(crate) stats: Stats,
    /// The `spawn_blocking` pool (`crate::blocking`).
    pub(crate) blocking: Arc<crate::blocking::pool::Pool<Notified>>,
    #[cfg(not(loom))]
    pub(crate) poller: crate::io::poller::Poller,
    pub(crate) sysmon: sysmon::SysmonPark,
    pub(crate) sysmon_started: crate::loom::AtomicBool,
    /// Every M, for `scheddetail`.
    pub(crate) ms: Mutex<Vec<Arc<trace::MInfo>>>,
    /// `Handle`s held by user code (see `rt::Handle`). Relaxed: read by the
    /// deadlock detector, which confirms what it sees twice.
    pub(crate) user_handles: std::sync::atomic::AtomicUsize,
    /// Ms running a task without a P: their P was retaken during a long
    /// poll or a syscall, and they have not got one back yet.
    pub(crate) detached_ms: std::sync::atomic::AtomicUsize,
    /// The futures of the threads inside `block_on` (`block_on.rs`), for
    /// the dump and the deadlock detector: with more than one, a parked
    /// one cannot tell what the others' futures may wake.
    pub(crate) mains: Mutex<Vec<Arc<crate::task::MainTask>>>,
    /// The runtime's threads and its shutdown (`shutdown.rs`).
    pub(crate) lifecycle: shutdown::Lifecycle,
    /// `Some` for a synctest bubble: its virtual clock and monitor
    /// (`bubble.rs`).
    pub(crate) bubble: Option<Box<bubble::Bubble>>,
    /// The execution trace `GORT_DEBUG=trace=PATH` started for this
    /// runtime (its session id), stopped when the runtime ends.
    pub(crate) exectrace: Option<u64>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> std::io::Result<Shared> {
        let procs = config.procs;
        let blocking = Arc::new(crate::blocking::pool::Pool::new(config.blocking_pool()));
        let bubble = config.synctest.then(|| Box::new(bubble::Bubble::new()));
        let procs_by_default = config.procs_by_default;
        #[cfg(not(loom))]
        let poller = crate::io::poller::Poller::new()?;
        // Last, after everything that can fail: a trace is started only
        // for a runtime that will end (and stop it).
        let exectrace = config.debug.trace.as_deref().and_then(|path| {
            crate::exectrace::start_file(path)
                .map_err(|e| eprintln!("gort: GORT_DEBUG=trace={}: {e}", path.display()))
                .ok()
        });
        Ok(Shared {
            allp: AllP::new(procs),
            resize: Mutex::new(()),
            procs_by_default: crate::loom::AtomicBool::new(procs_by_default),
            inject: Injector::new(),
            idle: Idle::new(procs),
            owned: OwnedTasks::new(procs),
            config,
            timer_sleep: Mutex::new(TimerSleep::new()),
            timer_cv: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            stats: Stats::default(),
            blocking,
            #[cfg(not(loom))]
            poller,
            sysmon: sysmon::SysmonPark::default(),
            sysmon_started: crate::loom::AtomicBool::new(false),
            ms: Mutex::new(Vec::new()),
            user_handles: std::sync::atomic::AtomicUsize::new(0),
            detached_ms: std::sync::atomic::AtomicUsize::new(0),
            mains: Mutex::new(Vec::new()),
            lifecycle: shutdown::Lifecycle::new(),
            bubble,
            exectrace,
        })
    }

    /// The time timers are kept in, as nanoseconds since the epoch: the
    /// real clock, or a bubble's virtual one (`time::clock`'s header says
    /// why this costs nothing outside a bubble).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match &self.bubble {
            None => crate::time::clock::now_nanos(),
            Some(b) => b.clock.now(),
        }
    }

    /// The goroutine dump: the `block_on` futures, then every live task.
    pub(crate) fn dump(&self) -> String {
        let mains = lock(&self.mains).clone();
        crate::task::dump(&self.owned, &mains)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.idle.shutdown.load(Acquire)
    }

    /// Pushes to the global queue and wakes an M if one is needed.
    #[inline]
    pub(crate) fn inject(self: &Arc<Self>, task: Notified) {
        self.inject.push(task);
        // `wakep` begins with a SeqCst fence (`Idle::want_spinning_m`), which
        // orders the push before the flag's load below. It pairs with
        // shutdown's SeqCst store of the flag and the fence before its final
        // drain: either this load sees the flag, or that drain sees the
        // push. Without both fences, both could miss (a store then a load on
        // each side), leaving a reference in the queue after the last drain:
        // a cycle, cell -> Shared -> queue -> cell (`blocking::Pool::submit`
        // argues the same). A `wakep` after shutdown wakes no one.
        self.wakep();
        if self.is_shutdown() {
            // A wake-up raced shutdown: the task is (or is about to be)
            // cancelled, and no M will drain the queue now.
            self.drain_inject();
        }
    }

    pub(crate) fn drain_inject(&self) {
        loop {
            match self.inject.steal() {
                Steal::Success(t) => drop(t),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    /// Go's `wakep`: start one spinning M if there is an idle P and no M is
    /// already spinning (a spinning M that finds work wakes the next one).
    #[inline]
    pub(crate) fn wakep(self: &Arc<Self>) {
        if self.idle.want_spinning_m() {
            self.startm(true);
        } else if self.idle.want_holder_kick() {
            // No idle P, but one is asleep in the netpoller with its M:
            // that M spins for the work (`Worker::netpoll_holding_p`).
            self.wake_holder();
        }
    }

    /// Breaks the wait of the M blocked in the netpoller holding its P,
    /// once its kick has been claimed (`Idle::take_holder_kick`).
    fn wake_holder(&self) {
        tracing::trace!("kick the netpoll holder");
        #[cfg(not(loom))]
        self.poller.wake();
    }

    /// Wakes the M blocked in the netpoller holding its P, if one is and
    /// nobody has yet: an M waiting for a P in `exitsyscall` needs it.
    pub(crate) fn kick_holder(&self) {
        if self.idle.take_holder_kick() {
            self.wake_holder();
        }
    }

    /// Go's `startm`: hands an idle P to an idle M (or a new one). With
    /// `spinning`, the caller already counted the M in `nmspinning`.
    pub(crate) fn startm(self: &Arc<Self>, spinning: bool) {
        let mut s = self.idle.lock();
        let Some(p) = s.pidle.pop() else {
            drop(s);
            self.undo_spinning(spinning);
            return;
        };
        self.idle.npidle.fetch_sub(1, SeqCst);
        self.start_m_on(s, p, spinning, true);
    }

    /// Hands P `p` (taken off `pidle`, or retaken by sysmon) to an idle M,
    /// or a new one within `max_threads`. With `may_kick`, an M sleeping on
    /// the timers or in the netpoller is woken to take it instead of a new
    /// thread (it takes an idle P when it wakes). Gives the P back to
    /// `pidle` when no M can take it.
    fn start_m_on(
        self: &Arc<Self>,
        mut s: idle::SchedGuard<'_>,
        p: usize,
        spinning: bool,
        may_kick: bool,
    ) {
        // An M blocked in the netpoller without a P (parking step 4; not
        // the holder, which keeps its own) is woken to take the P before an
        // idle M is: left there while every P is busy, it would be woken
        // by each I/O event onto a CPU the P-holding Ms need (a third
        // runnable thread on two CPUs, stalls of a scheduler tick seen in
        // the tour's echo act). The busy Ms poll the network themselves
        // every 61st tick and when they run out of work.
        if may_kick && self.kick_sleeping_m(true) {
            s.put_idle(&self.idle, p);
            drop(s);
            self.undo_spinning(spinning);
            return;
        }
        if let Some(m) = s.midle.pop() {
            drop(s);
            self.idle.nmidle.fetch_sub(1, Relaxed);
            self.stats.unparks.fetch_add(1, Relaxed);
            tracing::trace!(p, spinning, "unpark M");
            m.unpark_with(p, spinning);
            return;
        }
        let nthreads = self.idle.nthreads.load(Relaxed);
        let sleeper_kicked = may_kick && nthreads > 0 && self.kick_sleeping_m(false);
        if sleeper_kicked || self.is_shutdown() || nthreads >= self.config.max_threads {
            // No idle M, but one sleeps on the timers: wake it instead of
            // starting a thread; it takes an idle P when it wakes (Go wakes
            // the M blocked in the netpoller the same way). At the thread
            // cap, the next M to park takes the P instead (`wake_pending`).
            if !sleeper_kicked {
                s.wake_pending = true;
            }
            s.put_idle(&self.idle, p);
            drop(s);
            self.undo_spinning(spinning);
            return;
        }
        self.idle.nthreads.fetch_add(1, Relaxed);
        drop(s);
        if let Err(e) = worker::spawn_m(self.clone(), nthreads, Some((p, spinning))) {
            if self.is_shutdown() {
                tracing::debug!(error = %e, "no M started: the runtime is shutting down");
            } else {
                tracing::error!(error = %e, "cannot start an M");
            }
            self.give_back_p(p, spinning, true);
        }
    }

    /// Go's `handoffp`: P `p` was retaken from an M blocked in a syscall or
    /// a long poll. It goes to another M if it has work (its queue, the
    /// global queue, due timers) or if nobody else is looking for work;
    /// otherwise it goes idle, and the timer sleeper learns of its timers.
    pub(crate) fn handoffp(self: &Arc<Self>, p: usize) {
        let pp = &self.allp[p];
        self.stats.handoffs.fetch_add(1, Relaxed);
        crate::exectrace::handoff(p);
        if p >= self.procs() {
            // `set_gomaxprocs` removed it: its work goes to the others and
            // it goes off (`procresize.rs`).
            // SAFETY: the P was just retaken (its status is IDLE and the
            // caller's CAS made it so): no M holds it, and it is on no
            // list, so the caller stands in for its owner until it hands
            // the P on, as the M it would start would.
            let moved = self.move_work_off(&unsafe { pp.owned() });
            self.idle.lock().put_idle(&self.idle, p);
            if moved {
                self.wakep();
            }
            return;
        }
        let s = self.idle.lock();
        let timers = pp.timers.next_when();
        if pp.has_work() || !self.inject.is_empty() || timers <= self.now() {
            tracing::debug!(p, "handoffp: P has work");
            self.start_m_on(s, p, false, false);
            return;
        }
        if self.idle.nmspinning.load(SeqCst) + self.idle.npidle.load(SeqCst) == 0
            && !self.idle.holder_asleep()
            && self
                .idle
                .nmspinning
                .compare_exchange(0, 1, SeqCst, SeqCst)
                .is_ok()
        {
            // Nobody else is looking for work: this P's M should.
            self.start_m_on(s, p, true, false);
            return;
        }
        let mut s = s;
        s.put_idle(&self.idle, p);
        drop(s);
        if timers != NO_TIMER {
            self.kick_timer_sleeper(timers);
        }
    }

    /// `startm` could not hand P `p` to an M: back on `pidle`, and the
    /// spinning M the caller counted (and the thread, if one was counted
    /// before it failed to start) uncounted.
    fn give_back_p(&self, p: usize, spinning: bool, thread_counted: bool) {
        {
            let mut s = self.idle.lock();
            // The M it was for never started: the next M to park takes it.
            s.wake_pending = true;
            s.put_idle(&self.idle, p);
            if thread_counted {
                self.idle.nthreads.fetch_sub(1, Relaxed);
            }
        }
        self.undo_spinning(spinning);
    }

    fn undo_spinning(&self, spinning: bool) {
        if spinning {
            self.idle.drop_spinning();
        }
    }

    /// The earliest timer over all Ps made (those `set_gomaxprocs`
    /// removed too: `procresize.rs`, "Leftovers").
    pub(crate) fn earliest_timer(&self) -> u64 {
        self.allp
            .iter()
            .map(|p| p.timers.next_when())
            .min()
            .unwrap_or(NO_TIMER)
    }

    /// Whether any queue holds a task (of every P made, as
    /// `earliest_timer`).
    pub(crate) fn any_work(&self) -> bool {
        !self.inject.is_empty() || self.allp.iter().any(|p| p.has_work())
    }

    /// Arms a timer from a thread that holds no P of this runtime: it goes
    /// to a P picked by task-id-free round robin, and the timer sleeper is
    /// woken if the deadline is earlier than the one it sleeps until (Go's
    /// `wakeNetPoller`).
    fn add_remote_timer(self: &Arc<Self>, when: u64, waker: &Waker) -> Arc<TimerEntry> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let p = &self.allp[NEXT.fetch_add(1, Relaxed) % self.procs()];
        let entry = p.timers.arm(when, waker);
        self.kick_timer_sleeper(when);
        entry
    }

    /// Wakes the M sleeping on the timers or in the netpoller, if one is;
    /// with `netpoll_only`, only one blocked in the netpoller. Returns
    /// whether it did (the M takes an idle P, if any, when it wakes).
    ///
    /// With `netpoll_only`, a sleeper kicked already but not yet awake also
    /// counts, when no P but the caller's is idle: it takes that P when it
    /// wakes. (`start_m_on` calls this with the P off `pidle` and the
    /// scheduler lock held, so the sleeper's `take_p` comes after the P is
    /// back.) Waking an idle M as well would leave the sleeper no P: it
    /// would park again while the other M ran, the two trading places on
    /// every burst of events, for fewer requests a second and more
    /// context switches (docs/perf-log.md, "Figures moved out of the
    /// scheduler's comments").
    pub(crate) fn kick_sleeping_m(&self, netpoll_only: bool) -> bool {
        let mut ts = lock(&self.timer_sleep);
        // A sleeper holding its P takes no idle P when it wakes.
        if !ts.sleeping || ts.holds_p || (netpoll_only && !ts.in_netpoll) {
            return false;
        }
        if netpoll_only && ts.kicked {
            return self.idle.npidle.load(SeqCst) == 0;
        }
        self.kick(&mut ts);
        true
    }

    /// Makes the sleeper re-read the timers: through the netpoller's
    /// waker if it blocks there, else `timer_cv`. With `ts` locked.
    pub(crate) fn kick(&self, ts: &mut TimerSleep) {
        ts.kicked = true;
        #[cfg(not(loom))]
        if ts.in_netpoll {
            self.poller.wake();
            return;
        }
        self.timer_cv.notify_one();
    }

    /// Loom only: the model's clock moves to `t`, and a timed wait that
    /// would have ended by then ends (loom has no timeouts: the one timed
    /// wait an M makes, the timer sleep in `park.rs` step 4, is woken here
    /// as its timeout would wake it).
    #[cfg(loom)]
    pub(crate) fn loom_time_passes(&self, t: u64) {
        crate::time::clock::loom_set_now(t);
        let _ts = lock(&self.timer_sleep);
        self.timer_cv.notify_all();
    }

    /// Makes sure some M will fire a timer due at `when`.
    pub(crate) fn kick_timer_sleeper(self: &Arc<Self>, when: u64) {
        let mut ts = lock(&self.timer_sleep);
        if ts.sleeping {
            if when < ts.until {
                self.kick(&mut ts);
            }
            return;
        }
        drop(ts);
        // No M sleeps on the timers: either every M is busy (they check
        // their P's timers on each schedule) or an idle P exists, in which
        // case a spinning M will find the timer before it parks.
        self.wakep();
    }
}

/// Arms a timer for the current runtime: on the current P if this thread is
/// an M holding one, otherwise on a P picked by the runtime. Returns `None`,
/// arming nothing, when `when` has already passed.
///
/// On an M, "passed" is read off the clock reading its scheduler loop took
/// last ([`Worker::has_passed`](worker::Worker::has_passed)), so arming a
/// far deadline (a server's per-request timeout) reads no clock.
///
/// # Panics
///
/// Outside a gort runtime.
pub(crate) fn add_timer(when: u64, waker: &Waker) -> Option<Arc<TimerEntry>> {
    let local = context::with_worker(|w| {
        let w = w?;
        let p = w.current_p()?;
        Some((!w.has_passed(when)).then(|| p.timers.arm(when, waker)))
    });
    if let Some(e) = local {
        return e;
    }
    context::with_current(|h| {
        match h {
        Some(h) if when <= h.shared.now() => None,
        Some(h) => Some(h.shared.add_remote_timer(when, waker)),
        None => panic!("gort::time futures must be polled inside a gort runtime (none is entered on this thread)"),
    }
    })
}

impl Shared {
    /// Puts a runnable task on this M's P if this thread is an M of this
    /// runtime holding one (in `runnext` when `use_runnext` says so for this
    /// M), else on the global queue; then wakes an M if the task is
    /// stealable.
    ///
    /// `self` is used after `task` is published, so it is never the handle
    /// inside a task's cell (state.rs invariant 7; `Schedule for
    /// Arc<Shared>` below passes the M's own or a clone).
    #[inline]
    fn push_runnable(
        self: &Arc<Self>,
        task: Notified,
        use_runnext: impl FnOnce(&worker::Worker) -> bool,
    ) {
        context::with_worker(|w| self.push_runnable_on(w, task, use_runnext));
    }

    /// [`Shared::push_runnable`], with this thread's M record (if any)
    /// already looked up.
    #[inline]
    fn push_runnable_on(
        self: &Arc<Self>,
        w: Option<&worker::Worker>,
        task: Notified,
        use_runnext: impl FnOnce(&worker::Worker) -> bool,
    ) {
        let res = match w.filter(|w| Arc::ptr_eq(&w.shared, self)) {
            Some(w) => {
                if w.sample_wakeup() {
                    stamp_runnable(&task);
                }
                let next = use_runnext(w);
                w.place(task, next)
            }
            None => Err(task),
        };
        match res {
            Ok(true) => self.wakep(),
            Ok(false) => {}
            Err(task) => {
                if latency::sample_foreign_wakeup() {
                    stamp_runnable(&task);
                }
                self.inject(task)
            }
        }
    }

    /// A newly spawned task: `runnext` of the spawning P, as Go's `newproc`.
    pub(crate) fn schedule_new(self: &Arc<Self>, task: Notified) {
        crate::exectrace::spawn(task.header().id.0);
        self.push_runnable(task, |_| true);
    }
}

/// Marks `task` as made runnable now, for the scheduling-latency sample
/// (`latency.rs`). A stamp of 0 means "not sampled", so 0 ns reads as 1.
#[inline]
pub(crate) fn stamp_runnable(task: &Notified) {
    let now = crate::time::clock::now_nanos().max(1);
    task.header().runnable_since.store(now, Relaxed);
}

impl Schedule for Arc<Shared> {
    #[inline]
    unsafe fn schedule(this: *const Self, task: Notified, yielded: bool) {
        // Woken by the task this M is polling: runnext (Go's `ready`).
        // Yielding, or woken by a timer between polls: the queue's tail.
        let use_runnext = |w: &worker::Worker| !yielded && w.in_poll();
        // SAFETY: `task` is not published yet, so the cell holding `*this`
        // is alive; the reference ends with this statement.
        let cell_shared = Arc::as_ptr(unsafe { &*this });
        // From here on `*this` is not read (the trait's contract): the push
        // goes through a handle that outlives it, this M's own when it
        // belongs to the same runtime, else a clone taken before the push.
        context::with_worker(|w| match w {
            Some(w) if std::ptr::eq(Arc::as_ptr(&w.shared), cell_shared) => {
                w.shared.push_runnable_on(Some(w), task, use_runnext)
            }
            _ => {
                // SAFETY: as above: not published yet.
                let own = unsafe { (*this).clone() };
                own.push_runnable_on(w, task, use_runnext);
            }
        });
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.release(task)
    }
}
