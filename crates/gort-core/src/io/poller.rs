//! The netpoller (Go's `netpoll`): the runtime's poll set, polled by Ms
//! between tasks, and slept on by at most one M at a time.
//!
//! # Who polls
//!
//! - The first M to run out of work blocks in [`Poller::poll`] with a
//!   timeout equal to the earliest timer, once any source is registered,
//!   keeping its P (the netpoll holder, `sched/worker/netpoll.rs`; Go's M releases
//!   its P first, `findRunnable` → `netpoll(delay)`).
//!   `Shared::kick_timer_sleeper`, `wakep`, an M back from a syscall and
//!   shutdown break the wait through a `mio::Waker`.
//! - An M that runs out of work polls without blocking before it spins
//!   (unless an M blocks in the poll already), every M does on its 61st
//!   tick, and sysmon does when nobody has polled for 10 ms.
//!
//! # Two ways to take events
//!
//! Every source registers in one `mio::Poll`, the **set**.
//!
//! On Linux, every poller, blocking or not, calls `epoll_wait` on the
//! set's descriptor itself, as Go's `netpoll` does. The kernel lets any
//! number of threads wait on one epoll set at once and hands each
//! edge-triggered event to one of them, so no lock is needed. A sleeper
//! that the OS has woken but not yet run holds no event: the kernel moves
//! events to a caller only once it runs, and until then a busy M's poll
//! takes them. mio's `Poll::poll` takes `&mut self` (one poller at a time),
//! so gort calls `epoll_wait` through libc and uses mio to register.
//!
//! Elsewhere (kqueue) and under Miri, the set is polled through mio under
//! a lock: a poll that does not block `try_lock`s and moves on if another
//! thread is taking events; the sleeper holds the lock while it blocks.
//!
//! # The waker
//!
//! The `mio::Waker` is in the set (edge-triggered, like every source), so
//! a poll that does not block can take the event of a kick meant for the
//! sleeper: in the window between the sleeper's `TimerSleep` bookkeeping
//! and its `epoll_wait`, or while both are in `epoll_wait`. So
//! [`wake`](Poller::wake) sets `kick_pending` before it writes, a poll
//! that does not block and takes the waker's event writes it again while
//! `kick_pending` is set, and a blocking poll clears it when it returns.
//! The sleeper therefore gets the kick, or a later copy of it. A copy
//! that arrives after the sleep it was meant for ends the next sleep
//! early, which only makes that M look for work once more. A poller that
//! takes the event reads the flag after its `epoll_wait`, and `wake`
//! stored it before its `write`: the kernel orders the write before the
//! event's delivery, and the two system calls before and after it.
//!
//! # Dispatch
//!
//! Events are dispatched to the [`PollDesc`]s by token. A token is a slot
//! index with a generation in the high bits, so an event still in flight
//! for a source that was deregistered (and whose slot was reused) is
//! dropped rather than delivered to the new source. Waking a task from a
//! poll made while holding a P puts it on that P's queue; from a poll
//! without a P, on the global queue, with an idle M woken for it.
//!
//! A poller takes its batch of events from the set (under the set's lock
//! where there is one), and only then wakes the tasks: a wake-up can wake
//! an M (a futex call, where the OS may switch threads), and a poller that
//! the OS switched out while holding the lock would keep every other M
//! from the set's events until it ran again. Two pollers' batches may be
//! delivered out of order: that is harmless, because delivering an event
//! only sets readiness bits and bumps the descriptor's tick
//! (`poll_desc.rs`). A task clears the bits only with
//! the tick it observed. So a late delivery can at worst make a task try
//! an operation once more and get `WouldBlock`; no event is lost. A
//! descriptor deregistered between the take and the delivery is kept alive
//! by the batch's `Arc`, and the bits it gets are never read.
//!
//! # Hooks
//!
//! A source can be registered with a [`Hook`] in place of a descriptor
//! (the signal subscriptions of `io/signal.rs`): its event runs the hook
//! on the polling thread, after the batch's descriptors have their bits,
//! instead of waking a task. A hook must not block (it runs inside a
//! poll, maybe the holder's). It takes the same slots and tokens as a
//! descriptor and counts as a registered source, so an M blocks in the
//! poll for it ([`has_sources`](Poller::has_sources)); one registered as
//! *internal* (the runtime's own SIGQUIT watcher) does not count for the
//! deadlock detector ([`has_user_sources`](Poller::has_user_sources)).

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
#[cfg(not(all(target_os = "linux", not(miri))))]
use std::sync::TryLockError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Token};

