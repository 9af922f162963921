//! Go's `sync.WaitGroup`.
//!
//! # The state word
//!
//! As in Go (`sync/waitgroup.go`), one 64-bit atomic holds the counter (the
//! high 32 bits, an `i32`) and the number of registered waiters (the low 32
//! bits): `add`, `done` and the `wait` fast path (counter already zero)
//! take no lock, and the read-modify-write of an `add` sees the counter and
//! the waiters at one instant. Waiters park their wakers in a list under a
//! mutex; a waiter registers, and deregisters, only under that mutex, and
//! registers only by a compare-and-swap that finds the counter non-zero.
//!
//! The `add` that brings the counter to zero with waiters registered (the
//! last `done`) takes the mutex and, if the counter is still zero, releases
//! them all: the waiter count goes back to zero and each slot is marked
//! released, its waker woken after the unlock. Under the mutex no waiter
//! registers or leaves, and the counter is zero at the instant of the
//! check, so every waiter released was waiting for a zero that happened.
//! A waiter either registered before the decrement (then it is released)
//! or finds the counter zero (then it does not wait): no wake-up is lost.
//!
//! # Misuse, as Go reports it
//!
//! Go's rules: an `add` with a positive delta that starts when the counter
//! is zero must happen before a `wait`, and a group reused for a new round
//! must see its `add`s happen after every `wait` of the previous round has
//! returned. Two breaches are caught, where Go catches them:
//!
//! - `sync: WaitGroup misuse: Add called concurrently with Wait`: an `add`
//!   raises the counter from zero while the waiter count is not zero. A
//!   waiter registers only while the counter is non-zero and leaves the
//!   count when it is released or dropped, so the counter is zero with
//!   waiters registered only between the last `done`'s decrement and its
//!   release of them: the `add` raced that `done` while a `wait` was still
//!   blocked. The panicking `add` takes its delta back and, if that leaves
//!   the counter zero, releases the waiters itself, so they are not left
//!   waiting for a `done` that never comes.
//! - `sync: WaitGroup is reused before previous Wait has returned`: a
//!   released waiter, polled again, finds the state word non-zero: an
//!   `add` came after the zero that released it and before its `wait`
//!   returned. (A released `Wait` future dropped without being polled again
//!   is not checked: it never returns.)
//!
//! Neither can fire in a program that keeps the rules: its next round's
//! first `add` happens after every `wait` of the round returned (or was
//! dropped), and so after each was released and left the waiter count. Like
//! Go's, the checks see a breach only when the race goes the wrong way.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use gort_core::task::{park_waker, same_waker};
use gort_core::{JoinHandle, WaitReason};

use crate::loom::{lock, AtomicU64, Mutex};

/// The counter's place in the state word.
const COUNTER_SHIFT: u32 = 32;
/// One registered waiter in the state word.
const ONE_WAITER: u64 = 1;

/// The counter of a state word.
fn counter(state: u64) -> i32 {
    (state >> COUNTER_SHIFT) as i32
}

/// The registered waiters of a state word.
fn waiters(state: u64) -> u32 {
    state as u32
}

/// What adding `delta` to the counter adds to the state word: the low 32
/// bits of `delta`, shifted (a wrapping add of a negative delta borrows
/// nothing from the waiter bits, which it leaves zero).
fn counter_delta(delta: isize) -> u64 {
    (delta as u64) << COUNTER_SHIFT
}

#[derive(Debug, Default)]
struct Inner {
    /// The state word (module doc).
    state: AtomicU64,
    /// The waiters' slots. A waiter's registration (its slot and its count
    /// in `state`) and its leaving are made under this lock.
    waiters: Mutex<Waiters>,
}

#[derive(Debug, Default)]
struct Waiters {
    /// Each waiting `Wait` future's slot, by key.
    slots: Vec<Slot>,
    /// Keys of free slots.
    free: Vec<usize>,
}

/// One `Wait` future's place in the list.
#[derive(Debug, Default)]
enum Slot {
    /// No future uses it.
    #[default]
    Free,
    /// Registered, counted in the state word, woken by the zero.
    Waiting(Waker),
    /// Released by a zero (no longer counted); the future returns when
    /// polled.
    Released,
}

