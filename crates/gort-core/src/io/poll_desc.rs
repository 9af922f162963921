//! `PollDesc`: the readiness of one registered I/O source and the tasks
//! waiting for it (Go's `pollDesc`, with a waker list where Go has the
//! `rg`/`wg` semaphores).
//!
//! # Readiness word
//!
//! ```text
//!  bits 0..7   READABLE WRITABLE READ_CLOSED WRITE_CLOSED ERROR SHUTDOWN CLOSED
//!  bits 16..32 tick: +1 on every event the poller delivers
//! ```
//!
//! The poller ORs an event's bits in (and bumps the tick), *then* takes the
//! waiters of the directions it made ready and wakes them. A task that
//! finds its direction not ready registers its waker under the waiter
//! lock, *then* re-reads the word. The lock orders the two: either the
//! poller's take comes after the registration (and wakes it), or the
//! registration comes after the take, and then after the OR, so the
//! re-read sees the bits. No wake-up is lost between a `WouldBlock` and
//! the registration.
//!
//! Readiness is edge-triggered: after an operation fails with
//! `WouldBlock`, the task clears the bits it was given — but only if the
//! tick is still the one it read, so an event that arrived since is kept
//! and the task retries instead of sleeping on it.

use std::io;
use std::task::{Context, Poll, Waker};

use crate::loom::{lock, AtomicUsize, Mutex, Ordering::*};

const READABLE: usize = 1;
const WRITABLE: usize = 1 << 1;
const READ_CLOSED: usize = 1 << 2;
const WRITE_CLOSED: usize = 1 << 3;
const ERROR: usize = 1 << 4;
const SHUTDOWN: usize = 1 << 5;
const CLOSED: usize = 1 << 6;
const BITS: usize = 0xffff;
const TICK_SHIFT: u32 = 16;
const TICK_MASK: usize = 0xffff;

/// A direction of I/O a task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Readable (or read-closed, or an error).
    Read,
    /// Writable (or write-closed, or an error).
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// What an event said about a source, as one direction sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyEvent {
    /// The descriptor's event count when this readiness was read.
    pub(crate) tick: usize,
    bits: usize,
}

impl ReadyEvent {
    /// The peer closed its writing side (a read will see EOF).
    pub fn is_read_closed(&self) -> bool {
        self.bits & READ_CLOSED != 0
    }

    /// The peer closed its reading side (a write will fail).
    pub fn is_write_closed(&self) -> bool {
        self.bits & WRITE_CLOSED != 0
    }
}

#[derive(Debug, Default)]
struct Waiters {
    reader: WaiterList,
    writer: WaiterList,
}

/// The wakers waiting for one direction. The first is kept inline: the
/// common case is one task per direction, woken and registered again once
/// per I/O wait, and that round trip must not allocate (a `Vec` taken on
/// every wake-up did: a malloc and a free per wait).
#[derive(Debug, Default)]
struct WaiterList {
    first: Option<Waker>,
    /// Only while `first` is `Some`.
    rest: Vec<Waker>,
}

