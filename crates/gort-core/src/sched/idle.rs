//! The scheduler lock's contents: idle Ps and idle Ms (Go's `sched.pidle`
//! and `sched.midle`), with the counters that let hot paths decide without
//! taking the lock whether waking anyone is worth it.
//!
//! `npidle` and `nmspinning` are read and written SeqCst. They are the two
//! halves of Go's wake-up protocol (proc.go, "Worker thread parking/
//! unparking"): a submitter publishes work, then reads them (`wakep`); an M
//! going idle publishes `npidle`/`nmspinning`, then re-reads every queue.
//! Sequential consistency on both sides means at least one of the two sees
//! the other, so work is never left with every M parked.
//!
//! `np_holder` is a third party to the same protocol: an M that blocks in
//! the netpoller keeping its P (`Worker::netpoll_holding_p`) publishes it,
//! then re-reads every queue; a submitter whose `wakep` finds no idle P and
//! no spinning M reads it and kicks that M awake. The same argument holds:
//! either the M sees the work, or the submitter sees the M.

use crate::loom::{fence, lock, AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering::*};
use crate::time::queue::Padded;
use std::sync::Arc;

/// One M's parking spot (Go's `m.park` note plus `m.nextp`).
pub(crate) struct MPark {
    note: Mutex<Note>,
    cv: Condvar,
}

#[derive(Default)]
struct Note {
    /// A P handed to this M by `startm`, and whether it starts spinning.
    nextp: Option<(usize, bool)>,
    /// Set at shutdown.
    exit: bool,
}

/// What woke a parked M.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unparked {
    /// Handed P `.0`; spinning if `.1`.
    P(usize, bool),
    Exit,
}

impl MPark {
    pub(crate) fn new() -> MPark {
        MPark {
            note: Mutex::new(Note::default()),
            cv: Condvar::new(),
        }
    }

    /// Parks until handed a P or told to exit.
    pub(crate) fn park(&self) -> Unparked {
        let mut n = lock(&self.note);
        loop {
            if n.exit {
                return Unparked::Exit;
            }
            if let Some((p, spinning)) = n.nextp.take() {
                return Unparked::P(p, spinning);
            }
            n = wait(&self.cv, n);
        }
    }

    /// Hands P `p` to this M (Go's `notewakeup(&mp.park)` after setting
    /// `mp.nextp`).
    pub(crate) fn unpark_with(&self, p: usize, spinning: bool) {
        let mut n = lock(&self.note);
        debug_assert!(n.nextp.is_none());
        n.nextp = Some((p, spinning));
        drop(n);
        self.cv.notify_one();
    }

    pub(crate) fn unpark_exit(&self) {
        lock(&self.note).exit = true;
        self.cv.notify_one();
    }
}

fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    #[cfg(loom)]
    {
        cv.wait(g).unwrap()
    }
    #[cfg(not(loom))]
    {
        cv.wait(g).unwrap_or_else(|e| e.into_inner())
    }
}

/// The scheduler lock, held.
pub(crate) type SchedGuard<'a> = MutexGuard<'a, Sched>;

/// Guarded by the scheduler lock.
pub(crate) struct Sched {
    pub(crate) pidle: Vec<usize>,
    pub(crate) midle: Vec<Arc<MPark>>,
    /// Ms back from a syscall whose P was retaken, waiting in the middle
    /// of a poll for any P (Go's `exitsyscall0` → `stopm`). A P that
    /// becomes idle goes to the first of them before `pidle`.
    pub(crate) exitq: std::collections::VecDeque<Arc<MPark>>,
    /// Per P made: true while it is past `gomaxprocs` and no M holds it
    /// (`procresize.rs`). Such a P is on neither list; growing puts it
    /// back on `pidle`.
    pub(crate) off: Vec<bool>,
    /// A `startm` found no idle M and could start no thread (`max_threads`
    /// reached, or the spawn failed), so it put its P back idle with work
    /// waiting for it. The next M about to park takes an idle P and spins
    /// instead (`Idle::park_m`): an M that has done its last re-check of
    /// the queues but not yet pushed itself on `midle` would otherwise
    /// park with the work stranded (found by `loom_sched.rs`; Go's
    /// `sched.needspinning` closes a window of the same kind, and Go has no
    /// thread cap to hit below its fatal 10,000).
    pub(crate) wake_pending: bool,
}

