//! Recycled task cells: Go's free-G lists (`gfput`/`gfget`, a per-P list
//! that spills to and refills from `sched.gFree` in batches), for the
//! memory of `raw.rs`'s cells.
//!
//! # Why
//!
//! A task is allocated where it is spawned and freed where its last
//! reference drops, which with stealing is often another thread. Under
//! glibc's malloc that free goes into the spawner's arena under its
//! mutex, the spawner's next malloc takes the same mutex, and on two
//! cores they meet in `__lll_lock_wait_private` and futex sleeps
//! (`docs/perf-log.md`, sixth session: `spawn_many_local` 408 ns a spawn
//! on glibc against 149 under tcmalloc, the same binary). Go never meets
//! this: a dead G goes on its P's free list and the next `go` statement
//! takes it from there.
//!
//! # How
//!
//! Cells up to [`MAX_SIZE`] bytes with an alignment up to [`GRAIN`] are
//! rounded up to a size class (a multiple of [`GRAIN`]) and their memory
//! is recycled per class:
//!
//! 1. **Freeing** puts the block on the freeing thread's own list for its
//!    class (a thread-local `Vec`: no atomics). A list that reaches
//!    [`LOCAL_MAX`] hands its oldest [`BATCH`] blocks to the class's global
//!    list in one lock (Go's `gfput` spilling half of `gFree` past 64); a
//!    global list already holding [`GLOBAL_MAX`] batches frees them
//!    instead, so the memory kept is bounded.
//! 2. **Allocating** pops the thread's own list; an empty one takes one
//!    batch from the global list in one lock (Go's `gfget` refilling 32);
//!    with none there, it asks the allocator for a block of the class's
//!    size.
//! 3. **A thread that exits** hands its lists to the global ones (what
//!    does not fit is freed).
//! 4. **Aging** ([`age`], from sysmon, once per [`AGE_NANOS`]): each
//!    class's global batches become its victim batches, and the old
//!    victims are freed, as `sync.Pool`'s victim cache ages (Go frees the
//!    stacks of free Gs at each GC in the same spirit). A refill takes a
//!    primary batch first, then a victim. So memory a burst left in the
//!    global lists goes back to the allocator within two periods of not
//!    being needed, and what stays tracks the spawn rate.
//!
//! So a spawner on one thread and a finisher on another trade blocks a
//! batch at a time, one uncontended lock per [`BATCH`] tasks instead of
//! an arena mutex per task. A block is only ever one class's size, so
//! every block of a class was allocated with the same layout, the one it
//! is freed with.
//!
//! Memory kept: per thread at most [`LOCAL_MAX`] blocks per class, and
//! globally at most [`GLOBAL_MAX`] × [`BATCH`] per class as primary plus
//! as many as victims, and those only for two aging periods; never more,
//! whatever the peak of tasks alive was (Go keeps its free Gs forever).
//!
//! **Off** under loom (its models would explore the allocator), Miri and
//! AddressSanitizer (`--cfg gort_no_cell_cache`, which `.ci/sanitizers`
//! sets for ASan): there a recycled cell would hide a use after free of a
//! task from the very tools meant to find one, so cells go straight to the
//! allocator. ThreadSanitizer runs with the cache on: a block changes
//! threads only through a global list's mutex, which it sees. The lists'
//! own code runs under Miri through this file's tests, on instances of
//! their own.

use std::alloc::Layout;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// Size classes are multiples of this; cells aligned beyond it are not
/// recycled.
pub(crate) const GRAIN: usize = 16;
/// The largest cell recycled, in bytes (bigger futures go to the
/// allocator each time).
pub(crate) const MAX_SIZE: usize = 512;
/// The number of size classes: class `c` holds blocks of `(c + 1) * GRAIN`
/// bytes.
const CLASSES: usize = MAX_SIZE / GRAIN;
/// A thread's list of one class spills a batch once it holds this many.
pub(crate) const LOCAL_MAX: usize = 64;
/// Blocks moved between a thread's list and the global one at a time.
pub(crate) const BATCH: usize = 32;
/// Batches a class's global list keeps at most.
pub(crate) const GLOBAL_MAX: usize = 16;
/// The aging period of the global lists, in nanoseconds.
pub(crate) const AGE_NANOS: u64 = 1_000_000_000;

/// The size class of `layout`, if it is recycled.
#[inline]
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() <= GRAIN && layout.size() <= MAX_SIZE && layout.size() != 0 {
        Some((layout.size() - 1) / GRAIN)
    } else {
        None
    }
}

/// The layout every block of class `c` is allocated and freed with.
#[inline]
fn block_layout(c: usize) -> Layout {
    // Cannot fail: the size is at most MAX_SIZE and GRAIN a power of two.
    match Layout::from_size_align((c + 1) * GRAIN, GRAIN) {
        Ok(l) => l,
        Err(_) => unreachable!("a class's layout is valid"),
    }
}