impl WaiterList {
    /// Adds `waker` unless one that wakes the same task is there.
    fn register(&mut self, waker: &Waker) {
        match &self.first {
            None => self.first = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                if !self.rest.iter().any(|w| w.will_wake(waker)) {
                    self.rest.push(waker.clone());
                }
            }
        }
    }

    /// Empties the list, for waking outside the lock.
    fn take(&mut self) -> WaiterList {
        WaiterList {
            first: self.first.take(),
            rest: if self.rest.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut self.rest)
            },
        }
    }

    /// Wakes every waiter. A waker may be anyone's (a foreign future
    /// polled by hand inside a task) and its `wake` may panic: the panic is
    /// caught, reported and swallowed, so that it neither unwinds into the
    /// netpolling worker (which takes a panic for a scheduler bug and
    /// aborts) nor leaves the waiters after it unwoken.
    fn wake(self) {
        for w in self.first.into_iter().chain(self.rest) {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || w.wake()));
            if r.is_err() {
                tracing::error!("an I/O waiter's waker panicked in wake");
                eprintln!("gort: an I/O waiter's waker panicked in wake; the panic is ignored");
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct PollDesc {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// This source's key in the poller's table (index and generation).
    pub(crate) token: usize,
}

impl PollDesc {
    pub(crate) fn new(token: usize) -> PollDesc {
        PollDesc {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
            token,
        }
    }

    /// The readiness bits of an event (where the set is polled through
    /// mio: not on Linux, and under Miri).
    #[cfg_attr(any(loom, all(target_os = "linux", not(miri))), allow(dead_code))]
    pub(crate) fn event_bits(event: &mio::event::Event) -> usize {
        let mut bits = 0;
        if event.is_readable() {
            bits |= READABLE;
        }
        if event.is_writable() {
            bits |= WRITABLE;
        }
        if event.is_read_closed() {
            bits |= READ_CLOSED;
        }
        if event.is_write_closed() {
            bits |= WRITE_CLOSED;
        }
        if event.is_error() {
            bits |= ERROR;
        }
        bits
    }

    /// The readiness bits of an `epoll_event`'s flags: what
    /// [`event_bits`](PollDesc::event_bits) reads from mio's `Event`, by
    /// mio's own definitions for epoll (so both paths of the poller agree).
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    pub(crate) fn epoll_bits(flags: u32) -> usize {
        let has = |f: libc::c_int| flags & f as u32 != 0;
        let mut bits = 0;
        if has(libc::EPOLLIN | libc::EPOLLPRI) {
            bits |= READABLE;
        }
        if has(libc::EPOLLOUT) {
            bits |= WRITABLE;
        }
        if has(libc::EPOLLHUP) || (has(libc::EPOLLIN) && has(libc::EPOLLRDHUP)) {
            bits |= READ_CLOSED;
        }
        if has(libc::EPOLLHUP)
            || (has(libc::EPOLLOUT) && has(libc::EPOLLERR))
            || flags == libc::EPOLLERR as u32
        {
            bits |= WRITE_CLOSED;
        }
        if has(libc::EPOLLERR) {
            bits |= ERROR;
        }
        bits
    }

    /// Marks the source shut down (its runtime or registration is gone):
    /// every waiter wakes to an error.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn shutdown(&self) {
        self.add_bits(SHUTDOWN);
    }

    /// Closes the source for use: every waiter wakes to [`Closed`].
    ///
    /// [`Closed`]: super::error::Closed
    pub(crate) fn close(&self) {
        self.add_bits(CLOSED);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.readiness.load(Acquire) & CLOSED != 0
    }

    /// Poller: records an event's bits and wakes the tasks they concern.
    pub(crate) fn add_bits(&self, bits: usize) {
        // AcqRel: Release publishes the bits to the waiter's re-read (with
        // the waiter lock below ordering the two, see the module doc).
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |cur| {
            let tick = ((cur >> TICK_SHIFT) + 1) & TICK_MASK;
            Some((tick << TICK_SHIFT) | (cur & BITS) | bits)
        });
        let (readers, writers) = {
            let mut w = lock(&self.waiters);
            let r = if bits & (Direction::Read.mask() | SHUTDOWN | CLOSED) != 0 {
                w.reader.take()
            } else {
                WaiterList::default()
            };
            let wr = if bits & (Direction::Write.mask() | SHUTDOWN | CLOSED) != 0 {
                w.writer.take()
            } else {
                WaiterList::default()
            };
            (r, wr)
        };
        readers.wake();
        writers.wake();
    }

    pub(crate) fn ready(&self, dir: Direction) -> Option<io::Result<ReadyEvent>> {
        // Acquire: pairs with `add_bits`' Release.
        let cur = self.readiness.load(Acquire);
        if cur & CLOSED != 0 {
            return Some(Err(io::Error::other(super::error::Closed)));
        }
        if cur & SHUTDOWN != 0 {
            return Some(Err(shutdown_error()));
        }
        let bits = cur & dir.mask();
        (bits != 0).then_some(Ok(ReadyEvent {
            tick: (cur >> TICK_SHIFT) & TICK_MASK,
            bits,
        }))
    }

    /// Ready in `dir`, or registers `cx`'s waker for it.
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(r) = self.ready(dir) {
            return Poll::Ready(r);
        }
        {
            let mut w = lock(&self.waiters);
            let list = match dir {
                Direction::Read => &mut w.reader,
                Direction::Write => &mut w.writer,
            };
            list.register(cx.waker());
        }
        // Re-read after registering: see the module doc.
        match self.ready(dir) {
            Some(r) => Poll::Ready(r),
            None => {
                crate::task::set_wait_reason(crate::WaitReason::IoWait);
                Poll::Pending
            }
        }
    }

    /// After a `WouldBlock`: forgets `event`'s readiness unless a newer
    /// event arrived. The closed bits are final and stay.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.bits & (READABLE | WRITABLE);
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |cur| {
            if (cur >> TICK_SHIFT) & TICK_MASK != event.tick {
                return None;
            }
            Some(cur & !clear)
        });
    }
}

/// The error of an operation on a source whose runtime shut down.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other(super::error::RuntimeShutdown)
}

#[cfg(all(test, target_os = "linux", not(miri), not(loom)))]
mod tests {
    use super::*;

    /// `epoll_bits` reads the flags as mio's `Event` does for epoll: a
    /// peer's half-close is readable and read-closed, a reset (ERR + HUP)
    /// closes both ways with an error, a lone ERR is write-closed.
    #[test]
    fn epoll_bits_read_flags_as_mio_does() {
        let f = |flags: &[libc::c_int]| flags.iter().fold(0u32, |a, &b| a | b as u32);
        let cases: &[(&[libc::c_int], usize)] = &[
            (&[libc::EPOLLIN], READABLE),
            (&[libc::EPOLLPRI], READABLE),
            (&[libc::EPOLLOUT], WRITABLE),
            (&[libc::EPOLLIN, libc::EPOLLRDHUP], READABLE | READ_CLOSED),
            // RDHUP without IN: mio does not call it read-closed.
            (&[libc::EPOLLRDHUP], 0),
            (
                &[libc::EPOLLIN, libc::EPOLLOUT, libc::EPOLLHUP],
                READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED,
            ),
            (
                &[libc::EPOLLERR, libc::EPOLLHUP],
                READ_CLOSED | WRITE_CLOSED | ERROR,
            ),
            (&[libc::EPOLLERR], WRITE_CLOSED | ERROR),
            (
                &[libc::EPOLLOUT, libc::EPOLLERR],
                WRITABLE | WRITE_CLOSED | ERROR,
            ),
            (&[libc::EPOLLIN, libc::EPOLLERR], READABLE | ERROR),
        ];
        for &(flags, want) in cases {
            assert_eq!(PollDesc::epoll_bits(f(flags)), want, "flags {flags:?}");
        }
    }
}