impl Sched {
    /// Go's `pidleput`, preceded by the hand-off to an M waiting in
    /// `exitsyscall`. A P that `set_gomaxprocs` removed goes off instead
    /// (`procresize.rs`): no M may take it. Returns whether the P went
    /// idle (or off).
    pub(crate) fn put_idle(&mut self, idle: &Idle, p: usize) -> bool {
        // Relaxed: `nprocs` is written under the scheduler lock, held here.
        if p >= idle.nprocs.0.load(Relaxed) {
            self.set_off(idle, p);
            return true;
        }
        if let Some(m) = self.exitq.pop_front() {
            m.unpark_with(p, false);
            return false;
        }
        self.pidle.push(p);
        idle.npidle.fetch_add(1, SeqCst);
        true
    }

    /// Marks P `p` off (removed by `set_gomaxprocs`, held by no M).
    pub(crate) fn set_off(&mut self, idle: &Idle, p: usize) {
        if self.off.len() <= p {
            self.off.resize(p + 1, false);
        }
        if !std::mem::replace(&mut self.off[p], true) {
            idle.noff.fetch_add(1, SeqCst);
        }
    }

    /// Takes P `p` back from off, if it is: true if it was.
    pub(crate) fn take_off(&mut self, idle: &Idle, p: usize) -> bool {
        let was = self.off.get_mut(p).map(|o| std::mem::replace(o, false));
        if was == Some(true) {
            idle.noff.fetch_sub(1, SeqCst);
            return true;
        }
        false
    }
}

/// `Idle::np_holder`: no M blocks in the netpoller holding a P.
pub(crate) const HOLDER_NONE: usize = 0;
/// `Idle::np_holder`: one does, and nobody has kicked it yet.
pub(crate) const HOLDER_ASLEEP: usize = 1;
/// `Idle::np_holder`: one does, and it has been kicked.
pub(crate) const HOLDER_KICKED: usize = 2;

pub(crate) struct Idle {
    pub(crate) sched: Mutex<Sched>,
    /// Ps on `pidle`.
    pub(crate) npidle: AtomicUsize,
    /// Ms looking for work while holding a P.
    pub(crate) nmspinning: AtomicUsize,
    /// Ms parked on `midle`. Relaxed: metrics.
    pub(crate) nmidle: AtomicUsize,
    /// Ms started. Relaxed: metrics and the `max_threads` check under the lock.
    pub(crate) nthreads: AtomicUsize,
    /// An M blocked in the netpoller holding its P: `HOLDER_NONE`,
    /// `HOLDER_ASLEEP`, or `HOLDER_KICKED` once someone has broken its
    /// wait (so later submitters do not kick it again).
    pub(crate) np_holder: AtomicUsize,
    pub(crate) shutdown: AtomicBool,
    /// `gomaxprocs`: the Ps `0..nprocs` run tasks (`procresize.rs`). On
    /// its own cache line (the timer queue's `Padded`): every M reads it on
    /// every pass through its loop, and the counters beside it change all
    /// the time.
    /// Written under the scheduler lock only; read without it as a hint
    /// (an M's check whether to retire its P), under it as the truth.
    pub(crate) nprocs: Padded<AtomicUsize>,
    /// Ps off (`Sched::off`). SeqCst: read with `npidle` by the "is every
    /// P idle?" checks (`all_idle`).
    pub(crate) noff: AtomicUsize,
}

impl Idle {
    pub(crate) fn new(procs: usize) -> Idle {
        Idle {
            // Every P starts idle; the first wakep hands one out.
            sched: Mutex::new(Sched {
                pidle: (0..procs).rev().collect(),
                midle: Vec::new(),
                exitq: std::collections::VecDeque::new(),
                off: vec![false; procs],
                wake_pending: false,
            }),
            npidle: AtomicUsize::new(procs),
            nmspinning: AtomicUsize::new(0),
            nmidle: AtomicUsize::new(0),
            nthreads: AtomicUsize::new(0),
            np_holder: AtomicUsize::new(HOLDER_NONE),
            shutdown: AtomicBool::new(false),
            nprocs: Padded(AtomicUsize::new(procs)),
            noff: AtomicUsize::new(0),
        }
    }

