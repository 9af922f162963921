//! The wait reason of whatever this thread is polling: a task on an M, or a
//! `block_on` future on its own thread.
//!
//! One thread-local points at the wait-reason word of the party being
//! polled (`Header::wait_reason`, `MainTask::wait_reason`) for exactly the
//! length of its future's `poll` call (`raw.rs` `poll`, `block_on`), while
//! the poller's reference keeps the word alive. A primitive about to return
//! `Pending` records why ([`set_wait_reason`]); the dump reads the word.
//! Nothing else is shared, so the setter costs one thread-local read and a
//! relaxed store, and it is a leaf: io, time, the join handle and gort-sync
//! call it without reaching for the scheduler.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::WaitReason;

crate::loom::model_thread_local! {
    static POLLING: Cell<*const AtomicU64> = Cell::new(std::ptr::null());
}

/// A wait-reason word: the reason in the low byte, the coarse clock (ms)
/// when it was set above it; 0 when not waiting.
#[inline]
pub(crate) fn encode(r: WaitReason) -> u64 {
    match r {
        WaitReason::None => 0,
        r => (crate::time::clock::coarse_ms() << 8) | r as u64,
    }
}

/// The reason and the coarse time (ms) a word holds.
pub(crate) fn decode(v: u64) -> (WaitReason, u64) {
    (WaitReason::from_u32((v & 0xff) as u32), v >> 8)
}

/// Marks `word` as the wait reason of what this thread polls until the
/// guard drops (restoring the outer one: a `block_on` inside a poll). The
/// reason starts cleared: a poll that completes or parks anew says so.
#[inline]
pub(crate) fn enter(word: &AtomicU64) -> Polling {
    word.store(0, Relaxed);
    Polling(POLLING.with(|p| p.replace(word as *const AtomicU64)))
}

/// The wait-reason word of what this thread is polling now (null outside
/// a poll): compared by address, it tells which task is the caller
/// (`sched/leaks.rs` leaves the calling task out, as goleak does).
pub(crate) fn polling_word() -> *const AtomicU64 {
    POLLING.try_with(|p| p.get()).unwrap_or(std::ptr::null())
}

/// Restores the previous wait-reason word on drop.
#[must_use]
pub(crate) struct Polling(*const AtomicU64);

impl Drop for Polling {
    #[inline]
    fn drop(&mut self) {
        let _ = POLLING.try_with(|p| p.set(self.0));
    }
}

/// Records why the current task (or `block_on` future) is about to return
/// `Pending`, for [`dump`](crate::runtime::dump): called by gort's
/// primitives, and by any library that wants its waits named there. A
/// no-op outside a poll.
///
/// # Examples
///
/// ```
/// use gort_core::WaitReason;
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     // A hand-written wait on a socket-like resource:
///     gort_core::runtime::set_wait_reason(WaitReason::IoWait);
/// });
/// ```
#[inline]
pub fn set_wait_reason(reason: WaitReason) {
    let word = POLLING.try_with(|p| p.get()).unwrap_or(std::ptr::null());
    if !word.is_null() {
        // SAFETY: `POLLING` is non-null only inside the `poll` call of the
        // party that owns the word (`enter`'s guard), whose poller holds a
        // reference that keeps the word alive until the guard drops.
        unsafe { &*word }.store(encode(reason), Relaxed);
    }
}
