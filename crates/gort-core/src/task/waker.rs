//! The wakers gort hands out, and the parked kind its waiting structures
//! keep.
//!
//! Two parties have wakers: a task (the data pointer is its header; the
//! reference is counted in the state word) and a `block_on` future (the
//! data pointer is its [`MainTask`], an `Arc`). Each has two vtables:
//!
//! - the plain one, which `Context::waker()` carries and any library may
//!   clone and keep;
//! - the *parked* one, made by [`park_waker`] for gort's own waiting
//!   structures (channel queues, select, timers, WaitGroup, locks, the join
//!   slot). A parked waker counts itself as parked (in the state word, or in
//!   `MainTask::parked`) for as long as it lives, and its clones are parked
//!   too.
//!
//! The deadlock detector (`sched/deadlock.rs`) relies on the difference:
//! a reference that is not the owned list's, the join handle's or a parked
//! waker's is held by somebody gort does not know (a foreign reactor, a
//! thread holding a `oneshot::Sender`), who may wake the task at any time.
//!
//! The vtables are statics, not generic over the future's type, so a
//! waker's kind is one pointer comparison; a task waker reaches its typed
//! functions through the header's own vtable.
//!
//! This file, `raw.rs`, `harness.rs` and `refs.rs` import each other (one
//! protocol, `raw.rs`'s header): a task waker reaches the typed functions
//! through the header's vtable, and `harness.rs`'s poll makes its waker
//! here.
//!
//! Every function here takes the waker's data pointer, never a reference
//! derived from it, into a call that may free the cell: a task waker's
//! reference keeps the cell alive until its last use.

use std::ptr::NonNull;
use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::main::MainTask;
use super::raw::Header;
use super::state::WakeByVal;

/// A task's plain waker.
pub(crate) static TASK_WAKER: RawWakerVTable =
    RawWakerVTable::new(task_clone, task_wake_by_val, task_wake_by_ref, task_drop);

/// A task's waker parked in a gort waiting structure.
static PARKED_TASK_WAKER: RawWakerVTable = RawWakerVTable::new(
    parked_task_clone,
    parked_task_wake_by_val,
    task_wake_by_ref,
    parked_task_drop,
);

/// A `block_on` future's plain waker.
static MAIN_WAKER: RawWakerVTable =
    RawWakerVTable::new(main_clone, main_wake_by_val, main_wake_by_ref, main_drop);

/// A `block_on` future's waker parked in a gort waiting structure.
static PARKED_MAIN_WAKER: RawWakerVTable = RawWakerVTable::new(
    parked_main_clone,
    parked_main_wake_by_val,
    main_wake_by_ref,
    parked_main_drop,
);

/// A clone of `waker` for one of gort's own waiting structures: a channel
/// queue, a select case, a timer, a WaitGroup, a lock's queue.
///
/// It wakes the same party as `waker`. If that party is a gort task or a
/// `block_on` future, the clone also tells the deadlock detector that this
/// reference is gort's, so that the party counts as asleep while only gort
/// structures could wake it; any other waker (another executor's) is
/// cloned as it is. Keep the result only inside a gort primitive: a parked
/// waker handed to a foreign library would hide that library from the
/// detector.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
///
/// struct Slot(Option<Waker>);
///
/// impl Slot {
///     fn register(&mut self, cx: &Context<'_>) {
///         match &self.0 {
///             Some(w) if gort_core::task::same_waker(w, cx.waker()) => {}
///             _ => self.0 = Some(gort_core::task::park_waker(cx.waker())),
///         }
///     }
/// }
/// let mut slot = Slot(None);
/// slot.register(&Context::from_waker(Waker::noop()));
/// assert!(slot.0.is_some());
/// ```
#[inline]
pub fn park_waker(waker: &Waker) -> Waker {
    let vtable = waker.vtable();
    if std::ptr::eq(vtable, &TASK_WAKER) || std::ptr::eq(vtable, &PARKED_TASK_WAKER) {
        // SAFETY: a live task waker's data pointer is its header, with a
        // reference that `waker` owns (or borrows from the poll) for as long
        // as we use it here; `parked_task_clone` takes a reference of its own.
        return unsafe { Waker::from_raw(parked_task_clone(waker.data())) };
    }
    if std::ptr::eq(vtable, &MAIN_WAKER) || std::ptr::eq(vtable, &PARKED_MAIN_WAKER) {
        // SAFETY: as above, for the `Arc<MainTask>` behind a main waker.
        return unsafe { Waker::from_raw(parked_main_clone(waker.data())) };
    }
    waker.clone()
}