/// Waits for a collection of tasks to finish (Go's `sync.WaitGroup`).
///
/// Clones share one counter. `add(n)` before starting work, `done()` when
/// each piece finishes, `wait().await` until the counter is zero.
///
/// # Panics
///
/// With Go's messages, where Go panics:
///
/// - `sync: negative WaitGroup counter`: `add`/`done` would take the counter
///   below zero (the counter is left as it was);
/// - `sync: WaitGroup misuse: Add called concurrently with Wait`: an `add`
///   raises the counter from zero while a `wait` is still blocked on the
///   zero just reached (the `add` raced the last `done`; the delta is not
///   added);
/// - `sync: WaitGroup is reused before previous Wait has returned`: a
///   `wait` released by a zero finds, when polled again, that an `add`
///   started the next round before it returned.
///
/// A program that keeps Go's rules never sees the last two: an `add` that
/// starts from zero must happen before the `wait`s meant to wait for it,
/// and, to reuse the group, after every `wait` of the previous round has
/// returned (or been dropped). Like Go's, these checks catch a breach only
/// when the race goes the wrong way. The counter is an `i32`, as in Go; an
/// `add` that would take it past `i32::MAX` panics with `sync: WaitGroup
/// counter overflow` (Go wraps).
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let wg = gort_sync::WaitGroup::new();
///     for _ in 0..10 {
///         wg.go(async { gort_core::yield_now().await });
///     }
///     wg.wait().await;
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

