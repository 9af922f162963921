//! One P's part of a [`Pool`](super::Pool): Go's `poolLocal`, and the
//! private slot's try-lock that replaces Go's `procPin`.
//!
//! # The private slot ([`Slot`])
//!
//! Go reads and writes `poolLocal.private` with no synchronisation at all:
//! `procPin` disables preemption, so no other goroutine can run on that P
//! until `procUnpin`. gort cannot pin a task to its P: sysmon may retake the
//! P of an M whose poll runs long and hand it to another M while the first
//! is still inside `get`, two runtimes may share one pool, and more Ps than
//! locals map onto one local (`p & mask`). So the slot is a try-lock: one
//! `compare_exchange(0, 1, Acquire, _)` of a lock word to enter, one `store(0, Release)` to
//! leave. A caller that finds it held does not wait: `get` goes on to the
//! shared part, `put` pushes there. A `get` that finds an object there
//! keeps the lock while its guard lives ([`SlotHold`]) and the guard's drop
//! puts the object back and releases it: on the same P uncontended, a
//! get/put pair is one CAS and one store on the P's own cache line, and
//! nothing shared. Meanwhile the slot is empty anyway (its object is out),
//! so other users of the local lose nothing by skipping it.
//!
//! # The shared part and the victim
//!
//! Go's `poolChain` is a lock-free dequeue: the owner pushes and pops at
//! the head, thieves pop the tail. Here it is a `Mutex<VecDeque<T>>` per
//! local with the same ends (owner: back; thieves: front), plus a relaxed
//! length hint, so that a `get` that misses everywhere reads one word per
//! other local instead of locking it. Why a mutex: the shared part is only
//! reached when the private slot is full (a `put` of a second object
//! before a `get`) or empty, and then the owner's lock is uncontended and
//! on its own line (one CAS to take, one store to release, the same as
//! the chain's head update); thieves only come when their own local is
//! dry. The `pool_get_put` rows in `docs/perf-log.md` measure it. A
//! lock-free chain would need deferred reclamation of its ring segments
//! (Go's has the GC), which costs more than it saves at these rates.
//!
//! The victim (Go's `victim`/`victimSize`, per local here) is a
//! `Mutex<Vec<T>>` with its own hint. [`Local::age`] moves private and
//! shared into it and hands the old victim back to the caller, who drops
//! it after every lock is released.
//!
//! Every atomic and cell comes through `crate::loom`, so
//! `loom_tests_pool.rs` model-checks the slot and the aging race.

use std::collections::VecDeque;

use crate::loom::{AtomicUsize, Mutex, UnsafeCell};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// The lock word of a [`Slot`]: free.
const FREE: usize = 0;
/// The lock word of a [`Slot`]: someone is inside.
const HELD: usize = 1;

/// A private slot: one object behind a try-lock (module docs).
pub(crate) struct Slot<T> {
    /// [`FREE`] or [`HELD`]; the holder alone touches `val`.
    lock: AtomicUsize,
    /// Protected by `lock`.
    val: UnsafeCell<Option<T>>,
}