/// Whether `a` and `b` wake the same party: [`Waker::will_wake`], except
/// that a parked waker (from [`park_waker`]) and the plain waker it was made
/// from count as the same. A waiting structure uses it to keep the waker it
/// holds when the same task polls again.
#[inline]
pub fn same_waker(a: &Waker, b: &Waker) -> bool {
    match (kind(a), kind(b)) {
        (Some(x), Some(y)) => x == y && a.data() == b.data(),
        _ => a.will_wake(b),
    }
}

/// Which party a gort waker wakes: `Some(true)` a task, `Some(false)` a
/// `block_on` future, `None` not gort's.
#[inline]
fn kind(w: &Waker) -> Option<bool> {
    let v = w.vtable();
    if std::ptr::eq(v, &TASK_WAKER) || std::ptr::eq(v, &PARKED_TASK_WAKER) {
        Some(true)
    } else if std::ptr::eq(v, &MAIN_WAKER) || std::ptr::eq(v, &PARKED_MAIN_WAKER) {
        Some(false)
    } else {
        None
    }
}

/// The plain waker of a task, borrowing the poller's reference: the caller
/// keeps the result from dropping (`ManuallyDrop`) and it must not outlive
/// the poll.
///
/// # Safety
/// `ptr` is the header of a live task whose reference the caller holds for
/// the waker's whole life.
#[inline]
pub(crate) unsafe fn borrowed_task_waker(ptr: NonNull<Header>) -> Waker {
    // SAFETY: per the contract; TASK_WAKER's functions expect a header.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &TASK_WAKER)) }
}

/// # Safety (all task functions)
/// `data` is the header pointer of a task waker holding (or borrowing) one
/// reference to a live cell.
#[inline]
unsafe fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: per the contract above.
    unsafe { &*(data as *const Header) }
}

