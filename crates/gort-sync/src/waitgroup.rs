//! Go's `sync.WaitGroup`.
//!
//! The counter is an atomic, so `add`/`done` and the `wait` fast path (count
//! already zero) take no lock. Waiters park their wakers in a mutex-guarded
//! list; the `done` that brings the counter to zero takes the lock and wakes
//! them all. A waiter checks the counter again after taking the lock, and the
//! last `done` takes the lock after its decrement, so a waiter either sees
//! zero or is in the list when the wake-up runs: none is lost (the check /
//! register / re-check pattern).
//!
//! Go's misuse checks that can be seen here panic with Go's messages:
//! a negative counter, and an `add` that raises the counter from zero while
//! a `wait` is still waking up from the previous zero.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use gort_core::task::park_waker;
use gort_core::{JoinHandle, WaitReason};

#[derive(Debug, Default)]
struct Inner {
    count: AtomicI64,
    /// Waiters registered and not yet woken; for Go's misuse check.
    nwaiters: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Debug, Default)]
struct Waiters {
    /// Each waiting `Wait` future's slot, by key.
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

/// Waits for a collection of tasks to finish (Go's `sync.WaitGroup`).
///
/// Clones share one counter. `add(n)` before starting work, `done()` when
/// each piece finishes, `wait().await` until the counter is zero.
///
/// # Panics
///
/// `add`/`done` panic with `sync: negative WaitGroup counter` if the counter
/// would go below zero, as in Go; `add` panics with `sync: WaitGroup misuse:
/// Add called concurrently with Wait` when it raises the counter from zero
/// while waiters of the previous round are still registered.
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
        let delta = delta as i64;
        let prev = self.inner.count.fetch_add(delta, AcqRel);
        let now = prev + delta;
        if now < 0 {
            // Undo so that a caught panic leaves a sane counter.
            self.inner.count.fetch_sub(delta, AcqRel);
            panic!("sync: negative WaitGroup counter");
        }
        if delta > 0 && prev == 0 && self.inner.nwaiters.load(Acquire) > 0 {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if now == 0 && delta < 0 {
            self.wake_all();
        }
    }

    /// Decrements the counter by one.
    ///
    /// # Panics
    ///
    /// `sync: negative WaitGroup counter` if it was zero.
    pub fn done(&self) {
        self.add(-1);
    }

    /// The current counter (a snapshot).
    pub fn count(&self) -> i64 {
        self.inner.count.load(Acquire)
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = {
            let mut w = self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
            w.slots.iter_mut().filter_map(Option::take).collect()
        };
        for wk in wakers {
            wk.wake();
        }
    }

    /// Waits until the counter is zero.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future only deregisters it.
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
        if inner.count.load(Acquire) == 0 {
            self.deregister();
            return Poll::Ready(());
        }
        let mut w = inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Re-check under the lock: the last `done` takes this lock after its
        // decrement, so either we see zero or it sees our waker.
        if inner.count.load(Acquire) == 0 {
            drop(w);
            self.deregister();
            return Poll::Ready(());
        }
        match self.key {
            Some(k) => w.slots[k] = Some(park_waker(cx.waker())),
            None => {
                let k = match w.free.pop() {
                    Some(k) => {
                        w.slots[k] = Some(park_waker(cx.waker()));
                        k
                    }
                    None => {
                        w.slots.push(Some(park_waker(cx.waker())));
                        w.slots.len() - 1
                    }
                };
                inner.nwaiters.fetch_add(1, AcqRel);
                drop(w);
                self.key = Some(k);
            }
        }
        gort_core::runtime::set_wait_reason(WaitReason::WaitGroupWait);
        Poll::Pending
    }
}

impl Wait<'_> {
    fn deregister(&mut self) {
        if let Some(k) = self.key.take() {
            let mut w = self
                .wg
                .inner
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            w.slots[k] = None;
            w.free.push(k);
            self.wg.inner.nwaiters.fetch_sub(1, AcqRel);
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        self.deregister();
    }
}
