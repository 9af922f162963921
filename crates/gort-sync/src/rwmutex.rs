//! Go's `sync.RWMutex`, for tasks: many readers or one writer, and
//! writer-preferring.
//!
//! # The state word
//!
//! ```text
//! bit 0   WRITER          a writer owns the lock
//! bit 1   WRITER_WAITING  a writer is queued: new readers must queue too
//! bit 2   READER_WAITING  readers are queued
//! bits 3… readers         readers holding the lock
//! ```
//!
//! Invariants (under the queue lock): WRITER_WAITING is set exactly when
//! the writer queue is non-empty, READER_WAITING exactly when the reader
//! queue is. Fast paths (`+READER` when no writer holds or waits; CAS
//! `0 → WRITER`; `-READER`; CAS `WRITER → 0`) run without the queue lock;
//! everything that queues, dequeues or hands over runs under it.
//!
//! # Go's semantics, in this form
//!
//! - Once a writer waits, new readers wait too (Go's `readerCount -=
//!   rwmutexMaxReaders`): a stream of readers cannot starve a writer.
//! - The writer waits for the readers already inside; the last of them hands
//!   it the lock (Go's `readerWait` reaching zero).
//! - A writer's unlock admits every reader that queued behind it before the
//!   next writer (Go's `Unlock` releases the blocked readers, then
//!   `w.Unlock()`), so readers cannot be starved by writers either.
//!
//! Every grant is a hand-off: the granting thread updates the word for the
//! waiter and marks its slot `Handoff`.
//!
//! # Cancellation
//!
//! A dropped waiter that was granted the lock unlocks it (passing it on).
//! A dropped queued writer that was the last writer clears WRITER_WAITING
//! and, if no writer holds the lock, admits the readers queued behind it.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use gort_core::WaitReason;

use crate::loom::{lock, AtomicUsize, Mutex as RawLock, MutexGuard as RawGuard, UnsafeCell};
use crate::mutex::TryLockError;
use crate::waitq::{wake_all, WaitQueue, Wake};

// The state word's bits (module doc, "The state word").

/// The whole word of a free lock: no writer, no reader, nobody queued.
const UNLOCKED: usize = 0;
/// A writer owns the lock.
const WRITER: usize = 1;
/// A writer is queued: new readers must queue too.
const WRITER_WAITING: usize = 1 << 1;
/// Readers are queued.
const READER_WAITING: usize = 1 << 2;
/// One reader holding the lock, in the count from bit 3 up.
const READER: usize = 1 << 3;
const READER_SHIFT: u32 = 3;

fn readers(state: usize) -> usize {
    state >> READER_SHIFT
}

#[derive(Debug, Default)]
struct Queues {
    readers: WaitQueue,
    writers: WaitQueue,
}

/// A reader/writer mutual exclusion lock for tasks (Go's `sync.RWMutex`),
/// owning the data it protects.
///
/// Writer-preferring as in Go: once a writer waits, later readers wait
/// behind it.
///
/// # Examples
///
/// ```
/// let m = gort_sync::RwMutex::new(5);
/// futures::executor::block_on(async {
///     {
///         let r1 = m.read().await;
///         let r2 = m.read().await;
///         assert_eq!(*r1 + *r2, 10);
///     }
///     *m.write().await += 1;
///     assert_eq!(*m.read().await, 6);
/// });
/// ```
pub struct RwMutex<T> {
    state: AtomicUsize,
    queues: RawLock<Queues>,
    /// Shared by the readers counted in `state`, or owned by the WRITER.
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (needs `T: Sync`); a writer
// on any thread gets `&mut T` (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for RwMutex<T> {}

impl<T> RwMutex<T> {
    /// An unlocked `RwMutex` holding `value`.
    pub fn new(value: T) -> RwMutex<T> {
        RwMutex {
            state: AtomicUsize::new(UNLOCKED),
            queues: RawLock::new(Queues::default()),
            data: UnsafeCell::new(value),
        }
    }