/// One free block: memory of a class's layout, uninitialized, owned by
/// whoever holds the `Block`.
struct Block(NonNull<u8>);

// SAFETY: a `Block` is an allocation nobody else refers to (it came from a
// cell whose last reference dropped, or fresh from the allocator); moving
// it to another thread moves that ownership, as a `Box<[u8]>` would.
unsafe impl Send for Block {}

/// One class's global batches: those given since the last aging, and
/// those given before it (freed at the next).
#[derive(Default)]
struct Batches {
    primary: Vec<Vec<Block>>,
    victim: Vec<Vec<Block>>,
}

/// The global lists: per class, batches of [`BATCH`] blocks.
pub(crate) struct Global {
    classes: [Mutex<Batches>; CLASSES],
    /// When the lists last aged (`age`), in the caller's clock.
    aged: AtomicU64,
}

impl Global {
    pub(crate) const fn new() -> Global {
        Global {
            classes: [const {
                Mutex::new(Batches {
                    primary: Vec::new(),
                    victim: Vec::new(),
                })
            }; CLASSES],
            aged: AtomicU64::new(0),
        }
    }

    fn lock(&self, c: usize) -> MutexGuard<'_, Batches> {
        // A panic never happens while the lock is held (pushes and pops of
        // `Vec`s only), but a poisoned list is still a list.
        self.classes[c].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `batch` if there is room; frees it otherwise (after the
    /// lock is released).
    fn give_or_free(&self, c: usize, batch: Vec<Block>) {
        if let Some(rejected) = self.give(c, batch) {
            free_all(c, rejected);
        }
    }

    /// Takes `batch` if there is room; hands it back otherwise.
    fn give(&self, c: usize, batch: Vec<Block>) -> Option<Vec<Block>> {
        let mut g = self.lock(c);
        if g.primary.len() < GLOBAL_MAX {
            g.primary.push(batch);
            None
        } else {
            Some(batch)
        }
    }

    fn take(&self, c: usize) -> Option<Vec<Block>> {
        let mut g = self.lock(c);
        g.primary.pop().or_else(|| g.victim.pop())
    }

    /// One aging period if one is due at `now` (module docs, step 4):
    /// primaries become victims, old victims are freed (outside the lock).
    fn age(&self, now: u64) {
        let last = self.aged.load(Relaxed);
        if now.saturating_sub(last) < AGE_NANOS {
            return;
        }
        // Relaxed: the CAS only elects one of several sysmons for this
        // period; the lists' own mutexes order what they hold.
        if self
            .aged
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_err()
        {
            return;
        }
        for c in 0..CLASSES {
            let old = {
                let mut g = self.lock(c);
                let primary = std::mem::take(&mut g.primary);
                std::mem::replace(&mut g.victim, primary)
            };
            for b in old {
                free_all(c, b);
            }
        }
    }

    /// Blocks held, per class (tests).
    #[cfg(test)]
    fn held(&self, c: usize) -> usize {
        let g = self.lock(c);
        g.primary.iter().chain(&g.victim).map(Vec::len).sum()
    }
}

impl Drop for Global {
    fn drop(&mut self) {
        for (c, m) in self.classes.iter_mut().enumerate() {
            let g = std::mem::take(m.get_mut().unwrap_or_else(|e| e.into_inner()));
            for b in g.primary.into_iter().chain(g.victim) {
                free_all(c, b);
            }
        }
    }
}

/// One thread's lists, one per class.
pub(crate) struct Local<'g> {
    classes: [Vec<Block>; CLASSES],
    /// Where spilled batches go and refills come from.
    global: &'g Global,
}

impl<'g> Local<'g> {
    pub(crate) const fn new(global: &'g Global) -> Local<'g> {
        Local {
            classes: [const { Vec::new() }; CLASSES],
            global,
        }
    }

    /// A block of class `c`: this thread's, else a batch from the global
    /// list, else `None` (the caller allocates).
    fn pop(&mut self, c: usize) -> Option<NonNull<u8>> {
        let list = &mut self.classes[c];
        if list.is_empty() {
            *list = self.global.take(c)?;
        }
        list.pop().map(|b| b.0)
    }

    /// Keeps `block` of class `c`, spilling a batch to the global list
    /// first if this thread's is full; blocks that fit nowhere are freed.
    fn push(&mut self, c: usize, block: NonNull<u8>) {
        let list = &mut self.classes[c];
        if list.len() >= LOCAL_MAX {
            // The oldest ones: the most recent stay warm in this cache.
            let batch: Vec<Block> = list.drain(..BATCH).collect();
            self.global.give_or_free(c, batch);
        }
        self.classes[c].push(Block(block));
    }

    /// Blocks held, per class (tests).
    #[cfg(test)]
    fn held(&self, c: usize) -> usize {
        self.classes[c].len()
    }
}

impl Drop for Local<'_> {
    /// The thread exits: its blocks go to the global lists, a batch at a
    /// time, or are freed where those are full.
    fn drop(&mut self) {
        for (c, list) in self.classes.iter_mut().enumerate() {
            let mut list = std::mem::take(list);
            while !list.is_empty() {
                let n = list.len().min(BATCH);
                let batch: Vec<Block> = list.drain(..n).collect();
                self.global.give_or_free(c, batch);
            }
        }
    }
}

