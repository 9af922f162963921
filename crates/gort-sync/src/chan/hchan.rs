//! `hchan`: the channel itself, one mutex around Go's fields.
//!
//! # Invariants (Go's `chan.go`), asserted in debug builds
//!
//! Counting only live waiters (the embedded waiter while queued, and sudogs
//! whose selector can still commit):
//!
//! 1. At most one of `sendq` and `recvq` has live waiters.
//! 2. A non-empty buffer has no live waiting receiver.
//! 3. A buffer with room has no live waiting sender.
//!
//! (The buffer may briefly exceed `cap` by values handed back by a receive
//! that was dropped after a sender committed to it: they are kept at the
//! front, and 2 and 3 still hold.)
//!
//! # One type for both flavors
//!
//! Go keeps buffered and unbuffered channels in one `hchan` and so does
//! gort: an unbuffered channel is `cap == 0`, whose buffer is only ever
//! non-empty with handed-back values. Every path (direct hand-off to a
//! waiter first, then the buffer, then blocking) is the same code, as in
//! Go's `chansend`/`chanrecv`; two files would repeat it.
//!
//! # Waiters
//!
//! `recvq` and `sendq` hold `Waiter`s: the channel's embedded waiter
//! (`lone`, used by the first plain operation that has to wait, so a task
//! parked on a channel allocates nothing more) or a `Sudog` (select
//! cases, and a plain operation that found `lone` taken). See `waitq.rs`.
//!
//! # Nothing of the user's is dropped under the lock
//!
//! A `T`'s `Drop` may block, or use this very channel (send on it, look at
//! its length, drop a `Sender` of it), and the lock is not reentrant: a
//! drop under it would spin for ever. So under the lock values are only
//! moved (into the buffer, into a waiter's slot, out to the caller), and
//! every value to be dropped is carried out of the locked region and
//! dropped after the unlock: a cancelled send's value (`ops.rs`,
//! `SendCase::cancel` in `select/case.rs`), the buffer when the last receiver
//! goes (`Receiver::drop`). Values that go back (a full `try_send`, a send
//! on a closed channel, the senders a close or the last receiver releases)
//! are returned to their caller. A sudog a queue gives up under the lock
//! (claimed, dead, or dequeued by its owner) is never the last reference to
//! it: its owner drops its own only after taking it out of the queue under
//! the lock, or after a peer did (asserted in debug builds); the stale
//! sudogs a select case replaces, and a waker a re-poll replaces, are
//! dropped after the lock too, since they may hold the last reference to a
//! waker. What still runs under the lock is a waker's clone when a waiter
//! registers (its reference count). `tests/chan_liveness.rs` drops values
//! that re-enter their channel on each of these paths.
//!
//! # Waking
//!
//! Operations collect the wakers of the waiters they completed and wake them
//! after the lock is released (Go readies the goroutine after `unlock`). A
//! waker of a gort task woken from a task running on a gort P puts it in that
//! P's `runnext`, so a ping-pong between two tasks stays on one P; on any
//! other executor it is that executor's waker.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

#[cfg(not(loom))]
use super::lock::{ChanLock as Mutex, ChanLockGuard as MutexGuard};
use super::waiter::{Claim, Selector, Sudog};
use super::waitq::{Lone, WaitQ, Waiter};
#[cfg(loom)]
use crate::loom::{lock, Mutex, MutexGuard};

/// The state under the channel's lock. `&mut Inner` and `&Inner` are only
/// reachable through the channel's mutex (`Chan::lock`'s guard): holding
/// one proves the lock is held, so every method below runs under the
/// channel's lock, and says so.
///
/// The fields are private: the ends (`mod.rs`), the blocking halves
/// (`ops.rs`) and the select cases (`select/case.rs`) use the vocabulary
/// below, in Go's terms: the non-blocking halves of `chansend` and
/// `chanrecv` (`try_send`, `try_recv`, `hand_back`, `close`), queueing a
/// waiter (`enqueue`, `dequeue`), a sudog's slot (`put_into`,
/// `take_from`), the embedded waiter (`park_lone`, `poll_lone`,
/// `leave_lone`), and the ends' counts (`add_sender`, `sender_dropped`,
/// ...).
#[derive(Debug)]
pub struct Inner<T> {
    buf: VecDeque<T>,
    /// Closed by `close` or by the last `Sender` dropping.
    closed: bool,
    /// Every `Receiver` dropped: sends fail from now on.
    rx_gone: bool,
    recvq: WaitQ<T>,
    sendq: WaitQ<T>,
    /// The waiter a plain operation uses without allocating (`waitq.rs`).
    lone: Lone<T>,
    /// `u32`: a parked task per channel makes every byte count.
    senders: u32,
    receivers: u32,
    /// The last `Sender` dropping does not close the channel (the timer
    /// channels, which Go never closes).
    keep_open: bool,
}

