//! The netpoller (Go's `netpoll`): the runtime's poll set, polled by Ms
//! between tasks, and slept on by at most one M at a time.
//!
//! # Who polls
//!
//! - The first M to run out of work blocks in [`Poller::poll`] with a
//!   timeout equal to the earliest timer, once any source is registered,
//!   keeping its P (the netpoll holder, `sched/worker.rs`; Go's M releases
//!   its P first, `findRunnable` → `netpoll(delay)`).
//!   `Shared::kick_timer_sleeper`, `wakep`, an M back from a syscall and
//!   shutdown break the wait through a `mio::Waker`.
//! - A spinning M polls without blocking before it steals, every M does on
//!   its 61st tick, and sysmon does when nobody has polled for 10 ms. Such
//!   a poll `try_lock`s the poll set and moves on if another is taking
//!   events from it at that instant.
//!
//! # Two polls: the set, and the sleeper's
//!
//! Every source registers in one `mio::Poll`, the **set**. The sleeping M
//! does not block in the set itself but in a second `mio::Poll`, the
//! **sleep poll**, which watches only two things: the set's own descriptor
//! (an epoll or kqueue descriptor is readable while it has events ready)
//! and the `mio::Waker`. When it wakes, it takes the events from the set
//! without blocking, as any M would.
//!
//! Why: with one poll blocked in by the sleeper under the set's lock, no
//! other M could take events while the sleeper was in the kernel, and a
//! sleeper woken by an event but not yet running (the OS had put it behind
//! a busy thread, on a CPU it would wait a whole time slice for) held every
//! ready socket of the runtime with it for that slice. Now a
//! busy M's tick or a spinning M takes those events at once, and the
//! sleeper, finding the set empty, waits again. And the waker's event can
//! only be taken by the sleeper: in one shared poll a non-blocking poll
//! could swallow the kick meant for the M about to block (the window
//! between its `TimerSleep` bookkeeping and its `epoll_wait`).
//!
//! The sleep poll watches the set's descriptor only while the sleeper
//! waits: it is added just before the wait and removed after. Left in, it
//! made the kernel run a second, nested readiness callback (the sleep
//! poll's) for every event arriving in the set, in the context of whoever
//! caused it (wrk writing a request, a task writing to a peer), while
//! nobody slept; two `epoll_ctl` calls per sleep are far fewer.
//!
//! No wake-up is lost between the two: adding the set's descriptor checks
//! its readiness at once (an event already in the set makes the wait
//! return), the kernel signals the sleep poll on every event that arrives
//! in the set after that (the nested descriptor's wait queue is woken on
//! each arrival, edge-triggered or not), and the sleeper takes what the set
//! holds before each wait, so events that came before it went to sleep are
//! not left waiting for a signal that already went by.
//!
//! Under Miri, which cannot put an epoll descriptor in an epoll set, the
//! sleeper blocks in the set itself under its lock, and the waker is in
//! the set: the earlier design, kept only so that Miri can run the
//! scheduler's tests.
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
//! The poller takes its batch of events from the set under the set's
//! lock, then releases the lock and only then wakes the tasks. A wake-up
//! can wake an M (a futex call, where the OS may switch threads), and a
//! poller that the OS switched out while holding the lock would keep every
//! other M from the set's events until it ran again: on `http_hello`, with
//! wrk sharing the two CPUs, for a time slice of milliseconds. Two
//! pollers' batches may then be delivered out of order: that is harmless,
//! because delivering an event only sets readiness bits and bumps the
//! descriptor's tick (`poll_desc.rs`). A task clears the bits only with
//! the tick it observed. So a late delivery can at worst make a task try
//! an operation once more and get `WouldBlock`; no event is lost. A
//! descriptor deregistered between the take and the delivery is kept alive
//! by the batch's `Arc`, and the bits it gets are never read.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Token};

use super::poll_desc::PollDesc;
use crate::time::now_nanos;

const WAKER: Token = Token(usize::MAX);
/// The set's descriptor in the sleep poll.
const SET: Token = Token(usize::MAX - 1);
const INDEX_BITS: u32 = 32;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// How long the sleeper waits between takes when it cannot watch the set.
const RETRY: Duration = Duration::from_millis(1);
/// Events taken per `epoll_wait`.
const EVENTS: usize = 1024;
/// With sources registered, nobody may go longer than this without a poll.
pub(crate) const FORCE_POLL_NANOS: u64 = 10_000_000;

thread_local! {
    /// Per thread, the descriptors of one batch of events with their
    /// readiness, dispatched after the set's lock is released; the buffer
    /// is kept between polls (taken out while in use, so a re-entrant poll
    /// would only allocate its own).
    static BATCH: Cell<Vec<(Arc<PollDesc>, usize)>> = const { Cell::new(Vec::new()) };
}

