//! The task cell: one heap allocation per task holding its header, its
//! scheduler handle, its future (later its output) and the join waker.
//!
//! The cell is `#[repr(C)]` with the [`Header`] first, so a `NonNull<Header>`
//! is also a pointer to the cell; the header's vtable, generated for the
//! concrete future and scheduler types, gets back to them.
//!
//! Its memory comes from `cells.rs` (recycled per size class and per
//! thread, as Go recycles dead Gs) and goes back there in
//! `harness::dealloc`, always with the cell type's own layout.
//!
//! Everything that touches the cell through a raw pointer lives in four
//! files, which import each other (one protocol): this one (the layout and
//! the header), `harness.rs` (the vtable's typed functions: poll, complete,
//! the join handshake, shutdown), `refs.rs` (the typed handles that each
//! own one reference in the state word: `Notified` in a run queue, `Task`
//! in the owned list, `RawTask` under the `JoinHandle`) and `waker.rs` (the
//! wakers, which reach the typed functions through the header's vtable).

use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;
use std::task::Waker;

use super::harness;
use super::refs::{Notified, RawTask, Task};
use super::state::{State, Wake};
use super::{Id, JoinError, WaitReason};
use crate::loom::{Ordering::Relaxed, UnsafeCell};

/// What a task needs from the runtime that runs it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Puts a notified task in a run queue. `yielded` is true when the task
    /// asked to go to the back of the line (`yield_now`) rather than being
    /// woken by another task.
    ///
    /// # Safety
    ///
    /// `this` points to the scheduler handle inside `task`'s cell, and
    /// `task` may be the last reference to that cell: once it is published
    /// to a queue, another thread may run the task to completion and free
    /// the cell, `*this` with it. So an implementation reads `*this` only
    /// before it publishes `task`, and acts after through a handle of its
    /// own (state.rs invariant 7). A raw pointer, not `&self`: a reference
    /// argument would stay live, and protected, for the whole call.
    unsafe fn schedule(this: *const Self, task: Notified, yielded: bool);
    /// Removes a completed task from the owned list, returning the list's
    /// reference if it held one.
    fn release(&self, task: &Task) -> Option<Task>;
}

/// Per-type functions reached through the header.
pub(crate) struct Vtable {
    /// Returns true when the task must be queued again: the caller's
    /// reference was handed back, not consumed.
    pub(super) poll: unsafe fn(NonNull<Header>) -> bool,
    pub(super) schedule: unsafe fn(NonNull<Header>, bool),
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    pub(super) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    pub(super) drop_join_handle_slow: unsafe fn(NonNull<Header>),
    pub(super) shutdown: unsafe fn(NonNull<Header>),
    /// The join handshake without reading the output: registers the waker
    /// (true: the task is already complete).
    pub(super) register_join_waker: unsafe fn(NonNull<Header>, &Waker) -> bool,
}

/// The part of a task every handle can read without knowing its types.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(super) vtable: &'static Vtable,
    /// Links of the owned list; guarded by the list shard's mutex.
    pub(crate) owned_prev: UnsafeCell<Option<NonNull<Header>>>,
    pub(crate) owned_next: UnsafeCell<Option<NonNull<Header>>>,
    pub(crate) id: Id,
    pub(crate) spawned_at: &'static Location<'static>,
    /// A [`WaitReason`] in the low byte and, above it, the coarse clock
    /// when it was set (`current.rs`); written by the task itself when it
    /// parks on a gort primitive, read by the goroutine dump. Relaxed:
    /// diagnostic. A std atomic even under loom, like `runnable_since`.
    pub(crate) wait_reason: std::sync::atomic::AtomicU64,
    /// When a sampled wake-up made the task runnable (`time::now_nanos`),
    /// or 0: read and cleared by the M that polls it next
    /// (`sched/latency.rs`). Relaxed: the run queue's hand-over orders it.
    /// A std atomic even under loom: a diagnostic the models need not
    /// explore.
    pub(crate) runnable_since: std::sync::atomic::AtomicU64,
    /// The name given by `task::Builder::name`, shown by the dump and in
    /// the poll's tracing span. Written before the task is published, then
    /// only read.
    pub(crate) name: Option<Box<str>>,
}

