//! The netpoller (Go's `netpoll`): one `mio::Poll` per runtime, polled by
//! Ms that hold no P and run no task.
//!
//! # Who polls
//!
//! - The last M to go idle blocks in [`Poller::poll`] with a timeout equal
//!   to the earliest timer (Go's `findRunnable` → `netpoll(delay)`), once
//!   any source is registered; `Shared::kick_timer_sleeper`, `startm` and
//!   shutdown break the wait through a `mio::Waker`.
//! - A spinning M polls without blocking before it steals, and any M whose
//!   P has gone 10 ms without anyone polling does too (Go's sysmon job,
//!   done by the workers until sysmon exists). Only one thread polls at a
//!   time: the others `try_lock` and move on.
//!
//! Events are dispatched to the [`PollDesc`]s by token. A token is a slot
//! index with a generation in the high bits, so an event still in flight
//! for a source that was deregistered (and whose slot was reused) is
//! dropped rather than delivered to the new source. Waking a task from a
//! poll made while holding a P puts it on that P's queue; from a poll
//! without a P, on the global queue, with an idle M woken for it.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Token};

use super::poll_desc::PollDesc;
use crate::time::now_nanos;

const WAKER: Token = Token(usize::MAX);
const INDEX_BITS: u32 = 32;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Events taken per `epoll_wait`.
const EVENTS: usize = 1024;
/// With sources registered, nobody may go longer than this without a poll.
pub(crate) const FORCE_POLL_NANOS: u64 = 10_000_000;

pub(crate) struct Poller {
    state: Mutex<PollState>,
    registry: mio::Registry,
    waker: mio::Waker,
    table: Mutex<Table>,
    /// Registered sources.
    registered: AtomicUsize,
    /// `now_nanos` of the last poll.
    last_poll: AtomicU64,
}

struct PollState {
    poll: mio::Poll,
    events: Events,
    /// Reused buffer for the descriptors of one batch of events.
    batch: Vec<(Arc<PollDesc>, usize)>,
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
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        Ok(Poller {
            state: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS),
                batch: Vec::new(),
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
    /// [`wake`](Poller::wake). With `must`, waits for the poll lock;
    /// otherwise returns 0 if another thread is polling. Returns the number
    /// of sources made ready.
    pub(crate) fn poll(&self, timeout: Option<Duration>, must: bool) -> usize {
        let mut st = match self.state.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) if must => {
                self.state.lock().unwrap_or_else(|e| e.into_inner())
            }
            Err(TryLockError::WouldBlock) => return 0,
        };
        let PollState {
            poll,
            events,
            batch,
        } = &mut *st;
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::error!(error = %e, "netpoll: poll failed");
            }
        }
        self.last_poll.store(now_nanos(), Relaxed);
        {
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            for ev in events.iter() {
                let token = ev.token();
                if token == WAKER {
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
        }
        let n = batch.len();
        // Outside the table lock: waking runs the scheduler's wake path.
        for (desc, bits) in batch.drain(..) {
            desc.add_bits(bits);
        }
        if n > 0 {
            tracing::trace!(ready = n, "netpoll");
        }
        n
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