    /// Locks for reading (Go's `RLock`), waiting while a writer holds the
    /// lock or is waiting for it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future holds nothing; if the lock had been
    /// handed to it, it is released.
    pub fn read(&self) -> ReadLock<'_, T> {
        ReadLock {
            rw: self,
            key: None,
        }
    }

    /// Locks for writing (Go's `Lock`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future holds nothing; if the lock had been
    /// handed to it, it is released; if it was the only waiting writer, the
    /// readers it held back are let in.
    pub fn write(&self) -> WriteLock<'_, T> {
        WriteLock {
            rw: self,
            key: None,
        }
    }

    /// Locks for reading if possible now (Go's `TryRLock`).
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if a writer holds the lock or waits for it.
    pub fn try_read(&self) -> Result<RwMutexReadGuard<'_, T>, TryLockError> {
        let mut s = self.state.load(Relaxed);
        loop {
            if s & (WRITER | WRITER_WAITING) != 0 {
                return Err(TryLockError);
            }
            // Acquire: pairs with the Release of the last writer's unlock.
            match self
                .state
                .compare_exchange_weak(s, s + READER, Acquire, Relaxed)
            {
                Ok(_) => return Ok(self.read_guard()),
                Err(cur) => s = cur,
            }
        }
    }

    /// Locks for writing if the lock is free now (Go's `TryLock`).
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if anyone holds or waits for the lock.
    pub fn try_write(&self) -> Result<RwMutexWriteGuard<'_, T>, TryLockError> {
        // Acquire: pairs with the Release of the previous unlocks.
        self.state
            .compare_exchange(UNLOCKED, WRITER, Acquire, Relaxed)
            .map(|_| self.write_guard())
            .map_err(|_| TryLockError)
    }

    /// The data, through a unique borrow.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Releases a read lock without a guard (Go's `RUnlock`), for a guard
    /// that was [`mem::forget`](std::mem::forget)-ten.
    ///
    /// # Safety
    ///
    /// A read lock must be held by a guard that is never used again.
    ///
    /// # Panics
    ///
    /// `sync: RUnlock of unlocked RWMutex` if no reader holds the lock.
    pub unsafe fn force_unlock_read(&self) {
        self.read_unlock();
    }

    /// Releases the write lock without a guard (Go's `Unlock`), for a guard
    /// that was [`mem::forget`](std::mem::forget)-ten.
    ///
    /// # Safety
    ///
    /// The write lock must be held by a guard that is never used again.
    ///
    /// # Panics
    ///
    /// `sync: Unlock of unlocked RWMutex` if no writer holds the lock.
    pub unsafe fn force_unlock_write(&self) {
        self.write_unlock();
    }

    fn read_guard(&self) -> RwMutexReadGuard<'_, T> {
        RwMutexReadGuard {
            rw: self,
            _marker: PhantomData,
        }
    }

    fn write_guard(&self) -> RwMutexWriteGuard<'_, T> {
        RwMutexWriteGuard {
            rw: self,
            _marker: PhantomData,
        }
    }

    /// Go's `RUnlock`.
    fn read_unlock(&self) {
        // Release: our reads happen before the next writer's writes.
        let prev = self.state.fetch_sub(READER, Release);
        if readers(prev) == 0 {
            self.state.fetch_add(READER, Relaxed);
            panic!("sync: RUnlock of unlocked RWMutex");
        }
        if readers(prev) == 1 && prev & WRITER_WAITING != 0 {
            let q = lock(&self.queues);
            self.grant_writer_if_free(q);
        }
    }

    /// Under the queue lock: if no one holds the lock and a writer waits,
    /// hands it to the head writer.
    fn grant_writer_if_free(&self, mut q: RawGuard<'_, Queues>) {
        let mut s = self.state.load(Relaxed);
        loop {
            if readers(s) != 0 || s & WRITER != 0 || s & WRITER_WAITING == 0 {
                return;
            }
            debug_assert!(!q.writers.is_empty());
            let mut new = s | WRITER;
            if q.writers.len() == 1 {
                new &= !WRITER_WAITING;
            }
            // Relaxed: the writer learns of the grant through the queue
            // lock, which orders it after the readers' Release unlocks.
            match self.state.compare_exchange(s, new, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(cur) => s = cur,
            }
        }
        let waker = q.writers.notify_front(Wake::Handoff);
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Go's `Unlock`.
    fn write_unlock(&self) {
        // Release: publishes the writer's changes to the next owner.
        if self
            .state
            .compare_exchange(WRITER, UNLOCKED, Release, Relaxed)
            .is_ok()
        {
            return;
        }
        let mut q = lock(&self.queues);
        let s = self.state.load(Relaxed);
        if s & WRITER == 0 {
            drop(q);
            panic!("sync: Unlock of unlocked RWMutex");
        }
        // Admit every queued reader first, then (if none) the next writer.
        let n = q.readers.len();
        let mut wakers: Vec<Waker> = Vec::with_capacity(n + 1);
        while !q.readers.is_empty() {
            wakers.extend(q.readers.notify_front(Wake::Handoff));
        }
        let grant_writer = n == 0 && !q.writers.is_empty();
        let mut s = s;
        loop {
            let mut new = (s & !(WRITER | READER_WAITING)) + n * READER;
            if grant_writer {
                new |= WRITER;
                if q.writers.len() == 1 {
                    new &= !WRITER_WAITING;
                }
            }
            // Release: publishes the writer's changes; the waiters granted
            // here also synchronise through the queue lock.
            match self.state.compare_exchange(s, new, Release, Relaxed) {
                Ok(_) => break,
                Err(cur) => s = cur,
            }
        }
        if grant_writer {
            wakers.extend(q.writers.notify_front(Wake::Handoff));
        }
        drop(q);
        wake_all(wakers);
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> RwMutex<T> {
        RwMutex::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwMutex");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// The future of [`RwMutex::read`].
#[must_use = "futures do nothing unless polled"]
pub struct ReadLock<'a, T> {
    rw: &'a RwMutex<T>,
    key: Option<usize>,
}

impl<T> fmt::Debug for ReadLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLock")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, T> Future for ReadLock<'a, T> {
    type Output = RwMutexReadGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let rw = self.rw;
        if self.key.is_none() {
            if let Ok(g) = rw.try_read() {
                return Poll::Ready(g);
            }
        }
        let mut q = lock(&rw.queues);
        if let Some(k) = self.key {
            if q.readers.notified(k).is_some() {
                q.readers.remove(k);
                self.key = None;
                return Poll::Ready(rw.read_guard());
            }
            q.readers.set_waker(k, cx.waker());
            return Poll::Pending;
        }
        let mut s = rw.state.load(Relaxed);
        loop {
            let (new, admitted) = if s & (WRITER | WRITER_WAITING) == 0 {
                (s + READER, true)
            } else {
                (s | READER_WAITING, false)
            };
            // Acquire: if admitted, pairs with the last writer's Release.
            match rw.state.compare_exchange(s, new, Acquire, Relaxed) {
                Ok(_) if admitted => return Poll::Ready(rw.read_guard()),
                Ok(_) => break,
                Err(cur) => s = cur,
            }
        }
        self.key = Some(q.readers.push_back(cx.waker(), Instant::now(), 0));
        drop(q);
        gort_core::runtime::set_wait_reason(WaitReason::Mutex);
        Poll::Pending
    }
}

