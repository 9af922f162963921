//! The typed handles to a task cell, each owning one reference in the
//! state word (`state.rs`, invariant 5): `Task` (the owned list's entry, or
//! a plain reference), `Notified` (in a run queue) and `RawTask` (under the
//! `JoinHandle`). They reach the cell only through the header's vtable.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::task::Waker;

use super::raw::Header;
use super::state::Wake;

/// A reference to a task that is not otherwise typed: the owned-list entry.
pub(crate) struct Task {
    pub(super) ptr: NonNull<Header>,
}

// SAFETY: a task's future and output are Send (required by `new_task`), or
// it is a local task whose scheduler polls and drops it on one thread only
// (`new_task_unchecked`'s contract; `local.rs`), and the header is Sync; a
// reference only reaches the future through the vtable's functions, which
// those schedulers call on the right thread. The reference itself may move.
unsafe impl Send for Task {}
// SAFETY: as above; `&Task` only reads the header.
unsafe impl Sync for Task {}

impl Task {
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: this handle holds a reference.
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    pub(crate) fn header_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// Rebuilds a handle from a pointer whose reference was leaked with
    /// [`Task::into_raw`].
    ///
    /// # Safety
    /// `ptr` must come from `into_raw` and be used once.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Task {
        Task { ptr }
    }

    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// Another reference to the same task.
    pub(crate) fn clone_ref(&self) -> Task {
        self.header().state.ref_inc();
        Task { ptr: self.ptr }
    }

    /// Requests cancellation (see [`RawTask::abort`]).
    pub(crate) fn abort(&self) {
        abort(self.ptr)
    }

    /// Cancels the task in place at shutdown, consuming this reference.
    pub(crate) fn shutdown(self) {
        let ptr = self.into_raw();
        // SAFETY: the vtable matches the cell; the reference is handed over.
        unsafe { (ptr.as_ref().vtable.shutdown)(ptr) }
    }
}

impl Drop for Task {
    #[inline]
    fn drop(&mut self) {
        let header = self.header();
        if header.state.ref_dec() {
            // SAFETY: last reference.
            unsafe { (header.vtable.dealloc)(self.ptr) }
        }
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.header().id)
            .finish()
    }
}

/// A task in a run queue: holds the reference that `NOTIFIED` accounts for.
#[derive(Debug)]
pub(crate) struct Notified(pub(super) Task);

impl Notified {
    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }

    /// Runs one poll of the task, consuming this reference, or handing it
    /// back when the task was woken during the poll (or yielded): the
    /// caller then queues it again, at the back of its line.
    #[must_use = "a task handed back must be queued again"]
    #[inline]
    pub(crate) fn run(self) -> Option<Notified> {
        // A named task's polls run in a span with its id and name, made
        // only when some subscriber takes TRACE. An unnamed task pays one
        // load of the header's name and a branch: an unconditional
        // `trace_span!` built, entered and dropped a disabled span on every
        // poll (~17 instructions, 6% of `yield_many`), and checking tracing's
        // level filter on every poll still cost ~7 (1.8%; perf-log,
        // 2026-12-07).
        if self.header().name.is_some()
            && tracing::level_filters::LevelFilter::current() >= tracing::Level::TRACE
        {
            return self.run_traced();
        }
        self.run_untraced()
    }

    #[cold]
    #[inline(never)]
    fn run_traced(self) -> Option<Notified> {
        // The span copies what it records: it refers to nothing in the
        // cell, which the poll may free.
        let header = self.header();
        let _span = tracing::trace_span!(
            "poll",
            task.id = header.id.0,
            task.name = header.name.as_deref()
        )
        .entered();
        self.run_untraced()
    }

    #[inline(always)]
    fn run_untraced(self) -> Option<Notified> {
        let ptr = self.0.into_raw();
        // SAFETY: the vtable matches the cell; the reference is handed over,
        // and handed back when `poll` says so.
        if unsafe { (ptr.as_ref().vtable.poll)(ptr) } {
            Some(Notified(Task { ptr }))
        } else {
            None
        }
    }

    /// Runs the task until a poll leaves it idle or done, on the calling
    /// thread: for callers with no queue of their own to put it back in.
    pub(crate) fn run_to_rest(self) {
        let mut task = self;
        while let Some(again) = task.run() {
            task = again;
        }
    }

    pub(crate) fn into_raw(self) -> NonNull<Header> {
        self.0.into_raw()
    }

    /// Cancels the task without polling it, consuming this reference: the
    /// future is dropped in place unless a poller holds `RUNNING`. For a
    /// queue's reference to a task in no owned list (an offload job).
    pub(crate) fn shutdown(self) {
        self.0.shutdown();
    }

    /// # Safety
    /// `ptr` must come from [`Notified::into_raw`] and be used once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(Task { ptr })
    }
}

/// The join handle's untyped reference.
pub(crate) struct RawTask {
    pub(super) ptr: NonNull<Header>,
}

// SAFETY: see `Task`.
unsafe impl Send for RawTask {}
// SAFETY: see `Task`.
unsafe impl Sync for RawTask {}

impl RawTask {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: this handle holds a reference.
        unsafe { self.ptr.as_ref() }
    }

    /// # Safety
    /// `dst` must point to a `Poll<Result<T, JoinError>>` where `T` is the
    /// task's output type.
    pub(crate) unsafe fn try_read_output(&self, dst: *mut (), waker: &Waker) {
        // SAFETY: per the contract.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// Requests cancellation: an idle task is queued so that its scheduler
    /// drops the future (never in place: a local task's future may only be
    /// dropped on its own thread); a running one is cancelled when its poll
    /// ends.
    pub(crate) fn abort(&self) {
        abort(self.ptr)
    }

    /// A plain reference to the task (for an `AbortHandle`).
    pub(crate) fn to_task(&self) -> Task {
        self.header().state.ref_inc();
        Task { ptr: self.ptr }
    }

    /// The join handshake without reading the output: stores `waker` to be
    /// woken when the task completes; true if it already has.
    pub(crate) fn register_join_waker(&self, waker: &Waker) -> bool {
        // SAFETY: this is the JoinHandle's reference; the vtable matches.
        unsafe { (self.header().vtable.register_join_waker)(self.ptr, waker) }
    }

    /// Gives up the join interest and the reference.
    pub(crate) fn drop_join_handle(self) {
        let ptr = self.ptr;
        // SAFETY: the vtable matches the cell; the reference is handed over.
        unsafe { (ptr.as_ref().vtable.drop_join_handle_slow)(ptr) }
    }
}

fn abort(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.cancel() == Wake::Schedule {
        // SAFETY: `cancel` took the reference the queue will own; the
        // caller's keeps the cell alive through the call.
        unsafe { Header::schedule(ptr, false) }
    }
}

/// Marker so the typed JoinHandle can carry its output type.
pub(crate) type OutputMarker<T> = PhantomData<fn() -> T>;