/// A channel (opaque outside this crate; public only because `select!`
/// expansions name it).
#[derive(Debug)]
pub struct Chan<T> {
    inner: Mutex<Inner<T>>,
    /// Go's `dataqsiz`; fixed at creation, so read without the lock.
    cap: usize,
}

/// Which of the channel's wait queues a waiter goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `recvq`: a receive waiting for a value.
    Recv,
    /// `sendq`: a send waiting, holding its value.
    Send,
}

/// Wakers to run once the lock is released. The first is kept inline: a
/// send or receive completes at most one waiter, and a `Vec` would cost an
/// allocation per hand-off; only `close` and the last receiver going
/// release more, which spill into the vector.
#[derive(Debug)]
pub(crate) struct Wakes {
    first: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakes {
    pub(crate) const fn new() -> Wakes {
        Wakes {
            first: None,
            more: Vec::new(),
        }
    }
}

impl Extend<Waker> for Wakes {
    #[inline]
    fn extend<I: IntoIterator<Item = Waker>>(&mut self, iter: I) {
        for w in iter {
            if self.first.is_none() {
                self.first = Some(w);
            } else {
                self.more.push(w);
            }
        }
    }
}

/// The outcome of a send attempted without blocking.
pub(crate) enum TrySend<T> {
    Sent,
    /// Nobody to take it and no room: give the value back.
    Full(T),
    /// Closed (or every receiver gone): give the value back.
    Closed(T),
}

/// The outcome of a receive attempted without blocking.
pub(crate) enum TryRecv<T> {
    Got(T),
    Empty,
    Closed,
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize) -> Chan<T> {
        Chan {
            inner: Mutex::new(Inner {
                buf: VecDeque::with_capacity(cap.min(4096)),
                closed: false,
                rx_gone: false,
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
                lone: Lone::new(),
                senders: 1,
                receivers: 1,
                keep_open: false,
            }),
            cap,
        }
    }

    /// The buffer's capacity (Go's `dataqsiz`). No lock: it never changes.
    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Takes the channel's lock: the guard is the only way to its
    /// [`Inner`].
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
        #[cfg(loom)]
        {
            lock(&self.inner)
        }
    }

    /// Closes the channel and wakes its waiters; true for the call that
    /// closed it. Takes the lock, and wakes after releasing it.
    pub(crate) fn close(&self) -> bool {
        let mut wakes = Wakes::new();
        let closed = self.lock().close(&mut wakes);
        wake_all(wakes);
        closed
    }
}

impl<T> Inner<T> {
    /// Under the lock: takes the first live waiter of `q` that is not
    /// `me`'s and that can be claimed. Busy selects are left in place (they will look again);
    /// dead sudogs are dropped (Go removes them lazily the same way).
    ///
    /// The empty-queue check is inlined: most sends and receives find the
    /// other side's queue empty.
    #[inline(always)]
    fn claim_first(
        q: &mut WaitQ<T>,
        lone: &mut Lone<T>,
        me: Option<&Selector>,
    ) -> Option<Claimed<T>> {
        if q.is_empty() {
            return None;
        }
        Self::claim_first_slow(q, lone, me)
    }

    fn claim_first_slow(
        q: &mut WaitQ<T>,
        lone: &mut Lone<T>,
        me: Option<&Selector>,
    ) -> Option<Claimed<T>> {
        // The embedded waiter alone in the queue: the other common case
        // (ping-pong), without the general loop.
        if q.take_lone() {
            return Some(Claimed::Lone(lone.commit()));
        }
        let mut i = 0;
        while let Some(w) = q.get(i) {
            match w {
                Waiter::Lone => {
                    q.remove(i);
                    let waker = lone.commit();
                    return Some(Claimed::Lone(waker));
                }
                Waiter::Sudog(sg) if sg.is_of(me) => i += 1,
                Waiter::Sudog(sg) => match sg.try_claim(me) {
                    Claim::Won => match q.remove(i) {
                        Some(Waiter::Sudog(sg)) => {
                            // The value it gets or gives up stays with its
                            // owner's reference.
                            debug_assert_owner_holds(&sg);
                            return Some(Claimed::Sudog(sg));
                        }
                        _ => unreachable!("just looked at it"),
                    },
                    Claim::Busy => i += 1,
                    Claim::Dead => {
                        debug_assert_owner_holds(sg);
                        q.remove(i);
                    }
                },
            }
        }
        None
    }