impl<T> Drop for ReadLock<'_, T> {
    fn drop(&mut self) {
        let Some(k) = self.key.take() else { return };
        let rw = self.rw;
        let mut q = lock(&rw.queues);
        match q.readers.remove(k) {
            Some(_) => {
                drop(q);
                rw.read_unlock();
            }
            None => {
                if q.readers.is_empty() {
                    // Relaxed: ordered by the queue lock.
                    rw.state.fetch_and(!READER_WAITING, Relaxed);
                }
            }
        }
    }
}

/// The future of [`RwMutex::write`].
#[must_use = "futures do nothing unless polled"]
pub struct WriteLock<'a, T> {
    rw: &'a RwMutex<T>,
    key: Option<usize>,
}

impl<T> fmt::Debug for WriteLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteLock")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, T> Future for WriteLock<'a, T> {
    type Output = RwMutexWriteGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let rw = self.rw;
        if self.key.is_none() {
            if let Ok(g) = rw.try_write() {
                return Poll::Ready(g);
            }
        }
        let mut q = lock(&rw.queues);
        if let Some(k) = self.key {
            if q.writers.notified(k).is_some() {
                q.writers.remove(k);
                self.key = None;
                return Poll::Ready(rw.write_guard());
            }
            q.writers.set_waker(k, cx.waker());
            return Poll::Pending;
        }
        let mut s = rw.state.load(Relaxed);
        loop {
            let free = s & (WRITER | WRITER_WAITING) == 0 && readers(s) == 0;
            let new = if free { s | WRITER } else { s | WRITER_WAITING };
            // Acquire: if taken, pairs with the previous owners' Release.
            match rw.state.compare_exchange(s, new, Acquire, Relaxed) {
                Ok(_) if free => return Poll::Ready(rw.write_guard()),
                Ok(_) => break,
                Err(cur) => s = cur,
            }
        }
        self.key = Some(q.writers.push_back(cx.waker(), Instant::now(), 1));
        drop(q);
        gort_core::runtime::set_wait_reason(WaitReason::Mutex);
        Poll::Pending
    }
}

