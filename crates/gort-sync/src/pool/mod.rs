//! Go's `sync.Pool`: a cache of reusable objects with per-P locals, work
//! stealing between them, and a victim stage that drops what nobody reused
//! for two periods.
//!
//! # Shape (Go's `poolLocal` / `poolChain` / `victim`)
//!
//! A [`Pool`] holds one [`Local`](local::Local) per P slot, padded to its
//! own cache lines, plus one fallback local for callers off any runtime.
//! The number of P slots is `available_parallelism()` rounded up to a power
//! of two; a task on P `p` uses local `p & mask`. Several Ps may share a
//! local (more procs than CPUs, two runtimes on one pool, procs changed at
//! run time): that is correct, only slower, because nothing assumes a local
//! has one user (see `local.rs` for the private slot's try-lock, which
//! replaces Go's `procPin`).
//!
//! `get` (Go's `Get` / `getSlow`), in order, each step only if the one
//! before found nothing:
//!
//! 1. this local's private slot;
//! 2. this local's shared part, at the owner's end (Go's `popHead`);
//! 3. every other local's shared part, at the thieves' end (`popTail`),
//!    starting after this one;
//! 4. the victims, this local's first (Go's `victim` locals);
//! 5. the New func.
//!
//! `put` stores into the private slot if it is free and empty, else pushes
//! onto this local's shared part. A guard whose object came from the
//! private slot keeps that slot locked and puts the object straight back
//! on drop (`local.rs`, `SlotHold`): one CAS and one store per get/put. On one P, a `get` after a `put` therefore
//! touches only that P's local: the same object comes back, and no shared
//! cache line is written.
//!
//! # Aging: periods instead of GCs
//!
//! Go clears pools at every GC (`poolCleanup`): the primary caches become
//! the victims and the old victims are dropped, so an object survives one
//! GC unused and dies at the second. gort has no GC; a pool ages on a clock
//! instead, in periods of [`Pool::with_idle`] (default 2 s). A period runs
//! from gort-core's pool registry (`sched/poolclean.rs`), which every
//! runtime's sysmon ticks, so a pool that is never touched again still
//! ages. With no runtime alive no sysmon runs; then the pool ages from its
//! own `put`s: every [`OPS_PER_CLOCK`]-th `put` on a local reads
//! the clock and runs a period if one is due. Each pool keeps the time of
//! its last period, and the winner of a CAS on it runs the next one, so
//! several sysmons and the pool's own operations age it once per period.
//! An object `put` and not taken again is dropped within about 2·d after
//! the `put` (two periods; sysmon's deep sleep adds up to 100 ms), and
//! within 3·d as the contract promises. Objects that a period drops are
//! dropped after every lock of the pool is released.
//!
//! # Dropping a pool
//!
//! [`Pool`]'s `Drop` drains every local (private, shared, victim) and drops
//! the objects then, whether or not a sysmon is ticking it at that moment.
//!
//! # Rejected designs
//!
//! - Go's lock-free `poolChain`: see `local.rs` (a `Mutex<VecDeque>` per
//!   local, touched by other Ps only when they steal).
//! - Thread-locals instead of per-P locals: a task moves between threads,
//!   and a pool per thread would keep objects alive on threads that have
//!   finished with it; Ps are few and fixed.

pub(crate) mod local;

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::Duration;

use gort_core::runtime::{current_proc, pool_clock_nanos, register_pool_cleanup, PoolCleanup};

use crate::loom::AtomicU64;
use local::Local;

/// The default aging period (Go's pools age once per GC; 2 s is a GC every
/// couple of seconds, typical for a busy Go service).
const DEFAULT_IDLE: Duration = Duration::from_secs(2);

/// How many operations on one local between two clock reads when the pool
/// ages itself (no sysmon running); a power of two.
pub(crate) const OPS_PER_CLOCK: usize = 1024;

/// Go's `sync.Pool`: a set of temporary objects that may be reused, to
/// relieve the allocator under load.
///
/// [`get`](Pool::get) hands out a pooled object (or a new one from the New
/// func) inside a [`PoolGuard`], which puts it back when dropped;
/// [`PoolGuard::take`] keeps it instead. Objects are cached per P, so a
/// task that gets and puts back on one P touches no cache line another P
/// writes. An object that stays in the pool unused for two aging periods
/// ([`with_idle`](Pool::with_idle), default 2 s) is dropped, as Go's pool
/// drops what survives two GCs unused. The pool may drop any object at any
/// time and `get` may always call New: it is a cache, not a free list.
///
/// Works on gort's Ms (per-P locals) and on any other thread (a shared
/// fallback local).
///
/// # Differences from Go
///
/// - Periods are clock periods, not GCs (Rust has no GC); see
///   `docs/semantics.md`, "sync.Pool".
/// - Go's `Get` returns `nil` without a New func; here New is required, so
///   `get` always returns an object.
///
/// # Examples
///
/// ```
/// use gort_sync::{Pool, PoolGuard};
///
/// let pool = Pool::new(|| Vec::<u8>::with_capacity(4096));
/// {
///     let mut buf = pool.get();
///     buf.clear();
///     buf.extend_from_slice(b"hello");
/// } // back into the pool
/// let buf = pool.get();
/// assert!(buf.capacity() >= 4096);
/// let kept: Vec<u8> = PoolGuard::take(buf); // not returned to the pool
/// pool.put(kept);
/// ```
pub struct Pool<T: Send + 'static> {
    inner: Arc<Inner<T>>,
}