pub(crate) struct Poller {
    /// The set (module doc), polled only without blocking.
    state: Mutex<PollState>,
    /// The sleep poll (module doc); one sleeper at a time, by the
    /// scheduler's `TimerSleep` protocol, so this lock is uncontended.
    sleep: Mutex<SleepState>,
    registry: mio::Registry,
    waker: mio::Waker,
    table: Mutex<Table>,
    /// Registered sources.
    registered: AtomicUsize,
    /// `now_nanos` of the last poll.
    last_poll: AtomicU64,
    /// The set's descriptor, which the sleep poll watches while the
    /// sleeper waits (module doc).
    set_fd: RawFd,
}

struct SleepState {
    /// `None` under Miri (see `Poller::new`).
    poll: Option<mio::Poll>,
    events: Events,
}

struct PollState {
    poll: mio::Poll,
    events: Events,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

#[derive(Default)]
struct Slot {
    generation: usize,
    desc: Option<Arc<PollDesc>>,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        // Miri cannot put an epoll descriptor in an epoll set: there the
        // sleeper blocks in the set itself, holding its lock (module doc).
        #[cfg(not(miri))]
        let (sleep, waker) = {
            let sleep = mio::Poll::new()?;
            let waker = mio::Waker::new(sleep.registry(), WAKER)?;
            (Some(sleep), waker)
        };
        #[cfg(miri)]
        let (sleep, waker) = (None, mio::Waker::new(poll.registry(), WAKER)?);
        let set_fd = poll.as_raw_fd();
        Ok(Poller {
            set_fd,
            state: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS),
            }),
            sleep: Mutex::new(SleepState {
                poll: sleep,
                events: Events::with_capacity(2),
            }),
            registry,
            waker,
            table: Mutex::new(Table::default()),
            registered: AtomicUsize::new(0),
            last_poll: AtomicU64::new(now_nanos()),
        })
    }

    /// Whether any source is registered: only then is polling worth it.
    pub(crate) fn has_sources(&self) -> bool {
        self.registered.load(Acquire) > 0
    }

    pub(crate) fn register(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<Arc<PollDesc>> {
        let desc = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            let index = t.free.pop().unwrap_or_else(|| {
                t.slots.push(Slot::default());
                t.slots.len() - 1
            });
            assert!(index <= INDEX_MASK, "netpoll: too many sources");
            let slot = &mut t.slots[index];
            slot.generation = slot.generation.wrapping_add(1);
            let token = (slot.generation << INDEX_BITS) | index;
            let desc = Arc::new(PollDesc::new(token & (usize::MAX >> 1)));
            slot.desc = Some(desc.clone());
            desc
        };
        // The generation can't reach the top bit (WAKER's token) in practice;
        // masked above regardless.
        if let Err(e) = self.registry.register(source, Token(desc.token), interest) {
            self.release(&desc);
            return Err(e);
        }
        self.registered.fetch_add(1, AcqRel);
        Ok(desc)
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
        if let Err(e) = self.waker.wake() {
            tracing::error!(error = %e, "netpoll: cannot wake the poller");
        }
    }

    /// Polls for events and wakes the tasks waiting on them. `timeout`:
    /// `Some(ZERO)` does not block, `None` blocks until an event or a
    /// [`wake`](Poller::wake). Without blocking and without `must`, returns
    /// 0 if another thread is taking events at that instant. Returns the
    /// number of sources made ready.
    pub(crate) fn poll(&self, timeout: Option<Duration>, must: bool) -> usize {
        if timeout == Some(Duration::ZERO) {
            self.take(timeout, must)
        } else {
            self.sleep_then_poll(timeout)
        }
    }

    /// The sleeper's poll (module doc): take what the set holds; if
    /// nothing, wait in the sleep poll until the set has events, a wake or
    /// the timeout, and take again. A set found empty after its signal
    /// (another M took the events) means waiting again, for what is left
    /// of the timeout.
    fn sleep_then_poll(&self, timeout: Option<Duration>) -> usize {
        let mut sl = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
        let SleepState { poll, events } = &mut *sl;
        let Some(poll) = poll else {
            return self.take(timeout, true);
        };
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let n = self.take(Some(Duration::ZERO), true);
            if n > 0 {
                return n;
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return 0,
                },
            };
            // Watch the set only while waiting (module doc): adding it
            // reports events already there.
            let mut set = mio::unix::SourceFd(&self.set_fd);
            let watching = match poll.registry().register(&mut set, SET, Interest::READABLE) {
                Ok(()) => true,
                Err(e) => {
                    // Not expected (the kernel's memory, say): wait for the
                    // waker only, 1 ms at a time, taking from the set
                    // between waits.
                    tracing::error!(error = %e, "netpoll: cannot watch the poll set");
                    false
                }
            };
            let left = if watching {
                left
            } else {
                Some(left.map_or(RETRY, |l| l.min(RETRY)))
            };
            let waited = poll.poll(events, left);
            if watching {
                if let Err(e) = poll.registry().deregister(&mut set) {
                    tracing::error!(error = %e, "netpoll: cannot unwatch the poll set");
                }
            }
            if let Err(e) = waited {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "netpoll: sleep poll failed");
                }
                return self.take(Some(Duration::ZERO), true);
            }
            // A wake, or the deadline (no event): take what is ready and
            // return to the caller. The set's signal alone: loop, to take
            // its events, or to wait again if another M took them first.
            if (events.is_empty() && watching) || events.iter().any(|e| e.token() == WAKER) {
                return self.take(Some(Duration::ZERO), true);
            }
        }
    }

    /// Takes the events ready in the set; with a full buffer, takes again.
    /// `timeout` is `Some(ZERO)` but for the sleeper under Miri. Returns
    /// the number of sources made ready.
    fn take(&self, timeout: Option<Duration>, must: bool) -> usize {
        let mut st = match self.state.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) if must => {
                self.state.lock().unwrap_or_else(|e| e.into_inner())
            }
            Err(TryLockError::WouldBlock) => return 0,
        };
        let mut batch = BATCH.take();
        let PollState { poll, events } = &mut *st;
        let mut timeout = timeout;
        loop {
            if let Err(e) = poll.poll(events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "netpoll: poll failed");
                }
            }
            if self.collect(events, &mut batch) < EVENTS {
                break;
            }
            timeout = Some(Duration::ZERO);
        }
        self.last_poll.store(now_nanos(), Relaxed);
        // The set is free before the wake-ups (module doc, "Dispatch").
        drop(st);
        let n = batch.len();
        for (desc, bits) in batch.drain(..) {
            desc.add_bits(bits);
        }
        BATCH.set(batch);
        if n > 0 {
            tracing::trace!(ready = n, "netpoll");
        }
        n
    }

    /// Looks up the descriptor of each event (module doc: tokens carry a
    /// generation) and queues it in `batch`. Returns the number of events,
    /// stale ones included (a full buffer means more may be ready).
    fn collect(&self, events: &Events, batch: &mut Vec<(Arc<PollDesc>, usize)>) -> usize {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = 0;
        for ev in events.iter() {
            seen += 1;
            let token = ev.token();
            if token == WAKER {
                // Only under Miri, where the waker is in the set.
                continue;
            }
            let index = token.0 & INDEX_MASK;
            if let Some(Slot {
                desc: Some(d),
                generation,
            }) = t.slots.get(index)
            {
                if (generation << INDEX_BITS | index) & (usize::MAX >> 1) == token.0 {
                    batch.push((d.clone(), PollDesc::event_bits(ev)));
                }
            }
        }
        seen
    }

    /// Whether nobody has polled for [`FORCE_POLL_NANOS`] while sources are
    /// registered.
    pub(crate) fn overdue(&self, now: u64) -> bool {
        self.has_sources() && now.saturating_sub(self.last_poll.load(Relaxed)) > FORCE_POLL_NANOS
    }

    /// Shutdown: every registered source's waiters wake to an error.
    pub(crate) fn shutdown(&self) {
        let descs: Vec<Arc<PollDesc>> = {
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            t.slots.iter().filter_map(|s| s.desc.clone()).collect()
        };
        for d in descs {
            d.shutdown();
        }
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

    /// A wake made before the sleeper blocks is not taken by a non-blocking
    /// poll in between: the waker lives in the sleep poll only. (With one
    /// shared poll, the non-blocking poll swallowed the wake and the
    /// sleeper blocked for good.)
    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot nest epoll descriptors (Poller::new)")]
    fn a_wake_survives_a_non_blocking_poll() {
        let p = Arc::new(Poller::new().unwrap());
        let (_ours, _theirs, _desc) = pair(&p);
        p.wake();
        assert_eq!(p.poll(Some(Duration::ZERO), false), 0);
        let done = sleeper(&p);
        assert_eq!(done.recv_timeout(HANG), Ok(0), "the wake was lost");
    }

    /// While an M sleeps in the poller, another takes the set's events
    /// without blocking (the set's lock is not held across the sleep);
    /// each event is taken once, by one of them, and a wake still ends the
    /// sleep.
    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot nest epoll descriptors (Poller::new)")]
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
    #[cfg_attr(miri, ignore = "Miri cannot nest epoll descriptors (Poller::new)")]
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