    /// Under the lock: delivers `v` into a claimed receive waiter; the
    /// waker to wake.
    fn put(&mut self, c: Claimed<T>, v: T) -> Option<Waker> {
        match c {
            Claimed::Lone(waker) => {
                self.lone.put(v);
                waker
            }
            Claimed::Sudog(sg) => {
                // SAFETY: `sg` was claimed from this channel's queue.
                unsafe { self.put_into(&sg, v) };
                sg.sel().take_waker()
            }
        }
    }

    /// Under the lock: takes the value of a claimed send waiter; the waker
    /// to wake.
    fn take(&mut self, c: Claimed<T>) -> (T, Option<Waker>) {
        let (v, waker) = match c {
            Claimed::Lone(waker) => (self.lone.take(), waker),
            Claimed::Sudog(sg) => {
                // SAFETY: as in `put`.
                (unsafe { self.take_from(&sg) }, sg.sel().take_waker())
            }
        };
        (v.expect("a waiting sender holds its value"), waker)
    }

    /// Under the lock: moves the value out of `sg`'s slot (waiter.rs, "The
    /// slot"): a receive's delivered value, or what is left of a send's.
    ///
    /// # Safety
    ///
    /// `sg` was queued in this channel (it may have left the queue since):
    /// a slot is protected by the lock of its sudog's channel only, and
    /// `&mut self` proves that this channel's lock is held.
    #[inline]
    pub(crate) unsafe fn take_from(&mut self, sg: &Sudog<T>) -> Option<T> {
        // SAFETY: this channel's lock is held (`&mut self`) and `sg` is
        // this channel's (the caller's promise): `Sudog::take`'s contract.
        unsafe { sg.take() }
    }

    /// Under the lock: puts `v` in `sg`'s slot.
    ///
    /// # Safety
    ///
    /// As for [`take_from`](Inner::take_from).
    #[inline]
    pub(crate) unsafe fn put_into(&mut self, sg: &Sudog<T>, v: T) {
        // SAFETY: as in `take_from`.
        unsafe { sg.put(v) }
    }

    /// Under the lock: queues `w` at the back of `side`'s wait queue (Go's
    /// `c.recvq.enqueue` / `c.sendq.enqueue`).
    #[inline]
    pub(crate) fn enqueue(&mut self, side: Side, w: Waiter<T>) {
        match side {
            Side::Recv => self.recvq.push_back(w),
            Side::Send => self.sendq.push_back(w),
        }
    }

    /// Under the lock: Go's `chansend` without blocking: hand `v` to a
    /// waiting receiver, or buffer it, or give it back.
    pub(crate) fn try_send(
        &mut self,
        cap: usize,
        v: T,
        me: Option<&Selector>,
        wakes: &mut Wakes,
    ) -> TrySend<T> {
        if self.closed || self.rx_gone {
            return TrySend::Closed(v);
        }
        if let Some(c) = Self::claim_first(&mut self.recvq, &mut self.lone, me) {
            wakes.extend(self.put(c, v));
            return TrySend::Sent;
        }
        if self.buf.len() < cap {
            self.buf.push_back(v);
            self.check_invariants(cap);
            return TrySend::Sent;
        }
        TrySend::Full(v)
    }

