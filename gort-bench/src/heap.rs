//! The heap in use, counted exactly, for the soak: gort-bench's global
//! allocator is the system allocator plus, once [`start`] is called, one
//! relaxed counter of the bytes handed out and not yet freed.
//!
//! Why not the allocator's own statistics: glibc's `mallinfo2().uordblks`
//! counts the chunks its per-thread caches hold as in use, and those
//! caches fill slowly (a rarely used size is cached for the first time
//! minutes into a run), so it rose for ten minutes in a soak whose live
//! heap, as heaptrack counted it, was flat (`docs/perf-log.md`, soak).
//! The count here is what the program holds, nothing else.
//!
//! Off until [`start`]: the benchmarks pay one relaxed load of a flag
//! nobody writes per allocation, and no counter traffic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// The system allocator, counting while [`start`]ed.
pub(crate) struct Counting;

/// Whether allocations are counted.
static ON: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since [`start`]. Frees of blocks
/// allocated before it make it lower than the heap by what those were, a
/// constant: the soak compares samples with each other.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counting only reads sizes.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded (the trait's contract is the caller's).
        let p = unsafe { System.alloc(layout) };
        if ON.load(Relaxed) && !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        let p = unsafe { System.alloc_zeroed(layout) };
        if ON.load(Relaxed) && !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if ON.load(Relaxed) && !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

/// Starts counting.
pub(crate) fn start() {
    ON.store(true, Relaxed);
}

/// Bytes allocated and not freed since [`start`], in KiB (0 if below).
pub(crate) fn live_kib() -> u64 {
    u64::try_from(LIVE.load(Relaxed)).unwrap_or(0) / 1024
}