/// What the registry's `Weak` points at.
struct Inner<T> {
    /// `mask + 1` P locals, then the fallback local for callers off any
    /// runtime.
    locals: Box<[Local<T>]>,
    mask: usize,
    new: Box<dyn Fn() -> T + Send + Sync>,
    /// The aging period in nanoseconds.
    idle: AtomicU64,
    /// When the last period ran ([`pool_clock_nanos`]). Relaxed: a CAS on
    /// it elects who runs a period; the locals' locks order the objects.
    last_aged: AtomicU64,
}

impl<T: Send + 'static> Pool<T> {
    /// A pool whose `get` calls `f` when it has nothing cached (Go's
    /// `Pool.New`).
    pub fn new<F>(f: F) -> Pool<T>
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        let slots = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .next_power_of_two();
        Pool::with_slots(Box::new(f), slots)
    }

    /// A pool with `slots` P locals (a power of two) plus the fallback.
    pub(crate) fn with_slots(new: Box<dyn Fn() -> T + Send + Sync>, slots: usize) -> Pool<T> {
        debug_assert!(slots.is_power_of_two());
        let locals: Box<[Local<T>]> = (0..=slots).map(|_| Local::new()).collect();
        let inner = Arc::new(Inner {
            locals,
            mask: slots - 1,
            new,
            idle: AtomicU64::new(DEFAULT_IDLE.as_nanos() as u64),
            last_aged: AtomicU64::new(pool_clock_nanos()),
        });
        let weak: Weak<dyn PoolCleanup> = Arc::downgrade(&inner) as Weak<Inner<T>>;
        register_pool_cleanup(weak);
        Pool { inner }
    }

    /// The same pool with aging period `d`: an object not reused for two
    /// periods is dropped (Go: two GCs). Default 2 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = gort_sync::Pool::new(String::new).with_idle(Duration::from_millis(500));
    /// pool.put("kept for 0.5 to 1.5 s unused".to_string());
    /// ```
    pub fn with_idle(self, d: Duration) -> Pool<T> {
        let nanos = d.as_nanos().clamp(1, u64::MAX as u128) as u64;
        self.inner.idle.store(nanos, Relaxed);
        self
    }

    /// An object from the pool, or a new one from the New func (Go's
    /// `Get`). The guard puts it back when dropped.
    ///
    /// # Panics
    ///
    /// If the New func panics; the pool stays usable.
    #[inline]
    pub fn get(&self) -> PoolGuard<'_, T> {
        let inner = &*self.inner;
        let i = inner.index();
        let l = &inner.locals[i];
        if let Some((v, hold)) = l.private.try_take_hold() {
            return PoolGuard {
                pool: self,
                value: ManuallyDrop::new(v),
                hold: Some((hold, l)),
            };
        }
        PoolGuard {
            pool: self,
            value: ManuallyDrop::new(inner.get_slow(i)),
            hold: None,
        }
    }

    /// Puts `v` into the pool (Go's `Put`).
    #[inline]
    pub fn put(&self, v: T) {
        let inner = &*self.inner;
        let l = inner.local();
        inner.count_op(l);
        if let Err(v) = l.private.try_put(v) {
            l.push_head(v);
        }
    }

    /// Runs one aging period now, whether or not one is due: what was
    /// cached becomes the victim, the old victim is dropped. For tests.
    #[doc(hidden)]
    pub fn age_now(&self) {
        self.inner.run_period();
    }
}

impl<T: Send> Inner<T> {
    /// This caller's local: its P's, or the fallback off any runtime.
    #[inline]
    fn index(&self) -> usize {
        match current_proc() {
            Some(p) => p & self.mask,
            None => self.mask + 1,
        }
    }

    #[inline]
    fn local(&self) -> &Local<T> {
        &self.locals[self.index()]
    }