    /// Under the lock: Go's `chanrecv` without blocking.
    ///
    /// Always inlined: it is the body of every receive, plain or select
    /// case, and left to LLVM's heuristics whether it was inlined into the
    /// plain receive's poll changed with the layout of unrelated modules
    /// (`docs/perf-log.md`, "gort-sync's refactor for issue 19").
    #[inline(always)]
    pub(crate) fn try_recv(
        &mut self,
        cap: usize,
        me: Option<&Selector>,
        wakes: &mut Wakes,
    ) -> TryRecv<T> {
        if let Some(v) = self.buf.pop_front() {
            // The buffer had a value; a waiting sender (the buffer was full)
            // moves its value to the tail, as Go's `recv` does.
            if self.buf.len() < cap {
                if let Some(c) = Self::claim_first(&mut self.sendq, &mut self.lone, me) {
                    let (sv, waker) = self.take(c);
                    self.buf.push_back(sv);
                    wakes.extend(waker);
                }
            }
            self.check_invariants(cap);
            return TryRecv::Got(v);
        }
        if let Some(c) = Self::claim_first(&mut self.sendq, &mut self.lone, me) {
            let (v, waker) = self.take(c);
            wakes.extend(waker);
            return TryRecv::Got(v);
        }
        if self.closed {
            return TryRecv::Closed;
        }
        TryRecv::Empty
    }

    /// Under the lock: gives a value back to the channel: the value of a
    /// receive that a sender committed to but whose future was dropped
    /// before it took it.
    /// A waiting receiver gets it; otherwise it goes to the front of the
    /// buffer, to be received next.
    pub(crate) fn hand_back(&mut self, v: T, wakes: &mut Wakes) {
        if let Some(c) = Self::claim_first(&mut self.recvq, &mut self.lone, None) {
            wakes.extend(self.put(c, v));
            return;
        }
        // With every receiver gone the value is dropped with the channel,
        // as any other buffered value.
        self.buf.push_front(v);
    }