use super::poll_desc::PollDesc;
use crate::time::clock::now_nanos;

const WAKER: Token = Token(usize::MAX);
const INDEX_BITS: u32 = 32;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Events taken per `epoll_wait`.
const EVENTS: usize = 1024;
/// With sources registered, nobody may go longer than this without a poll.
pub(crate) const FORCE_POLL_NANOS: u64 = 10_000_000;

/// What a hook-registered source runs when its event comes (module doc,
/// "Hooks").
pub(crate) trait Hook: Send + Sync {
    /// Runs on the polling thread, with no poller lock held; must not
    /// block. `poller` is the poller that took the event (for
    /// [`Poller::deregister_hook`]).
    fn ready(&self, poller: &Poller);
}

thread_local! {
    /// Per thread, the descriptors of one batch of events with their
    /// readiness, dispatched after the events are taken ("Dispatch"); the
    /// buffer is kept between polls (taken out while in use, so a
    /// re-entrant poll would only allocate its own).
    static BATCH: Cell<Vec<(Arc<PollDesc>, usize)>> = const { Cell::new(Vec::new()) };
}

#[cfg(all(target_os = "linux", not(miri)))]
thread_local! {
    /// Per thread, the buffer `epoll_wait` fills ("Two ways to take
    /// events").
    static EPOLL_EVENTS: Cell<Vec<libc::epoll_event>> = const { Cell::new(Vec::new()) };
}

pub(crate) struct Poller {
    /// The set. On Linux only its descriptor is used to take events
    /// (`epoll_wait`, from any thread at once), and this field just owns
    /// it; elsewhere, and under Miri, it is polled through mio under this
    /// lock (module doc).
    #[cfg_attr(all(target_os = "linux", not(miri)), allow(dead_code))]
    state: Mutex<PollState>,
    /// The set's epoll descriptor, owned by `state`'s `mio::Poll`.
    #[cfg(all(target_os = "linux", not(miri)))]
    set_fd: std::os::fd::RawFd,
    registry: mio::Registry,
    waker: mio::Waker,
    /// True from a [`wake`](Poller::wake) until the next blocking poll
    /// returns: a poll that does not block and takes the waker's event
    /// gives it back (module doc, "The waker").
    kick_pending: AtomicBool,
    table: Mutex<Table>,
    /// Registered sources, hooks included.
    registered: AtomicUsize,
    /// Of `registered`, the internal hooks: not counted by
    /// [`has_user_sources`](Poller::has_user_sources).
    internal: AtomicUsize,
    /// `now_nanos` of the last poll.
    last_poll: AtomicU64,
}

#[cfg_attr(all(target_os = "linux", not(miri)), allow(dead_code))]
struct PollState {
    poll: mio::Poll,
    events: Events,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Set by `shutdown`, under the lock `register` takes: a source
    /// registered after it would wait for events no M will ever poll.
    closed: bool,
}

impl Table {
    /// The descriptor an event's token names, unless its source was
    /// deregistered since (module doc: tokens carry a generation).
    fn lookup(&self, token: usize) -> Option<&Arc<PollDesc>> {
        match self.slots.get(token & INDEX_MASK) {
            Some(Slot {
                desc: Some(d),
                generation,
                ..
            }) if slot_token(*generation, token) == token => Some(d),
            _ => None,
        }
    }

    /// The hook an event's token names, as [`lookup`](Table::lookup).
    fn lookup_hook(&self, token: usize) -> Option<&Arc<dyn Hook>> {
        match self.slots.get(token & INDEX_MASK) {
            Some(Slot {
                hook: Some((h, _)),
                generation,
                ..
            }) if slot_token(*generation, token) == token => Some(h),
            _ => None,
        }
    }