// SAFETY: `val` is only touched by the holder of `lock`, which hands the
// `T` over between threads with Acquire/Release (a `Mutex<Option<T>>` in
// all but the waiting), so `Slot<T>` is `Sync` exactly when a mutex of `T`
// would be: `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    pub(crate) fn new() -> Slot<T> {
        Slot {
            lock: AtomicUsize::new(FREE),
            val: UnsafeCell::new(None),
        }
    }

    /// Runs `f` on the slot's contents if the lock is free; `None` if it is
    /// held (the caller falls through, never waits).
    #[inline]
    fn try_with<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> Option<R> {
        // Acquire: pairs with the Release store of the previous holder's
        // unlock below, so its write of `val` happens before this read. A
        // CAS, not a swap: a failed try writes nothing.
        if self
            .lock
            .compare_exchange(FREE, HELD, Acquire, Relaxed)
            .is_err()
        {
            return None;
        }
        // SAFETY: the CAS above succeeded, so this thread holds the
        // lock until the store below; nobody else touches `val` meanwhile,
        // and `f` cannot run user code that re-enters the slot (it only
        // moves an `Option<T>`; no `T` is dropped inside).
        let r = self.val.with_mut(|p| f(unsafe { &mut *p }));
        // Release: publishes the write of `val` to the next holder's
        // Acquire CAS above.
        self.lock.store(FREE, Release);
        Some(r)
    }

    /// Takes the object, if the slot is free and full (tests and models;
    /// `get` uses [`try_take_hold`](Slot::try_take_hold)).
    #[cfg(any(test, loom))]
    pub(crate) fn try_take(&self) -> Option<T> {
        self.try_with(Option::take).flatten()
    }

    /// Stores `v` if the slot is free and empty; hands it back otherwise.
    #[inline]
    pub(crate) fn try_put(&self, v: T) -> Result<(), T> {
        let mut v = Some(v);
        let stored = self.try_with(|slot| {
            if slot.is_none() {
                *slot = v.take();
                true
            } else {
                false
            }
        });
        match (stored, v) {
            (Some(true), None) => Ok(()),
            (_, Some(v)) => Err(v),
            (_, None) => unreachable!("the slot stored the value only when it said so"),
        }
    }

    /// Takes the object and keeps the lock held, for a guard that will
    /// give it back with [`SlotHold::fill_release`]: one CAS and one store
    /// for a whole get/put pair. `None` (lock released, or never taken) if
    /// the slot is held or empty.
    #[inline]
    pub(crate) fn try_take_hold(&self) -> Option<(T, SlotHold<'_, T>)> {
        if self
            .lock
            .compare_exchange(FREE, HELD, Acquire, Relaxed)
            .is_err()
        {
            return None;
        }
        // SAFETY: the CAS above succeeded: this thread holds the lock, and
        // keeps it (through the returned `SlotHold`) until `fill_release`
        // or `release`; nobody else touches `val` meanwhile.
        match self.val.with_mut(|p| unsafe { (*p).take() }) {
            Some(v) => Some((v, SlotHold { slot: self })),
            None => {
                // Release: as in `try_with` (nothing was written, but the
                // next holder's Acquire needs a Release to pair with).
                self.lock.store(FREE, Release);
                None
            }
        }
    }

    /// Takes the object for good (a pool being dropped): retries a held
    /// lock a bounded number of times, since a period holds it for a few
    /// instructions. A lock still held after that is a leaked guard's
    /// (`SlotHold`), whose slot is empty: `None`.
    pub(crate) fn take_for_drop(&self) -> Option<T> {
        for _ in 0..1000 {
            if let Some(v) = self.try_with(Option::take) {
                return v;
            }
            #[cfg(not(loom))]
            std::thread::yield_now();
            #[cfg(loom)]
            loom::thread::yield_now();
        }
        None
    }
}

/// The held lock of a [`Slot`] whose object a guard has out: the slot is
/// empty, and nobody else enters it until this is consumed. If it is
/// leaked (a guard forgotten), the slot stays held and its local's `get`
/// and `put` use the shared part from then on: slower, still correct.
#[must_use]
pub(crate) struct SlotHold<'a, T> {
    slot: &'a Slot<T>,
}

impl<T> SlotHold<'_, T> {
    /// Puts `v` back into the slot and releases it.
    #[inline]
    pub(crate) fn fill_release(self, v: T) {
        // SAFETY: this `SlotHold` is the held lock (made only by
        // `try_take_hold` after a successful CAS, consumed here), so this
        // thread alone touches `val`; it is empty, so nothing is dropped.
        self.slot.val.with_mut(|p| unsafe { *p = Some(v) });
        // Release: publishes the write of `val` to the next holder's
        // Acquire CAS (`try_with`, `try_take_hold`).
        self.slot.lock.store(FREE, Release);
    }

    /// Releases the slot, empty (the guard's object was kept).
    #[inline]
    pub(crate) fn release(self) {
        // Release: pairs with the next holder's Acquire CAS.
        self.slot.lock.store(FREE, Release);
    }
}