// SAFETY: the header's non-Sync fields are the owned-list links, which are
// only accessed under the owned list's shard mutex (see `owned.rs`).
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    /// The wait reason and the coarse time (ms) it was set at.
    #[inline]
    pub(crate) fn wait_reason(&self) -> (WaitReason, u64) {
        super::current::decode(self.wait_reason.load(Relaxed))
    }

    /// `Waker::wake_by_ref` of a task waker.
    ///
    /// # Safety
    /// `ptr` is a live task's header and the caller holds a reference to it
    /// until this returns.
    #[inline]
    pub(crate) unsafe fn wake_by_ref(ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let header = unsafe { ptr.as_ref() };
        if header.state.wake() == Wake::Schedule {
            crate::exectrace::wake(header.id.0);
            // SAFETY: `wake` took the new reference the queue will own; the
            // caller's keeps the cell alive through the call.
            unsafe { Header::schedule(ptr, false) };
        }
    }

    /// Hands a queue reference (taken by a transition, or a waker's handed
    /// over) to the task's scheduler.
    ///
    /// # Safety
    /// `ptr` is a live task's header and the caller gives this call the
    /// queue's reference. Unless it holds another, the caller does not
    /// touch the cell after the call, which may free it (invariant 7).
    #[inline]
    pub(crate) unsafe fn schedule(ptr: NonNull<Header>, yielded: bool) {
        // SAFETY: per the contract; the vtable matches the cell.
        unsafe { (ptr.as_ref().vtable.schedule)(ptr, yielded) }
    }

    /// Drops one reference, freeing the cell if it was the last.
    ///
    /// # Safety
    /// `ptr` is a live task's header and the caller gives up a reference.
    #[inline]
    pub(crate) unsafe fn drop_ref(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the cell alive until the
        // decrement; nothing touches it after, unless that was the last.
        if unsafe { ptr.as_ref() }.state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { Header::dealloc(ptr) }
        }
    }

    /// Frees the cell.
    ///
    /// # Safety
    /// No reference to the task remains.
    #[inline]
    pub(crate) unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: per the contract; the vtable matches the cell.
        unsafe { (ptr.as_ref().vtable.dealloc)(ptr) }
    }
}

pub(super) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
pub(super) struct Cell<F: Future, S> {
    pub(super) header: Header,
    pub(super) scheduler: S,
    /// The future, then its output. Accessed by the thread holding `RUNNING`,
    /// or by the `JoinHandle` after it observed `COMPLETE`, or by the last
    /// reference in `dealloc`.
    pub(super) stage: UnsafeCell<Stage<F>>,
    /// See invariant 4 in `state.rs`.
    pub(super) join_waker: UnsafeCell<Option<Waker>>,
}

/// Allocates a task. Returns the three handles its three initial references
/// belong to: the owned-list entry, the run-queue entry and the join handle's
/// raw pointer.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    spawned_at: &'static Location<'static>,
) -> (Task, Notified, RawTask)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the future and its output are Send, so the task may be
    // polled, dropped and joined on any thread.
    unsafe { new_task_unchecked(future, scheduler, id, spawned_at, None) }
}

/// [`new_task`] with a name and without the `Send` bounds: for named tasks
/// and for the local tasks of a `LocalSet`.
///
/// # Safety
///
/// Unless `F` and `F::Output` are `Send`, the caller guarantees that the
/// future is polled and dropped only on one thread (the scheduler `S` only
/// ever runs it there, and drops it there at shutdown), and that the output
/// is read or dropped off that thread only through a `JoinHandle<T>`, which
/// is `Send` only when `T` is.
pub(crate) unsafe fn new_task_unchecked<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    spawned_at: &'static Location<'static>,
    name: Option<Box<str>>,
) -> (Task, Notified, RawTask)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let layout = std::alloc::Layout::new::<Cell<F, S>>();
    let mem = super::cells::alloc(layout).cast::<Cell<F, S>>();
    let cell = Cell {
        header: Header {
            state: State::new(3),
            vtable: vtable::<F, S>(),
            owned_prev: UnsafeCell::new(None),
            owned_next: UnsafeCell::new(None),
            id,
            spawned_at,
            wait_reason: std::sync::atomic::AtomicU64::new(0),
            runnable_since: std::sync::atomic::AtomicU64::new(0),
            name,
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    };
    // SAFETY: `mem` is fresh memory of `Cell<F, S>`'s layout (`cells.rs`:
    // a block of its size class, at least as large and as aligned), ours
    // alone; `harness::dealloc` drops the cell and frees it with the same
    // layout.
    unsafe { mem.as_ptr().write(cell) };
    // The cell is repr(C) with the header first, so the cast is a pointer
    // to the header.
    let ptr = mem.cast::<Header>();
    (Task { ptr }, Notified(Task { ptr }), RawTask { ptr })
}

fn vtable<F: Future + 'static, S: Schedule>() -> &'static Vtable
where
    F::Output: 'static,
{
    &Vtable {
        poll: harness::poll::<F, S>,
        schedule: harness::schedule::<F, S>,
        dealloc: harness::dealloc::<F, S>,
        try_read_output: harness::try_read_output::<F, S>,
        drop_join_handle_slow: harness::drop_join_handle_slow::<F, S>,
        shutdown: harness::shutdown::<F, S>,
        register_join_waker: harness::register_join_waker::<F, S>,
    }
}

/// # Safety
/// `ptr` must point to a live `Cell<F, S>` (the vtable guarantees the types).
#[inline]
pub(super) unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: per the function contract; the cell lives while a reference
    // is held, and the caller holds one.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}