    /// `set_gomaxprocs`'s change to the lists (`procresize.rs`), under the
    /// scheduler lock: `nprocs` becomes `n`, out of `made` Ps. Growing,
    /// Ps below `n` that are off (or new) go on `pidle`; one a retiring M
    /// still holds stays with it (its `put_idle` decides, under this lock,
    /// with the new `nprocs`). Shrinking, idle Ps past `n` leave `pidle`
    /// and go off; they are returned, for the caller to move their work.
    /// New Ps past `n` start off.
    pub(crate) fn resize(&self, n: usize, made: usize) -> Vec<usize> {
        let mut s = self.lock();
        let old = self.nprocs();
        let tracked = s.off.len();
        for p in old.min(n)..made {
            if p < n {
                if s.take_off(self, p) || p >= tracked {
                    s.pidle.push(p);
                    self.npidle.fetch_add(1, SeqCst);
                }
            } else if p >= tracked {
                s.set_off(self, p);
            }
        }
        let mut off_now = Vec::new();
        if n < old {
            s.pidle.retain(|&p| {
                if p < n {
                    return true;
                }
                off_now.push(p);
                false
            });
            self.npidle.fetch_sub(off_now.len(), SeqCst);
            for &p in &off_now {
                s.set_off(self, p);
            }
        }
        self.nprocs.0.store(n, SeqCst);
        off_now
    }

    /// `gomaxprocs`, as a hint (see `nprocs`).
    #[inline]
    pub(crate) fn nprocs(&self) -> usize {
        self.nprocs.0.load(Relaxed)
    }

    /// Whether no P runs a task, out of `made`: each is idle, off, or held
    /// by the M blocked in the netpoller (its P is idle in all but name).
    /// A snapshot, for sysmon's sleep and the deadlock checks, which
    /// confirm what they see.
    pub(crate) fn all_idle(&self, made: usize) -> bool {
        self.npidle.load(SeqCst) + self.noff.load(SeqCst) + usize::from(self.holder_asleep())
            >= made
    }