fn free_all(c: usize, blocks: Vec<Block>) {
    for b in blocks {
        // SAFETY: every block of class `c` was allocated with
        // `block_layout(c)` (module docs) and is owned by this `Block`.
        unsafe { std::alloc::dealloc(b.0.as_ptr(), block_layout(c)) };
    }
}

fn alloc_raw(layout: Layout) -> NonNull<u8> {
    // SAFETY: `layout` has a non-zero size (a cell holds at least a
    // header; `class_of` refuses zero).
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Whether cells are recycled in this build (module docs, "Off").
const ON: bool = !cfg!(any(loom, miri, gort_no_cell_cache));

static GLOBAL: Global = Global::new();

std::thread_local! {
    static LOCAL: RefCell<Local<'static>> = const { RefCell::new(Local::new(&GLOBAL)) };
}

/// One aging period of the process's global lists, if one is due at
/// `now` (sysmon's clock, nanoseconds): module docs, step 4. One relaxed
/// load when none is.
#[inline]
pub(crate) fn age(now: u64) {
    if ON {
        GLOBAL.age(now);
    }
}

/// Memory for a cell of `layout`: a recycled block of its class, or a new
/// one. Never null; aborts (`handle_alloc_error`) when memory runs out,
/// as `Box::new` does.
#[inline]
pub(super) fn alloc(layout: Layout) -> NonNull<u8> {
    match class_of(layout) {
        Some(c) if ON => {
            // `try_with`: a thread whose thread-locals are being torn down
            // allocates directly; `try_borrow_mut`: never reentered, but a
            // block from the allocator is always a correct answer.
            let hit = LOCAL
                .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.pop(c)))
                .ok()
                .flatten();
            hit.unwrap_or_else(|| alloc_raw(block_layout(c)))
        }
        _ => alloc_raw(layout),
    }
}

