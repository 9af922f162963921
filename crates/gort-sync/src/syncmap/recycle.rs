//! Recycled value boxes: freed blocks kept for the next stores, so that a
//! store of an existing key does not go through `malloc` and `free`.
//!
//! Every store allocates a box for its value and retires the one it
//! replaced; epochs free that one later, in lumps, on whichever thread
//! collects (see [`reclaim`](super::reclaim)). glibc's allocator handles
//! that pattern badly: its per-thread cache holds 7 chunks of a size, the
//! rest of a lump goes to the fast bins, and the next large allocation
//! (crossbeam-epoch allocates a ~2 KiB node per bag of deferred frees)
//! consolidates them, so that the next small allocations are carved out of
//! coalesced chunks. On `syncmap_mixed50` `malloc` and `free` took most
//! of a store's instructions (`docs/perf-log.md`, "figures moved out of
//! gort-sync's comments", sync.Map).
//!
//! So a retired box, once epochs say nobody can read it, is not freed: its
//! value is dropped and its memory is kept, by size, for the next
//! [`boxed`] of a value with the same layout. Bonwick's magazines, in
//! small: each thread keeps up to two magazines per size (`LOCAL_MAX`
//! blocks); beyond that it moves one (`MAG` blocks) to a global depot,
//! and when it has none it takes one from there: one lock per `MAG`
//! blocks, a `try_lock` (a thread that finds it held frees or allocates
//! as if there were no depot, rather than wait). The depot matters twice.
//! A box is often freed by another thread than the one that stores next
//! (whoever collects frees): with thread-local lists alone, many stores
//! still called `malloc`. And epochs free in lumps as large as what was
//! retired while some thread stayed pinned (a thread descheduled
//! mid-operation holds everyone's garbage back): a depot smaller than such
//! a lump sends the rest back to `malloc`, so the depot is bounded in bytes
//! (`DEPOT_BYTES`, 1 MiB per size), not in a few thousand blocks. (The
//! runs: `docs/perf-log.md`, as above.)
//!
//! Each block is one that the global allocator returned for exactly its
//! layout, so a `Box` made from it may be freed as any other
//! (`Box::from_raw`, when a table is dropped) or recycled again. Recycled:
//! layouts of 8-byte alignment and a size that is a multiple of 8, up to
//! `MAX_SIZE` (`u64`, pointers, `Arc`, `String`, small structs of them);
//! others are left to the allocator. Bounds: `LOCAL_MAX` blocks per size
//! per thread (moved to the depot when the thread exits) and
//! `DEPOT_BYTES` per size in the depot; beyond those, blocks are freed.
//!
//! **Aging** (Bonwick's working-set reaping). The depot's high-water mark
//! is the largest lump epochs ever freed at once, and a long-running
//! program sees ever larger (rarer) lumps: a depot that is never shrunk
//! creeps up for as long as the program runs (the 600 s soak found it,
//! `docs/perf-log.md`). So each class also records the fewest blocks it
//! held since the last aging period (`low`): those blocks sat unused for a
//! whole period, and the next aging frees them (and the list's spare
//! capacity with them). A class that is drawn on keeps what it draws; one
//! that is not returns to empty within two periods. The period is
//! [`AGE_NANOS`] (2 s, as `Pool`'s default); aging is driven by sysmon
//! through gort-core's pool registry (`register_pool_cleanup`), and, off
//! any runtime, by the moves to and from the depot themselves (one clock
//! read per magazine).
//! Under loom there is no pool ([`boxed`] is `Box::new`): loom's models
//! check the map's protocol, not this; Miri runs it (freeing crossbeam's
//! deferred batches, as in any build: see `reclaim.rs`).

#[cfg(all(test, not(loom)))]
pub(super) use imp::{age, depot_len, MAG};
#[cfg(not(loom))]
pub(super) use imp::{boxed, give};

#[cfg(loom)]
#[inline]
pub(super) fn boxed<V>(v: V) -> Box<V> {
    Box::new(v)
}