    /// Takes a free slot and bumps its generation; returns its index and
    /// token.
    fn take_slot(&mut self) -> (usize, usize) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            self.slots.len() - 1
        });
        assert!(index <= INDEX_MASK, "netpoll: too many sources");
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        // The generation can't reach the top bit (WAKER's token) in
        // practice; masked regardless.
        let token = ((slot.generation << INDEX_BITS) | index) & (usize::MAX >> 1);
        (index, token)
    }
}

/// The token of the slot at `token`'s index with `generation`.
fn slot_token(generation: usize, token: usize) -> usize {
    (generation << INDEX_BITS | (token & INDEX_MASK)) & (usize::MAX >> 1)
}

/// A slot holds a descriptor, a hook (with whether it is internal), or
/// nothing (on the free list).
#[derive(Default)]
struct Slot {
    generation: usize,
    desc: Option<Arc<PollDesc>>,
    hook: Option<HookEntry>,
}

/// A slot's hook, and whether it is internal.
type HookEntry = (Arc<dyn Hook>, bool);

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        #[cfg(all(target_os = "linux", not(miri)))]
        let set_fd = std::os::fd::AsRawFd::as_raw_fd(&poll);
        Ok(Poller {
            #[cfg(all(target_os = "linux", not(miri)))]
            set_fd,
            state: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS),
            }),
            registry,
            waker,
            kick_pending: AtomicBool::new(false),
            table: Mutex::new(Table::default()),
            registered: AtomicUsize::new(0),
            internal: AtomicUsize::new(0),
            last_poll: AtomicU64::new(now_nanos()),
        })
    }

    /// Whether a kick ([`wake`](Poller::wake)) waits for the next blocking
    /// poll: a holder that polls without blocking first stops doing so.
    pub(crate) fn kick_pending(&self) -> bool {
        self.kick_pending.load(SeqCst)
    }

    /// Whether any source is registered: only then is polling worth it.
    pub(crate) fn has_sources(&self) -> bool {
        self.registered.load(Acquire) > 0
    }

    /// Whether a source other than an internal hook is registered (the
    /// deadlock detector's "an I/O source is armed"). `register_hook`
    /// counts an internal hook in `internal` before `registered`, and
    /// `deregister_hook` uncounts it in the reverse order, so this is
    /// never true for internal hooks alone, even in passing.
    pub(crate) fn has_user_sources(&self) -> bool {
        let registered = self.registered.load(Acquire);
        registered > self.internal.load(Acquire)
    }

    pub(crate) fn register(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<Arc<PollDesc>> {
        let desc = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if t.closed {
                return Err(super::poll_desc::shutdown_error());
            }
            let (index, token) = t.take_slot();
            let desc = Arc::new(PollDesc::new(token));
            t.slots[index].desc = Some(desc.clone());
            desc
        };
        if let Err(e) = self.registry.register(source, Token(desc.token), interest) {
            self.release(&desc);
            return Err(e);
        }
        self.registered.fetch_add(1, AcqRel);
        Ok(desc)
    }

    /// Registers `source` with a [`Hook`] run for its events (module doc,
    /// "Hooks"); `internal`: not counted by the deadlock detector. Returns
    /// the token, for [`deregister_hook`](Poller::deregister_hook).
    pub(crate) fn register_hook(
        &self,
        source: &mut impl Source,
        interest: Interest,
        hook: Arc<dyn Hook>,
        internal: bool,
    ) -> io::Result<usize> {
        let token = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if t.closed {
                return Err(super::poll_desc::shutdown_error());
            }
            let (index, token) = t.take_slot();
            t.slots[index].hook = Some((hook, internal));
            token
        };
        if internal {
            self.internal.fetch_add(1, AcqRel);
        }
        if let Err(e) = self.registry.register(source, Token(token), interest) {
            self.release_hook(token);
            return Err(e);
        }
        self.registered.fetch_add(1, AcqRel);
        Ok(token)
    }

    /// Removes a hook's `source` from the poll set and forgets the hook
    /// (a no-op if shutdown took it already).
    pub(crate) fn deregister_hook(&self, token: usize, source: &mut impl Source) {
        let _ = self.registry.deregister(source);
        if let Some(internal) = self.release_hook(token) {
            self.registered.fetch_sub(1, AcqRel);
            if internal {
                self.internal.fetch_sub(1, AcqRel);
            }
        }
    }

    /// Frees the hook's slot; its `internal` flag if it was still there.
    /// The hook is dropped after the table's lock is released.
    fn release_hook(&self, token: usize) -> Option<bool> {
        let hook = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            t.lookup_hook(token)?;
            let index = token & INDEX_MASK;
            let hook = t.slots[index].hook.take();
            t.free.push(index);
            hook
        };
        hook.map(|(_, internal)| internal)
    }

    /// Removes `source` from the poll set and forgets its descriptor.
    pub(crate) fn deregister(&self, source: &mut impl Source, desc: &PollDesc) -> io::Result<()> {
        let r = self.registry.deregister(source);
        self.forget(desc);
        r
    }

    /// Forgets a descriptor whose source was closed (closing removes it
    /// from the poll set).
    pub(crate) fn forget(&self, desc: &PollDesc) {
        if self.release(desc) {
            self.registered.fetch_sub(1, AcqRel);
        }
    }

    fn release(&self, desc: &PollDesc) -> bool {
        let index = desc.token & INDEX_MASK;
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut t.slots[index];
        match &slot.desc {
            Some(d) if std::ptr::eq(&**d, desc) => {
                slot.desc = None;
                t.free.push(index);
                true
            }
            _ => false,
        }
    }

    /// Breaks a blocking poll (now, or the next one if none is under way).
    pub(crate) fn wake(&self) {
        // Before the write: a poller that takes the event must see it
        // (module doc, "The waker").
        self.kick_pending.store(true, SeqCst);
        self.write_waker();
    }

    /// Writes the waker's event into the set.
    fn write_waker(&self) {
        if let Err(e) = self.waker.wake() {
            tracing::error!(error = %e, "netpoll: cannot wake the poller");
        }
    }

    /// Polls for events and wakes the tasks waiting on them. `timeout`:
    /// `Some(ZERO)` does not block, `None` blocks until an event or a
    /// [`wake`](Poller::wake). Where the set is polled under a lock (not
    /// on Linux, and under Miri), a poll that does not block and has no
    /// `must` returns 0 if another thread holds it. Returns the number of
    /// sources made ready.
    pub(crate) fn poll(&self, timeout: Option<Duration>, must: bool) -> usize {
        let blocking = timeout != Some(Duration::ZERO);
        let mut batch = BATCH.take();
        // Hooks' events are rare: no allocation unless one comes.
        let mut hooks: Vec<Arc<dyn Hook>> = Vec::new();
        #[cfg(all(target_os = "linux", not(miri)))]
        let took_kick = {
            let _ = must;
            self.take_epoll(timeout, &mut batch, &mut hooks)
        };
        #[cfg(not(all(target_os = "linux", not(miri))))]
        let took_kick = match self.take_mio(timeout, must, &mut batch, &mut hooks) {
            Some(r) => r,
            None => {
                BATCH.set(batch);
                return 0;
            }
        };
        self.last_poll.store(now_nanos(), Relaxed);
        if blocking {
            // This sleep is over: a kick still in the set was for it.
            self.kick_pending.store(false, SeqCst);
        } else if took_kick && self.kick_pending.load(SeqCst) {
            // We took the waker's event meant for a sleeper: give it back.
            self.write_waker();
        }
        let n = batch.len() + hooks.len();
        // Before the wake-ups it causes, so that the trace reads in order.
        crate::exectrace::netpoll(n);
        for (desc, bits) in batch.drain(..) {
            desc.add_bits(bits);
        }
        BATCH.set(batch);
        for hook in hooks {
            hook.ready(self);
        }
        if n > 0 {
            tracing::trace!(ready = n, "netpoll");
        }
        n
    }

    /// Takes events from the set with `epoll_wait` on its descriptor,
    /// which any number of threads may do at once; each event goes to one
    /// of them. Returns whether the waker's event was among them.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn take_epoll(
        &self,
        timeout: Option<Duration>,
        batch: &mut Vec<(Arc<PollDesc>, usize)>,
        hooks: &mut Vec<Arc<dyn Hook>>,
    ) -> bool {
        // Rounded up to a millisecond, as mio does: waking early would
        // only make the caller wait again.
        let mut ms: libc::c_int = match timeout {
            None => -1,
            Some(t) => t
                .checked_add(Duration::from_nanos(999_999))
                .unwrap_or(t)
                .as_millis()
                .min(libc::c_int::MAX as u128) as libc::c_int,
        };
        let mut buf = EPOLL_EVENTS.take();
        if buf.capacity() < EVENTS {
            buf = Vec::with_capacity(EVENTS);
        }
        let mut woken = false;
        loop {
            // SAFETY: `buf` has room for `EVENTS` entries, and the kernel
            // writes at most that many; `set_fd` stays open while `self`
            // (whose `state` owns it) lives.
            let n = unsafe {
                libc::epoll_wait(self.set_fd, buf.as_mut_ptr(), EVENTS as libc::c_int, ms)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "netpoll: epoll_wait failed");
                }
                break;
            }
            // SAFETY: the kernel initialised the first `n` entries.
            unsafe { buf.set_len(n as usize) };
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            for ev in &buf {
                // Copies out of the packed struct.
                let (token, flags) = (ev.u64 as usize, ev.events);
                if token == WAKER.0 {
                    woken = true;
                } else if let Some(d) = t.lookup(token) {
                    batch.push((d.clone(), PollDesc::epoll_bits(flags)));
                } else if let Some(h) = t.lookup_hook(token) {
                    hooks.push(h.clone());
                }
            }
            drop(t);
            buf.clear();
            if (n as usize) < EVENTS {
                break;
            }
            ms = 0;
        }
        EPOLL_EVENTS.set(buf);
        woken
    }

    /// Takes events from the set through mio, under its lock: blocking in
    /// it holds the lock for the sleep. `None`: a poll without `must`
    /// found the lock held. Else whether the waker's event was taken.
    #[cfg(not(all(target_os = "linux", not(miri))))]
    fn take_mio(
        &self,
        timeout: Option<Duration>,
        must: bool,
        batch: &mut Vec<(Arc<PollDesc>, usize)>,
        hooks: &mut Vec<Arc<dyn Hook>>,
    ) -> Option<bool> {
        let mut st = match self.state.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) if must || timeout != Some(Duration::ZERO) => {
                self.state.lock().unwrap_or_else(|e| e.into_inner())
            }
            Err(TryLockError::WouldBlock) => return None,
        };
        let PollState { poll, events } = &mut *st;
        let mut timeout = timeout;
        let mut woken = false;
        loop {
            if let Err(e) = poll.poll(events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "netpoll: poll failed");
                }
            }
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            let mut seen = 0;
            for ev in events.iter() {
                seen += 1;
                if ev.token() == WAKER {
                    woken = true;
                } else if let Some(d) = t.lookup(ev.token().0) {
                    batch.push((d.clone(), PollDesc::event_bits(ev)));
                } else if let Some(h) = t.lookup_hook(ev.token().0) {
                    hooks.push(h.clone());
                }
            }
            if seen < EVENTS {
                break;
            }
            timeout = Some(Duration::ZERO);
        }
        Some(woken)
    }

    /// Whether nobody has polled for [`FORCE_POLL_NANOS`] while sources are
    /// registered.
    pub(crate) fn overdue(&self, now: u64) -> bool {
        self.has_sources() && now.saturating_sub(self.last_poll.load(Relaxed)) > FORCE_POLL_NANOS
    }

    /// Shutdown: every registered source's waiters wake to an error, and
    /// every hook is forgotten (dropped here, outside the table's lock:
    /// a signal subscription ends, `io/signal.rs`).
    pub(crate) fn shutdown(&self) {
        let (descs, hooks): (Vec<Arc<PollDesc>>, Vec<HookEntry>) = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            t.closed = true;
            let descs = t.slots.iter().filter_map(|s| s.desc.clone()).collect();
            let mut hooks = Vec::new();
            for index in 0..t.slots.len() {
                if let Some(h) = t.slots[index].hook.take() {
                    hooks.push(h);
                    t.free.push(index);
                }
            }
            (descs, hooks)
        };
        for d in descs {
            d.shutdown();
        }
        for (_, internal) in &hooks {
            self.registered.fetch_sub(1, AcqRel);
            if *internal {
                self.internal.fetch_sub(1, AcqRel);
            }
        }
        drop(hooks);
        self.wake();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream as StdUnixStream;
    use std::sync::mpsc;
    use std::thread;

    use super::*;
    use crate::io::poll_desc::Direction;

    /// A registered socket pair: the poller sees `ours`, the test writes
    /// into `theirs`.
    fn pair(p: &Poller) -> (mio::net::UnixStream, StdUnixStream, Arc<PollDesc>) {
        let (a, theirs) = StdUnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut ours = mio::net::UnixStream::from_std(a);
        let desc = p.register(&mut ours, Interest::READABLE).unwrap();
        (ours, theirs, desc)
    }

    /// Runs a blocking poll on another thread; the receiver gets its result.
    fn sleeper(p: &Arc<Poller>) -> mpsc::Receiver<usize> {
        let (tx, rx) = mpsc::channel();
        let p = p.clone();
        thread::spawn(move || {
            let _ = tx.send(p.poll(None, true));
        });
        rx
    }

    /// A hang guard, not a timing claim: a poll that should return has
    /// not in this long.
    const HANG: Duration = Duration::from_secs(20);

    /// A wake made before the sleeper blocks survives a non-blocking poll
    /// in between that takes its event: that poll writes it again (module
    /// doc, "The waker"). Without that, the sleeper blocks for good.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot make a socket pair non-blocking (ioctl FIONBIO)"
    )]
    fn a_wake_survives_a_non_blocking_poll() {
        let p = Arc::new(Poller::new().unwrap());
        let (_ours, _theirs, _desc) = pair(&p);
        p.wake();
        assert_eq!(p.poll(Some(Duration::ZERO), false), 0);
        let done = sleeper(&p);
        assert_eq!(done.recv_timeout(HANG), Ok(0), "the wake was lost");
    }

    /// While an M sleeps in the poller, another takes the set's events
    /// without blocking (on Linux both wait in the set at once); each event
    /// is taken once, by one of them, and a wake still ends the sleep.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot make a socket pair non-blocking (ioctl FIONBIO)"
    )]
    fn events_are_taken_while_a_sleeper_waits() {
        const ROUNDS: usize = 200;
        let p = Arc::new(Poller::new().unwrap());
        let (_ours, mut theirs, desc) = pair(&p);
        let mut taken_here = 0;
        for i in 0..ROUNDS {
            let done = sleeper(&p);
            theirs.write_all(&[i as u8]).unwrap();
            // Either this thread or the sleeper takes the event.
            let mut here = 0;
            let slept = loop {
                here += p.poll(Some(Duration::ZERO), true);
                if let Ok(n) = done.try_recv() {
                    break n;
                }
                if here > 0 {
                    // Ours: the sleeper goes on waiting; wake it.
                    p.wake();
                    break done.recv_timeout(HANG).expect("the sleeper did not return");
                }
                thread::yield_now();
            };
            assert_eq!(
                here + slept,
                1,
                "round {i}: the event was taken {} times",
                here + slept
            );
            taken_here += here;
            assert!(desc.ready(Direction::Read).is_some());
        }
        // Not asserted (it depends on the OS scheduler): how many events
        // each side took.
        let _ = taken_here;
    }

    /// The sleeper comes back for an event that arrives while it sleeps.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri cannot make a socket pair non-blocking (ioctl FIONBIO)"
    )]
    fn an_event_ends_the_sleep() {
        let p = Arc::new(Poller::new().unwrap());
        let (_ours, mut theirs, desc) = pair(&p);
        let done = sleeper(&p);
        theirs.write_all(b"x").unwrap();
        // The sleeper took it, or this poll did and the sleeper waits on.
        let mut n = p.poll(Some(Duration::ZERO), true);
        if n == 1 {
            p.wake();
        }
        n += done.recv_timeout(HANG).expect("the sleeper did not return");
        assert_eq!(n, 1);
        assert!(desc.ready(Direction::Read).is_some());
    }
}