/// Frees the memory of a cell of `layout`, whose contents were dropped.
///
/// # Safety
///
/// `ptr` came from [`alloc`] with this same `layout`, and nothing refers
/// to it any more.
#[inline]
pub(super) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
    match class_of(layout) {
        Some(c) if ON => {
            let kept = LOCAL
                .try_with(|l| match l.try_borrow_mut() {
                    Ok(mut l) => {
                        l.push(c, ptr);
                        true
                    }
                    Err(_) => false,
                })
                .unwrap_or(false);
            if !kept {
                // SAFETY: `alloc` gave class `c` a block of
                // `block_layout(c)`; the caller hands it over.
                unsafe { std::alloc::dealloc(ptr.as_ptr(), block_layout(c)) };
            }
        }
        // SAFETY: `alloc` used `layout` itself for these (the caller's
        // contract says it is the same).
        _ => unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) },
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn block(c: usize) -> NonNull<u8> {
        alloc_raw(block_layout(c))
    }

    #[test]
    fn classes_round_up_to_the_grain() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class_of(l(1, 1)), Some(0));
        assert_eq!(class_of(l(16, 8)), Some(0));
        assert_eq!(class_of(l(17, 8)), Some(1));
        assert_eq!(class_of(l(MAX_SIZE, 16)), Some(CLASSES - 1));
        assert_eq!(class_of(l(MAX_SIZE + 1, 16)), None);
        assert_eq!(class_of(l(64, 32)), None, "over-aligned");
        assert_eq!(block_layout(CLASSES - 1).size(), MAX_SIZE);
    }

    /// A block freed on a thread is the next one that thread allocates of
    /// its class (last in, first out), and other classes do not see it.
    #[test]
    fn a_freed_block_is_reused_on_its_thread() {
        let global = &Global::new();
        let mut local = Local::new(global);
        let b = block(3);
        local.push(3, b);
        assert_eq!(local.pop(2), None);
        assert_eq!(local.pop(3), Some(b));
        assert_eq!(local.pop(3), None);
        free_all(3, vec![Block(b)]);
    }

    /// The batch protocol between a thread that only frees and one that
    /// only allocates (a finisher and a spawner): the first spills every
    /// [`BATCH`] blocks past [`LOCAL_MAX`], the second refills a batch at
    /// a time, every block comes out exactly once, and the memory kept
    /// never passes the bounds.
    #[test]
    fn spill_and_refill_hand_every_block_over_once() {
        let global = &Global::new();
        let c = 5;
        let total = LOCAL_MAX + 3 * BATCH;
        let blocks: Vec<NonNull<u8>> = (0..total).map(|_| block(c)).collect();
        let mut finisher = Local::new(global);
        for &b in &blocks {
            finisher.push(c, b);
            assert!(finisher.held(c) <= LOCAL_MAX);
        }
        assert_eq!(global.held(c), 3 * BATCH);
        assert_eq!(finisher.held(c), LOCAL_MAX);
        let mut spawner = Local::new(global);
        let mut got = Vec::new();
        while let Some(b) = spawner.pop(c) {
            got.push(b);
        }
        assert_eq!(got.len(), 3 * BATCH, "every spilled block, once");
        assert_eq!(global.held(c), 0);
        // The spilled ones are the oldest.
        let mut want: Vec<_> = blocks[..3 * BATCH].to_vec();
        want.sort();
        got.sort();
        assert_eq!(got, want);
        for b in got {
            spawner.push(c, b);
        }
        drop(spawner);
        drop(finisher);
        assert_eq!(global.held(c), total, "exiting threads hand theirs over");
    }

    /// A full global list frees instead of growing: at most
    /// [`GLOBAL_MAX`] batches per class.
    #[test]
    fn the_global_list_is_bounded() {
        let global = &Global::new();
        let c = 0;
        let mut local = Local::new(global);
        let n = LOCAL_MAX + (GLOBAL_MAX + 4) * BATCH;
        for _ in 0..n {
            local.push(c, block(c));
        }
        assert_eq!(global.held(c), GLOBAL_MAX * BATCH);
        assert!(local.held(c) <= LOCAL_MAX);
        drop(local);
        assert_eq!(global.held(c), GLOBAL_MAX * BATCH);
    }

    /// Aging: a batch given back is kept through one period (a victim,
    /// still handed out), and freed at the next unless taken; periods are
    /// at least [`AGE_NANOS`] apart.
    #[test]
    fn unused_batches_are_freed_after_two_periods() {
        let global = &Global::new();
        let c = 1;
        let give = |n: usize| {
            let batch: Vec<Block> = (0..n).map(|_| Block(block(c))).collect();
            assert!(global.give(c, batch).is_none());
        };
        give(BATCH);
        give(BATCH);
        let t0 = 10 * AGE_NANOS;
        global.age(t0);
        assert_eq!(global.held(c), 2 * BATCH, "victims are still held");
        global.age(t0 + AGE_NANOS / 2);
        assert_eq!(global.held(c), 2 * BATCH, "no second period within one");
        // A victim batch is still handed out, and a new primary given.
        let taken = global.take(c).unwrap();
        assert_eq!(taken.len(), BATCH);
        assert!(global.give(c, taken).is_none());
        global.age(t0 + AGE_NANOS);
        assert_eq!(global.held(c), BATCH, "the untouched victim is freed");
        global.age(t0 + 2 * AGE_NANOS);
        global.age(t0 + 3 * AGE_NANOS);
        assert_eq!(global.held(c), 0);
    }

    /// Through the real entry points, from several threads, for cells of
    /// several sizes: whatever the cache's state, each allocation is a
    /// distinct live block of at least the asked size (written whole).
    #[test]
    fn alloc_and_dealloc_across_threads() {
        let per_thread = if cfg!(miri) { 200 } else { 20_000 };
        let threads: Vec<_> = (0..2)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut live = Vec::new();
                    for i in 0..per_thread {
                        let size = 48 + ((i * 7 + t) % 20) * 16;
                        let layout = Layout::from_size_align(size, 8).unwrap();
                        let p = alloc(layout);
                        // SAFETY: `p` is `size` bytes of ours.
                        unsafe { p.as_ptr().write_bytes(i as u8, size) };
                        live.push((p, layout));
                        if live.len() > 50 {
                            let (p, l) = live.swap_remove(i % live.len());
                            // SAFETY: from `alloc` with `l`, no longer used.
                            unsafe { dealloc(p, l) };
                        }
                    }
                    // Freed by the main thread, below.
                    live.into_iter()
                        .map(|(p, l)| (Block(p), l))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let rest: Vec<_> = threads
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let mut addrs: Vec<NonNull<u8>> = rest.iter().map(|(b, _)| b.0).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), rest.len(), "no block handed out twice");
        for (b, l) in rest {
            // SAFETY: from `alloc` with `l`, freed once, on another thread.
            unsafe { dealloc(b.0, l) };
        }
    }
}