/// Frees the blocks (no pool under loom).
///
/// # Safety
///
/// As the pool's `give`: each block was allocated by the global allocator
/// with its layout (or is a zero-sized box's), holds no value, and is owned
/// by the caller, who does not use it again.
#[cfg(loom)]
pub(super) unsafe fn give(
    blocks: impl Iterator<Item = (std::ptr::NonNull<u8>, std::alloc::Layout)>,
) {
    for (b, layout) in blocks {
        if layout.size() != 0 {
            // SAFETY: per this function's contract.
            unsafe { std::alloc::dealloc(b.as_ptr(), layout) };
        }
    }
}

#[cfg(not(loom))]
mod imp {
    use std::alloc::{dealloc, Layout};
    use std::cell::RefCell;
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError, Weak};

    use gort_core::runtime::{pool_clock_nanos, register_pool_cleanup, PoolCleanup};

    /// Largest recycled block, in bytes.
    pub(super) const MAX_SIZE: usize = 256;
    /// Size classes: one per multiple of 8 bytes up to [`MAX_SIZE`].
    const CLASSES: usize = MAX_SIZE / 8;
    /// The only recycled alignment (that of `u64`, pointers, `Arc`,
    /// `String`...): a class's blocks must all have one layout.
    const ALIGN: usize = 8;
    /// Blocks moved between a thread and the depot at once.
    pub(in super::super) const MAG: usize = 64;
    /// Blocks a thread keeps per class.
    pub(super) const LOCAL_MAX: usize = 2 * MAG;
    /// Bytes the depot keeps per class (of blocks' sizes): as many blocks
    /// as epochs may hold back at once, so that they come back here rather
    /// than to the allocator (see the module docs).
    pub(super) const DEPOT_BYTES: usize = 1 << 20;

    /// A free block: allocated by the global allocator with its class's
    /// layout, holding no value, owned by the list that holds it.
    #[derive(Clone, Copy)]
    struct Block(NonNull<u8>);

    // SAFETY: a block is plain memory with no value in it, owned by one
    // list at a time; which thread frees or reuses it does not matter.
    unsafe impl Send for Block {}

    impl Block {
        /// Frees the block.
        ///
        /// # Safety
        ///
        /// The block is of class `class` and is not used again.
        unsafe fn free(self, class: usize) {
            // SAFETY: per the type's and this function's contract.
            unsafe { dealloc(self.0.as_ptr(), layout_of(class)) };
        }
    }

    /// The layout of class `class`'s blocks.
    fn layout_of(class: usize) -> Layout {
        // A multiple of 8 up to 256, with alignment 8: valid.
        Layout::from_size_align((class + 1) * 8, ALIGN).expect("a class's layout")
    }

    /// The class of `layout`, if its blocks are recycled.
    #[inline]
    fn class_of(layout: Layout) -> Option<usize> {
        let size = layout.size();
        if layout.align() != ALIGN || size == 0 || size > MAX_SIZE || !size.is_multiple_of(8) {
            return None;
        }
        Some(size / 8 - 1)
    }

    /// Nanoseconds between two agings of the depot.
    pub(super) const AGE_NANOS: u64 = 2_000_000_000;

    /// One class's share of the depot.
    struct Depot {
        blocks: Vec<Block>,
        /// The fewest blocks `blocks` held since the last aging: that many
        /// were not needed for a whole period (see the module docs).
        low: usize,
    }

    /// The depot: full magazines' worth of blocks, per class, shared by all
    /// threads. Locked once per [`MAG`] blocks moved, for a copy of `MAG`
    /// pointers.
    static DEPOT: [Mutex<Depot>; CLASSES] = [const {
        Mutex::new(Depot {
            blocks: Vec::new(),
            low: 0,
        })
    }; CLASSES];

    /// Class `class`'s depot, unless another thread holds it: then the
    /// caller allocates or frees as if there were no depot, rather than
    /// wait (and a global allocator that used a map could not deadlock on
    /// it). A poisoning panic cannot leave the list inconsistent.
    #[inline]
    fn lock_depot(class: usize) -> Option<MutexGuard<'static, Depot>> {
        match DEPOT[class].try_lock() {
            Ok(d) => Some(d),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The depot's aging clock, registered with gort-core's pool registry
    /// (whose sysmon ticks call [`PoolCleanup::cleanup`]) the first time
    /// the depot is used. The registry holds a `Weak`; the static holds
    /// the `Arc`, so the entry lives as long as the process.
    struct Aging {
        /// When the depot was last aged (nanoseconds of
        /// [`pool_clock_nanos`]).
        last: AtomicU64,
    }

    impl PoolCleanup for Aging {
        fn cleanup(&self, now: u64) {
            self.age_if_due(now);
        }
    }

    impl Aging {
        /// Ages the depot if [`AGE_NANOS`] passed since the last aging.
        /// Relaxed: the CAS only elects one caller per period; the depot's
        /// locks order the lists.
        fn age_if_due(&self, now: u64) {
            let last = self.last.load(Relaxed);
            if now.saturating_sub(last) < AGE_NANOS {
                return;
            }
            if self
                .last
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
            {
                age();
            }
        }
    }

    /// The depot's [`Aging`], registered on first use.
    fn aging() -> &'static Aging {
        static AGING: OnceLock<Arc<Aging>> = OnceLock::new();
        AGING.get_or_init(|| {
            let a = Arc::new(Aging {
                last: AtomicU64::new(pool_clock_nanos()),
            });
            register_pool_cleanup(Arc::downgrade(&a) as Weak<dyn PoolCleanup>);
            a
        })
    }

    /// One aging period: every class frees the blocks it did not need
    /// since the last one (its low-water mark), outside its lock.
    pub(in super::super) fn age() {
        for class in 0..CLASSES {
            let unused = {
                let Some(mut depot) = lock_depot(class) else {
                    // In use: its blocks are being drawn on; next period.
                    continue;
                };
                let n = depot.low.min(depot.blocks.len());
                // The oldest blocks are at the front (magazines are taken
                // from the back): those go. `split_off` gives the kept ones
                // a list of their own size, so a depot that shrank does not
                // keep its peak's capacity either.
                let kept = depot.blocks.split_off(n);
                let unused = std::mem::replace(&mut depot.blocks, kept);
                depot.low = depot.blocks.len();
                unused
            };
            for b in unused {
                // SAFETY: the depot's blocks are of class `class`, and
                // this one left it.
                unsafe { b.free(class) };
            }
        }
    }

    /// Blocks the depot holds for class `class` (tests).
    #[cfg(test)]
    pub(in super::super) fn depot_len(class_size: usize) -> usize {
        let class = class_size / 8 - 1;
        DEPOT[class]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .blocks
            .len()
    }

    /// A thread's free lists, per class.
    struct Pool {
        classes: [Vec<Block>; CLASSES],
    }

    impl Drop for Pool {
        fn drop(&mut self) {
            for (class, free) in self.classes.iter_mut().enumerate() {
                let n = free.len();
                // SAFETY: the blocks are this pool's, of class `class`.
                unsafe { to_depot(class, free, n) };
            }
        }
    }

    /// Moves the last `n` blocks of `free` to the depot, freeing those it
    /// has no room for (all of them if another thread holds it).
    ///
    /// # Safety
    ///
    /// The blocks are of class `class`, owned by `free`.
    unsafe fn to_depot(class: usize, free: &mut Vec<Block>, n: usize) {
        let from = free.len() - n;
        let room = match lock_depot(class) {
            Some(mut depot) => {
                let max = DEPOT_BYTES / layout_of(class).size();
                let room = max.saturating_sub(depot.blocks.len()).min(n);
                depot.blocks.extend_from_slice(&free[from..from + room]);
                room
            }
            None => 0,
        };
        for b in free.drain(from..).skip(room) {
            // SAFETY: of class `class` (contract), neither kept nor moved.
            unsafe { b.free(class) };
        }
        aging().age_if_due(pool_clock_nanos());
    }

    thread_local! {
        static POOL: RefCell<Pool> = const {
            RefCell::new(Pool { classes: [const { Vec::new() }; CLASSES] })
        };
    }

    /// A free block of class `class`: this thread's, or a magazine from the
    /// depot.
    #[inline]
    fn pop(pool: &mut Pool, class: usize) -> Option<Block> {
        let free = &mut pool.classes[class];
        if let Some(b) = free.pop() {
            return Some(b);
        }
        refill(free, class)
    }

    /// Takes up to a magazine from the depot into `free` (empty) and pops
    /// one.
    #[cold]
    fn refill(free: &mut Vec<Block>, class: usize) -> Option<Block> {
        let mut depot = lock_depot(class)?;
        if depot.blocks.is_empty() {
            return None;
        }
        if free.capacity() == 0 {
            free.reserve_exact(LOCAL_MAX);
        }
        let from = depot.blocks.len().saturating_sub(MAG);
        free.extend(depot.blocks.drain(from..));
        depot.low = depot.low.min(depot.blocks.len());
        drop(depot);
        aging().age_if_due(pool_clock_nanos());
        free.pop()
    }

    /// `Box::new(v)`, in a recycled block if there is one.
    #[inline]
    pub(in super::super) fn boxed<V>(v: V) -> Box<V> {
        let Some(class) = class_of(Layout::new::<V>()) else {
            return Box::new(v);
        };
        // `try_with`: the pool is gone while the thread exits.
        // `try_borrow_mut`: no user code runs while the pool is borrowed,
        // but a global allocator could, in theory, use a map.
        let block = POOL
            .try_with(|p| pop(&mut *p.try_borrow_mut().ok()?, class))
            .ok()
            .flatten();
        match block {
            Some(Block(b)) => {
                let p = b.cast::<V>().as_ptr();
                // SAFETY: `b` is a free block allocated by the global
                // allocator with `Layout::new::<V>()` (its class's layout),
                // now ours (popped); writing a `V` into it makes it a valid
                // `Box<V>`.
                unsafe {
                    p.write(v);
                    Box::from_raw(p)
                }
            }
            None => Box::new(v),
        }
    }

    /// Takes the blocks: keeps those of recycled layouts while there is
    /// room, frees the others.
    ///
    /// # Safety
    ///
    /// Each block was allocated by the global allocator with its layout (or
    /// is a zero-sized box's), holds no value (dropped, or never written),
    /// and is owned by the caller, who does not use it again.
    pub(in super::super) unsafe fn give(blocks: impl Iterator<Item = (NonNull<u8>, Layout)>) {
        let mut blocks = blocks;
        // Borrowed while no user code runs (see `boxed`).
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                for (b, layout) in &mut blocks {
                    // SAFETY: per this function's contract.
                    unsafe { p.keep(b, layout) };
                }
            }
        });
        // The pool is gone (the thread is exiting) or in use: free the rest.
        for (b, layout) in blocks {
            // SAFETY: per this function's contract.
            unsafe { free(b, layout) };
        }
    }

    /// Frees a block.
    ///
    /// # Safety
    ///
    /// As [`give`]'s blocks.
    #[inline]
    unsafe fn free(b: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: allocated by the global allocator with `layout`
            // (caller's contract); a zero-sized box was never allocated.
            unsafe { dealloc(b.as_ptr(), layout) };
        }
    }

    impl Pool {
        /// Keeps `b` on its class's free list (moving a magazine to the
        /// depot if the list is full), or frees it if not recycled.
        ///
        /// # Safety
        ///
        /// As [`give`]'s blocks.
        #[inline]
        unsafe fn keep(&mut self, b: NonNull<u8>, layout: Layout) {
            let Some(class) = class_of(layout) else {
                // SAFETY: per this function's contract.
                return unsafe { free(b, layout) };
            };
            let free = &mut self.classes[class];
            if free.len() == LOCAL_MAX {
                // SAFETY: the list's blocks are of class `class`.
                unsafe { to_depot(class, free, MAG) };
            } else if free.capacity() == 0 {
                free.reserve_exact(LOCAL_MAX);
            }
            free.push(Block(b));
        }
    }
}