    pub(crate) fn lock(&self) -> SchedGuard<'_> {
        lock(&self.sched)
    }

    /// Parking step 1: puts P `p` on the idle list (or hands it to an M
    /// waiting in `exitsyscall`), unless `global_has_work` (checked under
    /// the lock) says the M should keep it. Returns whether the P was
    /// released.
    pub(crate) fn put_p(&self, p: usize, global_has_work: impl FnOnce() -> bool) -> bool {
        let mut s = self.lock();
        if global_has_work() {
            return false;
        }
        s.put_idle(self, p);
        true
    }

    /// `exitsyscall`'s slow path: takes an idle P, or waits for one to be
    /// handed over. `None` at shutdown. `queued` runs once this M waits on
    /// `exitq`: it must wake an M that blocks in the netpoller holding a P,
    /// which gives its P to `exitq` when it wakes
    /// (`Worker::netpoll_holding_p`).
    pub(crate) fn wait_for_p(&self, park: &Arc<MPark>, queued: impl FnOnce()) -> Option<usize> {
        {
            let mut s = self.lock();
            if self.shutdown.load(SeqCst) {
                return None;
            }
            if let Some(p) = s.pidle.pop() {
                self.npidle.fetch_sub(1, SeqCst);
                return Some(p);
            }
            s.exitq.push_back(park.clone());
        }
        // After the lock: a holder that published itself before taking
        // the lock and found `exitq` empty is seen by this load.
        queued();
        match park.park() {
            Unparked::P(p, _) => Some(p),
            Unparked::Exit => None,
        }
    }

    /// Parking step 2: this M stops spinning.
    pub(crate) fn drop_spinning(&self) {
        let prev = self.nmspinning.fetch_sub(1, SeqCst);
        debug_assert!(prev > 0, "nmspinning underflow");
    }

    /// Takes an idle P, if any (Go's `pidleget`).
    pub(crate) fn take_p(&self) -> Option<usize> {
        let mut s = self.lock();
        let p = s.pidle.pop()?;
        self.npidle.fetch_sub(1, SeqCst);
        Some(p)
    }

    /// The decision half of Go's `wakep`, run after publishing work: true if
    /// the caller must start a spinning M, already counted in `nmspinning`.
    pub(crate) fn want_spinning_m(&self) -> bool {
        // SeqCst fence: orders the work the caller just published before the
        // loads below; pairs with the fence in parking step 3.
        fence(SeqCst);
        if self.npidle.load(SeqCst) == 0 || self.nmspinning.load(SeqCst) != 0 {
            return false;
        }
        self.nmspinning
            .compare_exchange(0, 1, SeqCst, SeqCst)
            .is_ok()
    }

    /// An M is about to block in the netpoller holding its P: publishes it,
    /// then fences, so that the caller's re-check of every queue that
    /// follows pairs with `want_holder_kick` (module doc).
    pub(crate) fn holder_sleeps(&self) {
        self.np_holder.store(HOLDER_ASLEEP, SeqCst);
        fence(SeqCst);
    }

    /// The holder is awake again.
    pub(crate) fn holder_wakes(&self) {
        self.np_holder.store(HOLDER_NONE, SeqCst);
    }

    /// Whether an M blocks in the netpoller holding its P (kicked or not):
    /// its P is idle in all but name.
    pub(crate) fn holder_asleep(&self) -> bool {
        self.np_holder.load(SeqCst) != HOLDER_NONE
    }

    /// The second half of `wakep`, when `want_spinning_m` said no: true if
    /// the caller must kick the holder awake (it then spins for the work).
    /// Not while an M spins: that M re-checks every queue before it stops.
    /// The fence in `want_spinning_m` orders the caller's work before
    /// these loads.
    pub(crate) fn want_holder_kick(&self) -> bool {
        self.np_holder.load(SeqCst) == HOLDER_ASLEEP
            && self.nmspinning.load(SeqCst) == 0
            && self.take_holder_kick()
    }

    /// Claims the kick of an asleep holder: true for exactly one caller per
    /// sleep.
    pub(crate) fn take_holder_kick(&self) -> bool {
        self.np_holder
            .compare_exchange(HOLDER_ASLEEP, HOLDER_KICKED, SeqCst, SeqCst)
            .is_ok()
    }

    /// Whether an M waits on `exitq` for a P.
    pub(crate) fn exitq_waiting(&self) -> bool {
        !self.lock().exitq.is_empty()
    }

    /// Shutdown: no M parks from now on, and every parked one exits.
    pub(crate) fn exit_all(&self) {
        self.shutdown.store(true, SeqCst);
        let mut s = self.lock();
        for m in s.midle.drain(..) {
            m.unpark_exit();
        }
        for m in s.exitq.drain(..) {
            m.unpark_exit();
        }
    }

    /// Parking step 5: pushes this M on the idle list and parks it until it
    /// is handed a P. `None` at shutdown.
    pub(crate) fn park_m(&self, park: &Arc<MPark>) -> Option<(usize, bool)> {
        {
            let mut s = self.lock();
            if self.shutdown.load(SeqCst) {
                return None;
            }
            if std::mem::take(&mut s.wake_pending) {
                if let Some(p) = s.pidle.pop() {
                    // A wake-up that found no M to start (`wake_pending`):
                    // this M is it, spinning, as `startm` would have made it.
                    self.npidle.fetch_sub(1, SeqCst);
                    self.nmspinning.fetch_add(1, SeqCst);
                    return Some((p, true));
                }
            }
            s.midle.push(park.clone());
            self.nmidle.fetch_add(1, Relaxed);
        }
        match park.park() {
            Unparked::P(p, spinning) => Some((p, spinning)),
            Unparked::Exit => None,
        }
    }
}