impl<T> Drop for WriteLock<'_, T> {
    fn drop(&mut self) {
        let Some(k) = self.key.take() else { return };
        let rw = self.rw;
        let mut q = lock(&rw.queues);
        match q.writers.remove(k) {
            Some(_) => {
                drop(q);
                rw.write_unlock();
            }
            None if q.writers.is_empty() => {
                // The last waiting writer left: readers may pass again, and
                // those queued behind it come in now unless a writer holds
                // the lock (its unlock admits them).
                let mut s = rw.state.load(Relaxed);
                let mut n = 0;
                loop {
                    let mut new = s & !WRITER_WAITING;
                    if s & WRITER == 0 {
                        n = q.readers.len();
                        new = (new & !READER_WAITING) + n * READER;
                    }
                    // Relaxed: ordered by the queue lock.
                    match rw.state.compare_exchange(s, new, Relaxed, Relaxed) {
                        Ok(_) => break,
                        Err(cur) => s = cur,
                    }
                }
                let mut wakers = Vec::with_capacity(n);
                for _ in 0..n {
                    wakers.extend(q.readers.notify_front(Wake::Handoff));
                }
                drop(q);
                wake_all(wakers);
            }
            None => {}
        }
    }
}

/// Shared access to an [`RwMutex`]'s data; unlocks (Go's `RUnlock`) when
/// dropped.
#[must_use = "if unused the RwMutex will immediately unlock"]
pub struct RwMutexReadGuard<'a, T> {
    rw: &'a RwMutex<T>,
    /// Send and Sync iff `T: Sync`, like `&T`.
    _marker: PhantomData<&'a T>,
}

impl<T> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: we are counted as a reader, so no writer holds the lock.
        self.rw.data.with(|p| unsafe { &*p })
    }
}

