//! Loom models of the Mutex, Semaphore and WaitGroup protocols (lock/unlock
//! wake-ups, hand-off racing a dropped waiter, release racing a dropped
//! acquirer, the last `done` racing a wait and the next round).
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p
//! gort-sync --release --lib loom_`.
//!
//! Each model sets its waiters up on the main thread with single polls
//! (no-op waker), then races one step against another thread, and checks
//! afterwards that nothing leaked: the lock is free, no waiter counted, the
//! permits all back, and a remaining waiter gets the lock on its next poll.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::loom_tests::poll_when_woken;
use crate::{Mutex, Semaphore, WaitGroup};

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    Pin::new(f).poll(&mut cx)
}

/// Two threads lock, increment and unlock: both finish (no lost wake-up
/// between a waiter queuing and the owner unlocking) and the count is 2.
#[test]
fn loom_mutex_lock_unlock_no_lost_wakeup() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            *block_on(m2.lock()) += 1;
        });
        *block_on(m.lock()) += 1;
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);
        assert_eq!(m.waiters(), 0);
    });
}

/// A woken waiter dropped while the unlock runs: the other waiter is
/// woken either way and gets the lock on its next poll.
#[test]
fn loom_mutex_unlock_vs_dropped_waiter() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(()));
        let g = m.try_lock().unwrap();
        let mut a = m.lock();
        let mut b = m.lock();
        assert!(poll_once(&mut a).is_pending());
        assert!(poll_once(&mut b).is_pending());
        std::mem::forget(g); // the other thread unlocks in its place
        let m2 = m.clone();
        // SAFETY: the guard was forgotten and is never used.
        let t = thread::spawn(move || unsafe { m2.force_unlock() });
        drop(a);
        t.join().unwrap();
        let gb = match poll_once(&mut b) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the wake-up was lost"),
        };
        drop(gb);
        drop(b);
        assert_eq!(m.waiters(), 0);
        assert!(m.try_lock().is_ok());
    });
}

/// Starvation mode: the unlock hands the mutex to the head waiter while
/// that waiter's future is dropped. The lock is passed on (here: released),
/// never leaked.
#[test]
fn loom_mutex_handoff_vs_dropped_waiter() {
    loom::model(|| {
        crate::mutex::TEST_THRESHOLD.with(|c| c.set(Some(std::time::Duration::ZERO)));
        let m = Arc::new(Mutex::new(()));
        let g = m.try_lock().unwrap();
        let mut a = m.lock();
        assert!(poll_once(&mut a).is_pending());
        let t0 = std::time::Instant::now();
        while t0.elapsed().is_zero() {}
        drop(g); // wakes `a`
        let barger = m.try_lock().unwrap();
        assert!(poll_once(&mut a).is_pending()); // starved: STARVING set
        assert!(m.is_starving());
        std::mem::forget(barger);
        let m2 = m.clone();
        // SAFETY: the barger's guard was forgotten and is never used.
        let t = thread::spawn(move || unsafe { m2.force_unlock() });
        drop(a);
        t.join().unwrap();
        assert_eq!(m.waiters(), 0);
        assert!(!m.is_starving());
        assert!(m.try_lock().is_ok(), "the handed-off lock leaked");
    });
}

/// A release racing a dropped acquirer: the permits all come back.
#[test]
fn loom_semaphore_release_vs_dropped_acquirer() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        assert!(sem.try_acquire(1));
        let mut a = sem.acquire(1);
        assert!(poll_once(&mut a).is_pending());
        let s2 = sem.clone();
        let t = thread::spawn(move || s2.release(1));
        drop(a);
        t.join().unwrap();
        assert_eq!(sem.available(), 1);
        assert!(sem.try_acquire(1));
    });
}

/// A wait racing the last `done`, then the next round, in a correct
/// program: the wait returns (woken, whichever side of the decrement it
/// registered on), and neither the wait nor the next round's `add` reports
/// misuse (`waitgroup.rs`, "Misuse").
#[test]
fn loom_waitgroup_wait_vs_last_done_then_reuse() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let wg2 = wg.clone();
        let t = thread::spawn(move || wg2.done());
        poll_when_woken(Box::pin(wg.wait()));
        wg.add(1); // after the wait returned: a new round
        t.join().unwrap();
        assert_eq!(wg.count(), 1);
        wg.done();
        assert_eq!(wg.count(), 0);
    });
}

/// A registered wait dropped while the last `done` runs, then an `add`
/// from zero: the dropped wait has left the waiter count (or was released
/// first), so the `add` is no misuse, and nothing is left registered.
#[test]
fn loom_waitgroup_dropped_wait_vs_last_done() {
    loom::model(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let mut w = Box::pin(wg.wait());
        assert!(poll_once(&mut w).is_pending());
        let wg2 = wg.clone();
        let t = thread::spawn(move || wg2.done());
        drop(w);
        wg.add(1);
        t.join().unwrap();
        wg.done();
        assert_eq!(wg.count(), 0);
        // Nothing registered is left behind: a new wait returns at once.
        assert!(poll_once(&mut Box::pin(wg.wait())).is_ready());
    });
}