impl WaitGroup {
    /// A wait group with a zero counter.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the counter; waking every
    /// waiter when it reaches zero.
    ///
    /// # Panics
    ///
    /// See the type's documentation.
    pub fn add(&self, delta: isize) {
        let state = self.add_to_counter(delta);
        let (v, w) = (counter(state), waiters(state));
        let from_zero = delta > 0 && i64::from(v) == delta as i64;
        if from_zero && w != 0 {
            // Raised from zero with waiters registered: the last `done`
            // has not released them yet (module doc, "Misuse"). Take the
            // delta back, and release them if that leaves the counter zero
            // (the `done` may have looked while our delta was in).
            let state = self.take_back(delta);
            if counter(state) == 0 && waiters(state) != 0 {
                self.release_waiters();
            }
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v == 0 && w != 0 {
            self.release_waiters();
        }
    }

    /// The atomic half of [`add`](WaitGroup::add): adds `delta` to the
    /// counter and returns the new state word, or takes it back and panics
    /// if the counter would leave `0..=i32::MAX`.
    fn add_to_counter(&self, delta: isize) -> u64 {
        // AcqRel: Release publishes what the caller did before its `done`
        // to a waiter that sees the zero (the Acquire loads in `Wait::poll`,
        // or through the waiters' lock taken by `release_waiters`, which
        // the last `done` takes after this); Acquire makes the last `done`
        // read every earlier one's release, so that what it publishes
        // through the lock includes theirs.
        let prev = self.inner.state.fetch_add(counter_delta(delta), AcqRel);
        let exact = i64::from(counter(prev)).checked_add(delta as i64);
        match exact {
            Some(v) if v < 0 => {
                self.take_back(delta);
                panic!("sync: negative WaitGroup counter");
            }
            Some(v) if v <= i64::from(i32::MAX) => prev.wrapping_add(counter_delta(delta)),
            _ => {
                self.take_back(delta);
                panic!("sync: WaitGroup counter overflow");
            }
        }
    }

    /// Undoes an `add_to_counter` of `delta` before a panic, so that a
    /// caught panic leaves the counter as it was; the new state word.
    fn take_back(&self, delta: isize) -> u64 {
        // AcqRel, as in `add_to_counter`: this is an add of `-delta`.
        self.inner
            .state
            .fetch_sub(counter_delta(delta), AcqRel)
            .wrapping_sub(counter_delta(delta))
    }

    /// The counter reached zero with waiters registered: under the
    /// waiters' lock, if it is still zero, releases every registered waiter
    /// (module doc, "The state word"); wakes them after the unlock.
    fn release_waiters(&self) {
        let wakers: Vec<Waker> = {
            let mut g = lock(&self.inner.waiters);
            // Acquire: pairs with the Release of every add (through the
            // release sequence of the state word); the released waiters
            // see it through this lock.
            let state = self.inner.state.load(Acquire);
            if counter(state) != 0 || waiters(state) == 0 {
                // An add came first (a new round: its waiters wait for its
                // zero), or another release ran.
                return;
            }
            // Only this lock's holders change the waiter bits, so these are
            // exactly the registered waiters. Relaxed: the slots are
            // published by the lock; the add that reads the bits needs
            // only their value.
            self.inner
                .state
                .fetch_sub(u64::from(waiters(state)) * ONE_WAITER, Relaxed);
            let mut wakers = Vec::with_capacity(waiters(state) as usize);
            for slot in &mut g.slots {
                if matches!(slot, Slot::Waiting(_)) {
                    if let Slot::Waiting(waker) = std::mem::replace(slot, Slot::Released) {
                        wakers.push(waker);
                    }
                }
            }
            wakers
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Decrements the counter by one.
    ///
    /// # Panics
    ///
    /// `sync: negative WaitGroup counter` if it was zero; see also the
    /// type's documentation.
    pub fn done(&self) {
        self.add(-1);
    }

    /// The current counter (a snapshot).
    pub fn count(&self) -> i64 {
        // Acquire, as the waits' loads: a caller that reads 0 sees what
        // was done before every `done`.
        i64::from(counter(self.inner.state.load(Acquire)))
    }

    /// Waits until the counter is zero.
    ///
    /// # Panics
    ///
    /// `sync: WaitGroup is reused before previous Wait has returned`, when
    /// polled after the zero that released it if an `add` came in between
    /// (see the type's documentation).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future only deregisters it (a dropped
    /// wait has returned, as far as reuse is concerned).
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            wg: self,
            key: None,
        }
    }

    /// Blocks the current thread until the counter is zero (not for use
    /// inside a task).
    pub fn wait_blocking(&self) {
        futures::executor::block_on(self.wait());
    }

    /// `add(1)`, spawns `fut` on the current runtime, and calls `done()`
    /// when it finishes (also if it panics or is aborted).
    ///
    /// # Panics
    ///
    /// Outside a gort runtime.
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        struct DoneOnDrop(WaitGroup);
        impl Drop for DoneOnDrop {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let guard = DoneOnDrop(self.clone());
        gort_core::spawn(async move {
            let _guard = guard;
            fut.await;
        })
    }
}

/// The future of [`WaitGroup::wait`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    wg: &'a WaitGroup,
    key: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.wg.inner;
        let Some(k) = self.key else {
            // Acquire: pairs with the adds' Release (`add_to_counter`): the
            // work before every `done` is visible once we see zero.
            if counter(inner.state.load(Acquire)) == 0 {
                return Poll::Ready(());
            }
            return self.register(cx);
        };
        let mut g = lock(&inner.waiters);
        let replaced = match &mut g.slots[k] {
            Slot::Released => {
                g.slots[k] = Slot::Free;
                g.free.push(k);
                drop(g);
                self.key = None;
                // Acquire: as above (the release itself reached us through
                // the lock). Non-zero: an add (and maybe waiters) of a new
                // round came after the zero that released us (module doc,
                // "Misuse").
                if inner.state.load(Acquire) != 0 {
                    panic!("sync: WaitGroup is reused before previous Wait has returned");
                }
                return Poll::Ready(());
            }
            Slot::Waiting(w) if same_waker(w, cx.waker()) => None,
            Slot::Waiting(w) => Some(std::mem::replace(w, park_waker(cx.waker()))),
            Slot::Free => unreachable!("WaitGroup: a registered wait's slot is free"),
        };
        drop(g);
        drop(replaced); // after the lock: it may be another task's last reference
        gort_core::runtime::set_wait_reason(WaitReason::WaitGroupWait);
        Poll::Pending
    }
}