impl<T> Drop for RwMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.rw.read_unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwMutex`]'s data; unlocks (Go's `Unlock`) when
/// dropped.
#[must_use = "if unused the RwMutex will immediately unlock"]
pub struct RwMutexWriteGuard<'a, T> {
    rw: &'a RwMutex<T>,
    /// Send iff `T: Send`, Sync iff `T: Sync`, like `&mut T`.
    _marker: PhantomData<&'a mut T>,
}

impl<T> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: we own WRITER: no reader and no other writer holds it.
        self.rw.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we own WRITER and are borrowed uniquely.
        self.rw.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.rw.write_unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use tokio_test::task::spawn;
    use tokio_test::{assert_pending, assert_ready};

    use super::*;

    /// Real threads, readers and writers (small counts, for Miri's race
    /// detector).
    #[test]
    fn threads_read_and_write() {
        let rw = std::sync::Arc::new(RwMutex::new(0u32));
        let ts: Vec<_> = (0..4)
            .map(|i| {
                let rw = rw.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        if i % 2 == 0 {
                            *futures::executor::block_on(rw.write()) += 1;
                        } else {
                            let r = futures::executor::block_on(rw.read());
                            assert!(*r <= 40);
                        }
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(*rw.try_read().unwrap(), 40);
    }

    /// Go's writer preference: a reader arriving after a waiting writer
    /// waits, even though only readers hold the lock.
    #[test]
    fn reader_after_waiting_writer_waits() {
        let rw = RwMutex::new(0);
        let r1 = rw.try_read().unwrap();
        let mut w = spawn(rw.write());
        assert_pending!(w.poll());
        assert!(rw.try_read().is_err());
        let mut r2 = spawn(rw.read());
        assert_pending!(r2.poll());
        drop(r1);
        assert!(w.is_woken() && !r2.is_woken());
        let mut g = assert_ready!(w.poll());
        *g = 1;
        drop(g);
        // The writer's unlock admits the reader that queued behind it.
        assert!(r2.is_woken());
        assert_eq!(*assert_ready!(r2.poll()), 1);
    }

    /// Readers queued behind a writer go before the next writer.
    #[test]
    fn write_unlock_admits_readers_before_next_writer() {
        let rw = RwMutex::new(());
        let g = rw.try_write().unwrap();
        let mut r = spawn(rw.read());
        let mut w2 = spawn(rw.write());
        assert_pending!(r.poll());
        assert_pending!(w2.poll());
        drop(g);
        assert!(r.is_woken() && !w2.is_woken());
        let rg = assert_ready!(r.poll());
        assert_pending!(w2.poll());
        drop(rg);
        assert!(w2.is_woken());
        drop(assert_ready!(w2.poll()));
        assert!(rw.try_write().is_ok());
    }

    #[test]
    fn dropped_waiting_writer_lets_readers_in() {
        let rw = RwMutex::new(());
        let r1 = rw.try_read().unwrap();
        let mut w = spawn(rw.write());
        assert_pending!(w.poll());
        let mut r2 = spawn(rw.read());
        assert_pending!(r2.poll());
        drop(w);
        assert!(r2.is_woken());
        let g2 = assert_ready!(r2.poll());
        assert!(rw.try_read().is_ok(), "no writer waits any more");
        drop((r1, g2));
        assert!(rw.try_write().is_ok());
    }

    #[test]
    fn dropped_granted_writer_passes_on() {
        let rw = RwMutex::new(());
        let r1 = rw.try_read().unwrap();
        let mut w1 = spawn(rw.write());
        let mut w2 = spawn(rw.write());
        assert_pending!(w1.poll());
        assert_pending!(w2.poll());
        drop(r1);
        assert!(w1.is_woken());
        drop(w1);
        assert!(w2.is_woken());
        drop(assert_ready!(w2.poll()));
        assert!(rw.try_write().is_ok());
    }

    #[test]
    fn dropped_granted_reader_releases() {
        let rw = RwMutex::new(());
        let g = rw.try_write().unwrap();
        let mut r = spawn(rw.read());
        let mut w = spawn(rw.write());
        assert_pending!(r.poll());
        assert_pending!(w.poll());
        drop(g);
        assert!(r.is_woken());
        drop(r);
        assert!(w.is_woken());
        drop(assert_ready!(w.poll()));
        assert!(rw.try_read().is_ok());
    }
}