#[inline]
fn nonnull(data: *const ()) -> NonNull<Header> {
    NonNull::new(data as *mut Header).expect("a task waker's data is its header")
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn task_clone(data: *const ()) -> RawWaker {
    // SAFETY: see `header`.
    unsafe { header(data) }.state.ref_inc();
    RawWaker::new(data, &TASK_WAKER)
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn parked_task_clone(data: *const ()) -> RawWaker {
    // SAFETY: see `header`.
    if unsafe { header(data) }.state.ref_inc_parked() {
        RawWaker::new(data, &PARKED_TASK_WAKER)
    } else {
        // The parked count is at its limit: a plain reference was taken.
        RawWaker::new(data, &TASK_WAKER)
    }
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn task_wake_by_ref(data: *const ()) {
    // SAFETY: see `header`; the waker keeps its reference.
    unsafe { Header::wake_by_ref(nonnull(data)) }
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn task_wake_by_val(data: *const ()) {
    // SAFETY: see `header`; the waker's reference is handed over.
    unsafe { wake_by_val(nonnull(data), false) }
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn parked_task_wake_by_val(data: *const ()) {
    // SAFETY: as above.
    unsafe { wake_by_val(nonnull(data), true) }
}

/// # Safety
/// The caller hands over one waker reference to the cell at `ptr`.
#[inline]
unsafe fn wake_by_val(ptr: NonNull<Header>, parked: bool) {
    // SAFETY: the waker's reference keeps the cell alive until it is handed
    // on or dropped below.
    let header = unsafe { ptr.as_ref() };
    let outcome = header.state.wake_by_val(parked);
    match outcome {
        WakeByVal::Schedule => {
            // Read before the cell is published: it may be freed after.
            crate::exectrace::wake(header.id.0);
            // SAFETY: the waker's reference is now the queue's; the cell is
            // not read after it is published (state.rs invariant 7).
            unsafe { Header::schedule(ptr, false) }
        }
        WakeByVal::Done => {}
        // SAFETY: `wake_by_val` dropped the last reference.
        WakeByVal::Dealloc => unsafe { Header::dealloc(ptr) },
    }
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn task_drop(data: *const ()) {
    // SAFETY: see `header`; the waker's reference is given up.
    unsafe { Header::drop_ref(nonnull(data)) }
}

/// # Safety
/// `data` is the header of a live task, with a reference the waker owns
/// (or borrows from the poll): see `header`.
unsafe fn parked_task_drop(data: *const ()) {
    let ptr = nonnull(data);
    // SAFETY: see `header`.
    if unsafe { ptr.as_ref() }.state.ref_dec_parked() {
        // SAFETY: that was the last reference.
        unsafe { Header::dealloc(ptr) }
    }
}

/// The plain waker of a `block_on` future.
pub(crate) fn main_waker(main: &Arc<MainTask>) -> Waker {
    let data = Arc::into_raw(main.clone()) as *const ();
    // SAFETY: MAIN_WAKER's functions expect an `Arc<MainTask>` from
    // `into_raw`, whose strong reference the waker now owns.
    unsafe { Waker::from_raw(RawWaker::new(data, &MAIN_WAKER)) }
}

/// # Safety (all main functions)
/// `data` comes from `Arc::<MainTask>::into_raw`, and the waker owns (or
/// borrows) one strong reference.
unsafe fn main_ref<'a>(data: *const ()) -> &'a MainTask {
    // SAFETY: per the contract above.
    unsafe { &*(data as *const MainTask) }
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn main_clone(data: *const ()) -> RawWaker {
    // SAFETY: see `main_ref`.
    unsafe { Arc::increment_strong_count(data as *const MainTask) };
    RawWaker::new(data, &MAIN_WAKER)
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn parked_main_clone(data: *const ()) -> RawWaker {
    // SAFETY: see `main_ref`.
    unsafe { Arc::increment_strong_count(data as *const MainTask) };
    // Relaxed: counted, not published; the detector reads it only once the
    // runtime is quiescent, and confirms what it sees twice.
    // SAFETY: see `main_ref`.
    unsafe { main_ref(data) }.parked.fetch_add(1, Relaxed);
    RawWaker::new(data, &PARKED_MAIN_WAKER)
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn main_wake_by_ref(data: *const ()) {
    // SAFETY: see `main_ref`.
    unsafe { main_ref(data) }.wake();
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn main_wake_by_val(data: *const ()) {
    // SAFETY: see `main_ref`; the waker's strong reference is handed over.
    let main = unsafe { Arc::from_raw(data as *const MainTask) };
    main.wake();
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn parked_main_wake_by_val(data: *const ()) {
    // SAFETY: as above.
    let main = unsafe { Arc::from_raw(data as *const MainTask) };
    // AcqRel: no data rides on it; kept symmetric with the increment's
    // counterpart in `parked_main_drop`.
    main.parked.fetch_sub(1, AcqRel);
    main.wake();
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn main_drop(data: *const ()) {
    // SAFETY: see `main_ref`; the waker's strong reference is given up.
    drop(unsafe { Arc::from_raw(data as *const MainTask) });
}

/// # Safety
/// `data` is an `Arc<MainTask>` from `into_raw` whose strong reference
/// the waker owns (or borrows): see `main_ref`.
unsafe fn parked_main_drop(data: *const ()) {
    // SAFETY: as above.
    let main = unsafe { Arc::from_raw(data as *const MainTask) };
    main.parked.fetch_sub(1, AcqRel);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_waker_is_cloned_as_it_is() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Relaxed);
            }
        }
        let count = Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        let w = Waker::from(count.clone());
        let p = park_waker(&w);
        // (Not `will_wake`: it is best-effort, and Miri's vtables differ.)
        assert_eq!(Arc::strong_count(&count), 3, "a plain clone");
        p.wake();
        assert_eq!(count.0.load(Relaxed), 1);
    }

    #[test]
    fn main_wakers_count_parked_clones() {
        let main = Arc::new(MainTask::new(std::panic::Location::caller()));
        let w = main_waker(&main);
        assert_eq!(Arc::strong_count(&main), 2);
        let p = park_waker(&w);
        let p2 = p.clone();
        assert_eq!(main.parked.load(Relaxed), 2);
        assert_eq!(Arc::strong_count(&main), 4);
        assert!(same_waker(&p, &w) && same_waker(&w, &p2));
        assert!(!p.will_wake(&w), "a different vtable");
        p.wake();
        assert_eq!(main.parked.load(Relaxed), 1);
        assert!(main.take_notified());
        drop(p2);
        assert_eq!(main.parked.load(Relaxed), 0);
        assert_eq!(Arc::strong_count(&main), 2);
        w.wake_by_ref();
        assert!(main.take_notified());
        drop(w);
        assert_eq!(Arc::strong_count(&main), 1);
    }
}