impl Wait<'_> {
    /// First wait on a non-zero counter: registers a slot and counts it in
    /// the state word, unless the counter is zero by then.
    fn register(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.wg.inner;
        let waker = park_waker(cx.waker());
        let mut g = lock(&inner.waiters);
        // Acquire, as in `poll`.
        let mut state = inner.state.load(Acquire);
        loop {
            if counter(state) == 0 {
                drop(g);
                return Poll::Ready(());
            }
            // Count ourselves only while the counter is non-zero, in one
            // step with reading it: an add that then brings it to zero sees
            // us (module doc). Acquire on failure, as the load.
            match inner
                .state
                .compare_exchange(state, state + ONE_WAITER, Acquire, Acquire)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let k = match g.free.pop() {
            Some(k) => {
                g.slots[k] = Slot::Waiting(waker);
                k
            }
            None => {
                g.slots.push(Slot::Waiting(waker));
                g.slots.len() - 1
            }
        };
        drop(g);
        self.key = Some(k);
        gort_core::runtime::set_wait_reason(WaitReason::WaitGroupWait);
        Poll::Pending
    }

    /// Drop of a registered wait: frees its slot and, if it was still
    /// waiting, leaves the waiter count.
    fn deregister(&mut self) {
        if let Some(k) = self.key.take() {
            let mut g = lock(&self.wg.inner.waiters);
            let slot = std::mem::take(&mut g.slots[k]);
            g.free.push(k);
            if let Slot::Waiting(_) = slot {
                // Relaxed: under the lock, as in `release_waiters`.
                self.wg.inner.state.fetch_sub(ONE_WAITER, Relaxed);
            }
            drop(g);
            drop(slot); // the waker, after the lock
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        self.deregister();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::pin::pin;

    fn poll_once(w: Pin<&mut Wait<'_>>) -> Poll<()> {
        w.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// The last `done` stopped between its decrement and its release of
    /// the waiters, as another thread would see it: its atomic half only.
    fn last_done_decrement_only(wg: &WaitGroup) {
        let state = wg.add_to_counter(-1);
        assert_eq!(counter(state), 0);
        assert_eq!(waiters(state), 1, "the wait is still registered");
    }

    /// Go's "Add called concurrently with Wait": an `add` from zero inside
    /// the last `done`, while a `wait` is blocked on that zero.
    #[test]
    #[should_panic(expected = "sync: WaitGroup misuse: Add called concurrently with Wait")]
    fn add_inside_the_last_done_panics() {
        let wg = WaitGroup::new();
        wg.add(1);
        let mut w = pin!(wg.wait());
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
        last_done_decrement_only(&wg);
        wg.add(1);
    }

    /// After that panic the delta is not added, and the waiter is released
    /// all the same (by the panicking `add`, since the `done` here never
    /// gets to it), and returns without a reuse panic.
    #[test]
    fn add_inside_the_last_done_takes_its_delta_back() {
        let wg = WaitGroup::new();
        wg.add(1);
        let mut w = pin!(wg.wait());
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
        last_done_decrement_only(&wg);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wg.add(3)));
        assert!(r.is_err());
        assert_eq!(wg.count(), 0);
        assert_eq!(waiters(wg.inner.state.load(Relaxed)), 0, "released");
        // The `done`'s own release finds nothing left to do.
        wg.release_waiters();
        assert_eq!(poll_once(w.as_mut()), Poll::Ready(()));
    }

    /// A `wait` dropped while registered leaves the waiter count, so an
    /// `add` from zero afterwards is no misuse.
    #[test]
    fn a_dropped_wait_leaves_the_count() {
        let wg = WaitGroup::new();
        wg.add(1);
        {
            let mut w = pin!(wg.wait());
            assert_eq!(poll_once(w.as_mut()), Poll::Pending);
            assert_eq!(waiters(wg.inner.state.load(Relaxed)), 1);
        }
        assert_eq!(waiters(wg.inner.state.load(Relaxed)), 0);
        wg.done();
        wg.add(1);
        wg.done();
    }

    #[test]
    #[should_panic(expected = "sync: WaitGroup counter overflow")]
    fn overflow_panics() {
        let wg = WaitGroup::new();
        wg.add(i32::MAX as isize);
        wg.add(1);
    }
}