    /// Counts a `put` on `l`; every [`OPS_PER_CLOCK`]-th reads the
    /// clock and ages the pool if a period is due (for when no sysmon
    /// runs).
    #[inline]
    fn count_op(&self, l: &Local<T>) {
        let n = l.ops.load(Relaxed).wrapping_add(1);
        l.ops.store(n, Relaxed);
        if n & (OPS_PER_CLOCK - 1) == 0 {
            self.cleanup(pool_clock_nanos());
        }
    }

    /// Steps 2 to 5 of `get` (module docs).
    #[cold]
    fn get_slow(&self, i: usize) -> T {
        if let Some(v) = self.locals[i].pop_head() {
            return v;
        }
        let n = self.locals.len();
        for k in 1..n {
            if let Some(v) = self.locals[(i + k) % n].pop_tail() {
                return v;
            }
        }
        for k in 0..n {
            if let Some(v) = self.locals[(i + k) % n].pop_victim() {
                return v;
            }
        }
        (self.new)()
    }

    /// One period (Go's `poolCleanup` for this pool); drops the old
    /// victims after every lock is released.
    fn run_period(&self) {
        self.last_aged.store(pool_clock_nanos(), Relaxed);
        let mut dropped = Vec::new();
        for l in self.locals.iter() {
            l.age(&mut dropped);
        }
        drop(dropped);
    }
}

impl<T: Send> PoolCleanup for Inner<T> {
    fn cleanup(&self, now: u64) {
        let last = self.last_aged.load(Relaxed);
        if now.saturating_sub(last) < self.idle.load(Relaxed) {
            return;
        }
        if self
            .last_aged
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_ok()
        {
            self.run_period();
        }
    }
}

impl<T: Send + 'static> Drop for Pool<T> {
    fn drop(&mut self) {
        // The registry may hold a strong reference for a moment (a tick in
        // flight), so `Inner` may outlive this; its objects do not.
        let mut all = Vec::new();
        for l in self.inner.locals.iter() {
            l.drain(&mut all);
        }
        drop(all);
    }
}

impl<T: Send + 'static> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("locals", &self.inner.locals.len())
            .field("idle", &Duration::from_nanos(self.inner.idle.load(Relaxed)))
            .finish_non_exhaustive()
    }
}

/// An object from a [`Pool`]: derefs to it, and puts it back into the pool
/// when dropped. [`PoolGuard::take`] keeps it instead.
///
/// A guard whose object came from its P's private slot keeps that slot
/// reserved until it is dropped; forgetting such a guard (`mem::forget`)
/// leaks the object and leaves that P's `get`/`put` on the slower shared
/// path for good, as correct as before.
///
/// # Examples
///
/// ```
/// let pool = gort_sync::Pool::new(|| 0u64);
/// *pool.get() += 1; // the object goes back with 1 in it
/// ```
pub struct PoolGuard<'a, T: Send + 'static> {
    pool: &'a Pool<T>,
    /// Always initialised; taken only by `Drop` or `take`, which consume
    /// the guard.
    value: ManuallyDrop<T>,
    /// The private slot `value` came from, still held: `Drop` puts the
    /// value straight back (module docs of `local.rs`).
    hold: Option<(local::SlotHold<'a, T>, &'a Local<T>)>,
}

impl<T: Send + 'static> PoolGuard<'_, T> {
    /// Keeps the object: it is not returned to the pool (an associated
    /// function, so it does not shadow a method of `T`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_sync::{Pool, PoolGuard};
    /// let pool = Pool::new(|| String::from("mine"));
    /// let s: String = PoolGuard::take(pool.get());
    /// assert_eq!(s, "mine");
    /// ```
    pub fn take(guard: Self) -> T {
        let mut guard = ManuallyDrop::new(guard);
        // SAFETY: `value` is initialised (only `Drop` and this function
        // take it, and both consume the guard); wrapping the guard in
        // `ManuallyDrop` means its `Drop` never runs, so it is taken once.
        let v = unsafe { ManuallyDrop::take(&mut guard.value) };
        if let Some((hold, _)) = guard.hold.take() {
            hold.release();
        }
        v
    }
}

impl<T: Send + 'static> Deref for PoolGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send + 'static> DerefMut for PoolGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Send + 'static> Drop for PoolGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `value` is initialised (`take` forgets the guard, so this
        // never runs after it) and is not used again after this.
        let v = unsafe { ManuallyDrop::take(&mut self.value) };
        match self.hold.take() {
            Some((hold, l)) => {
                hold.fill_release(v);
                // Counted as a put (it is the hot path's put), after the
                // release, so a period it runs ages this object too.
                self.pool.inner.count_op(l);
            }
            None => self.pool.put(v),
        }
    }
}

impl<T: Send + 'static + fmt::Debug> fmt::Debug for PoolGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolGuard").field(&*self.value).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