    /// Under the lock: closes; every waiting receiver gets `None`, every
    /// waiting sender its value back. Returns false if already closed.
    pub(crate) fn close(&mut self, wakes: &mut Wakes) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        self.release_all_waiters(wakes);
        true
    }

    /// Under the lock: the last receiver is gone; waiting senders get their
    /// value back.
    fn receivers_gone(&mut self, wakes: &mut Wakes) {
        self.rx_gone = true;
        self.release_all_waiters(wakes);
    }

    /// Under the lock: commits every waiter that can be claimed, its slot
    /// untouched (`close`, `receivers_gone`).
    fn release_all_waiters(&mut self, wakes: &mut Wakes) {
        // Committing without touching the slot: a receive finds it empty
        // (closed), a send finds its value still there (given back). Busy
        // selects stay queued; they look again and see the channel closed.
        let lone = &mut self.lone;
        for q in [&mut self.recvq, &mut self.sendq] {
            q.retain(|w| match w {
                Waiter::Lone => {
                    wakes.extend(lone.commit());
                    false
                }
                Waiter::Sudog(sg) => match sg.try_claim(None) {
                    Claim::Won => {
                        debug_assert_owner_holds(sg);
                        wakes.extend(sg.sel().take_waker());
                        false
                    }
                    Claim::Busy => true,
                    Claim::Dead => {
                        debug_assert_owner_holds(sg);
                        false
                    }
                },
            });
        }
    }

    /// Under the lock: removes `sg` from whichever queue holds it (Go's
    /// `dequeueSudoG`).
    pub(crate) fn dequeue(&mut self, sg: &Arc<Sudog<T>>) {
        let _ = self.recvq.remove_first(|w| w.is(sg)) || self.sendq.remove_first(|w| w.is(sg));
    }

    /// Under the lock: removes the embedded waiter from whichever queue
    /// holds it.
    fn dequeue_lone(&mut self) {
        let lone = |w: &Waiter<T>| matches!(w, Waiter::Lone);
        let _ = self.recvq.remove_first(lone) || self.sendq.remove_first(lone);
    }

    /// Under the lock: a plain operation that must wait takes the embedded
    /// waiter, if it is free (`waitq.rs`, [`Lone::try_park`]), holding
    /// `value` (a send's) and `waker`; the caller then queues
    /// [`Waiter::Lone`] with [`enqueue`](Inner::enqueue). `Err` gives the
    /// value back: the embedded waiter is taken, park in a sudog instead.
    #[inline]
    pub(crate) fn park_lone(&mut self, value: Option<T>, waker: &Waker) -> Result<(), Option<T>> {
        self.lone.try_park(value, waker)
    }

    /// Under the lock: the owner of the embedded waiter polls it again
    /// ([`Lone::poll`]): `Some(slot)` once a peer committed, else its waker
    /// re-registered. A replaced waker goes to `replaced`, to be dropped
    /// after the lock is released.
    #[inline]
    pub(crate) fn poll_lone(
        &mut self,
        waker: &Waker,
        replaced: &mut Option<Waker>,
    ) -> Option<Option<T>> {
        self.lone.poll(waker, replaced)
    }

    /// Under the lock: the owner of the embedded waiter gives it up (its
    /// operation was dropped): out of its queue if it is still there, and
    /// free again. Returns the slot's content: a value a peer delivered,
    /// or a send's own value, for the caller to hand back or drop (after
    /// the lock).
    pub(crate) fn leave_lone(&mut self) -> Option<T> {
        if self.lone.is_waiting() {
            self.dequeue_lone();
        }
        self.lone.release()
    }

    /// Under the lock: values in the buffer (Go's `len(ch)`).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Under the lock: whether the channel has been closed.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Under the lock: the last `Sender` dropping will not close the
    /// channel (`chan_kept_open`).
    pub(crate) fn keep_open(&mut self) {
        self.keep_open = true;
    }

    /// Under the lock: a `Sender` was cloned.
    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    /// Under the lock: a `Receiver` was cloned.
    pub(crate) fn add_receiver(&mut self) {
        self.receivers += 1;
    }

    /// Under the lock: a `Sender` was dropped; the last one closes the
    /// channel (unless it is kept open).
    pub(crate) fn sender_dropped(&mut self, wakes: &mut Wakes) {
        self.senders -= 1;
        if self.senders == 0 && !self.keep_open {
            self.close(wakes);
        }
    }

    /// Under the lock: a `Receiver` was dropped. When it was the last one,
    /// waiting senders get their values back and the buffer is returned:
    /// nobody can receive those values any more, and the caller drops them
    /// after the lock is released (module doc).
    pub(crate) fn receiver_dropped(&mut self, wakes: &mut Wakes) -> VecDeque<T> {
        self.receivers -= 1;
        if self.receivers == 0 {
            self.receivers_gone(wakes);
            std::mem::take(&mut self.buf)
        } else {
            VecDeque::new()
        }
    }

    /// Under the lock: waiters a peer could commit to right now (a select
    /// busy looking at its cases is not counted: it looks again before it
    /// sleeps).
    fn live(&self, q: &WaitQ<T>) -> usize {
        q.iter()
            .filter(|w| match w {
                Waiter::Lone => self.lone.is_waiting(),
                Waiter::Sudog(sg) => sg.sel().is_waiting(),
            })
            .count()
    }

    /// Under the lock: the invariants in the module doc.
    pub(crate) fn check_invariants(&self, cap: usize) {
        if cfg!(debug_assertions) && !cfg!(loom) {
            let (r, s) = (self.live(&self.recvq), self.live(&self.sendq));
            debug_assert!(
                r == 0 || s == 0,
                "both sendq ({s}) and recvq ({r}) have live waiters"
            );
            debug_assert!(
                self.buf.is_empty() || r == 0,
                "a non-empty buffer with {r} waiting receivers"
            );
            debug_assert!(
                self.buf.len() >= cap || s == 0,
                "a buffer with room and {s} waiting senders"
            );
        }
    }
}

/// A sudog about to leave its queue under the lock is not the last
/// reference to it (module doc, "Nothing of the user's is dropped under the
/// lock"): its owner still holds one, so removing it drops no value.
#[inline]
fn debug_assert_owner_holds<T>(sg: &Arc<Sudog<T>>) {
    debug_assert!(
        Arc::strong_count(sg) > 1,
        "chan: a queued sudog outlived its owner's reference"
    );
}

/// A waiter claimed by a peer, out of its queue.
enum Claimed<T> {
    /// The channel's embedded waiter, with the waker it had.
    Lone(Option<Waker>),
    Sudog(Arc<Sudog<T>>),
}

/// Wakes every collected waker (after the channel lock is released), in
/// the order they were collected. Inlined: most operations wake nobody or
/// one task.
#[inline]
pub(crate) fn wake_all(wakes: Wakes) {
    if let Some(w) = wakes.first {
        w.wake();
    }
    if !wakes.more.is_empty() {
        wake_each(wakes.more);
    }
}

fn wake_each(wakes: Vec<Waker>) {
    for w in wakes {
        w.wake();
    }
}