/// One P's part of a pool (Go's `poolLocal`), padded to its own cache
/// lines (`align(128)`, as Go pads to 128 bytes to defeat the adjacent-line
/// prefetcher).
#[repr(align(128))]
pub(crate) struct Local<T> {
    /// The private slot: the hot path.
    pub(crate) private: Slot<T>,
    /// The shared part: owner at the back, thieves at the front.
    shared: Mutex<VecDeque<T>>,
    /// `shared.len()` as of its last unlock; Relaxed, a hint for thieves.
    shared_len: AtomicUsize,
    /// The victim: what the last period left, for `get`'s last resort.
    victim: Mutex<Vec<T>>,
    /// `victim.len()` as of its last unlock; Relaxed, a hint.
    victim_len: AtomicUsize,
    /// Operations on this local since the pool last read the clock
    /// (`Pool::maybe_age`); Relaxed load + store, lost updates harmless.
    pub(crate) ops: AtomicUsize,
}

impl<T> Local<T> {
    pub(crate) fn new() -> Local<T> {
        Local {
            private: Slot::new(),
            shared: Mutex::new(VecDeque::new()),
            shared_len: AtomicUsize::new(0),
            victim: Mutex::new(Vec::new()),
            victim_len: AtomicUsize::new(0),
            ops: AtomicUsize::new(0),
        }
    }

    /// The owner's push (Go's `pushHead`).
    pub(crate) fn push_head(&self, v: T) {
        let mut q = crate::loom::lock(&self.shared);
        q.push_back(v);
        self.shared_len.store(q.len(), Relaxed);
    }

    /// The owner's pop (Go's `popHead`).
    pub(crate) fn pop_head(&self) -> Option<T> {
        if self.shared_len.load(Relaxed) == 0 {
            return None;
        }
        let mut q = crate::loom::lock(&self.shared);
        let v = q.pop_back();
        self.shared_len.store(q.len(), Relaxed);
        v
    }

    /// A thief's pop (Go's `popTail`).
    pub(crate) fn pop_tail(&self) -> Option<T> {
        if self.shared_len.load(Relaxed) == 0 {
            return None;
        }
        let mut q = crate::loom::lock(&self.shared);
        let v = q.pop_front();
        self.shared_len.store(q.len(), Relaxed);
        v
    }

    /// An object from the victim, if it has one.
    pub(crate) fn pop_victim(&self) -> Option<T> {
        if self.victim_len.load(Relaxed) == 0 {
            return None;
        }
        let mut q = crate::loom::lock(&self.victim);
        let v = q.pop();
        self.victim_len.store(q.len(), Relaxed);
        v
    }

    /// One period of Go's `poolCleanup` for this local: the primary
    /// (private and shared) becomes the victim; the old victim is appended
    /// to `dropped`, for the caller to drop once no lock is held. A private
    /// slot held at this instant is someone's `get`/`put` in flight: its
    /// object stays primary one period longer.
    pub(crate) fn age(&self, dropped: &mut Vec<T>) {
        let private = self.private.try_with(Option::take).flatten();
        let mut primary: Vec<T> = {
            let mut q = crate::loom::lock(&self.shared);
            let q = std::mem::take(&mut *q);
            self.shared_len.store(0, Relaxed);
            q.into()
        };
        primary.extend(private);
        let mut v = crate::loom::lock(&self.victim);
        self.victim_len.store(primary.len(), Relaxed);
        let old = std::mem::replace(&mut *v, primary);
        drop(v);
        dropped.extend(old);
    }

    /// Everything this local holds (the pool is being dropped).
    pub(crate) fn drain(&self, out: &mut Vec<T>) {
        out.extend(self.private.take_for_drop());
        out.extend(std::mem::take(&mut *crate::loom::lock(&self.shared)));
        out.extend(std::mem::take(&mut *crate::loom::lock(&self.victim)));
        self.shared_len.store(0, Relaxed);
        self.victim_len.store(0, Relaxed);
    }
}
