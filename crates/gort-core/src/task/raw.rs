//! The task cell: one heap allocation per task holding its header, its
//! scheduler handle, its future (later its output) and the join waker.
//!
//! Everything that touches the cell through a raw pointer lives in this file
//! and in `waker.rs` (the wakers, which reach the typed functions through
//! the header's vtable). Outside them, a task is seen through typed handles that each own one
//! reference in the state word: [`Notified`] (in a run queue), [`Task`] (in
//! the owned list, or a plain reference) and the `JoinHandle`.
//!
//! The cell is `#[repr(C)]` with the [`Header`] first, so a `NonNull<Header>`
//! is also a pointer to the cell; the header's vtable, generated for the
//! concrete future and scheduler types, gets back to them.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::state::{AfterPoll, StartPoll, State, Wake};
use super::waker::{borrowed_task_waker, park_waker, same_waker};
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
    poll: unsafe fn(NonNull<Header>) -> bool,
    schedule: unsafe fn(NonNull<Header>, bool),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle_slow: unsafe fn(NonNull<Header>),
    shutdown: unsafe fn(NonNull<Header>),
}

/// The part of a task every handle can read without knowing its types.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
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
}

// SAFETY: the header's non-Sync fields are the owned-list links, which are
// only accessed under the owned list's shard mutex (see `owned.rs`).
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    /// The wait reason and the coarse time (ms) it was set at.
    pub(crate) fn wait_reason(&self) -> (WaitReason, u64) {
        super::current::decode(self.wait_reason.load(Relaxed))
    }

    /// `Waker::wake_by_ref` of a task waker.
    ///
    /// # Safety
    /// `ptr` is a live task's header and the caller holds a reference to it
    /// until this returns.
    pub(crate) unsafe fn wake_by_ref(ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let header = unsafe { ptr.as_ref() };
        if header.state.wake() == Wake::Schedule {
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
    pub(crate) unsafe fn schedule(ptr: NonNull<Header>, yielded: bool) {
        // SAFETY: per the contract; the vtable matches the cell.
        unsafe { (ptr.as_ref().vtable.schedule)(ptr, yielded) }
    }

    /// Drops one reference, freeing the cell if it was the last.
    ///
    /// # Safety
    /// `ptr` is a live task's header and the caller gives up a reference.
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
    pub(crate) unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: per the contract; the vtable matches the cell.
        unsafe { (ptr.as_ref().vtable.dealloc)(ptr) }
    }
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    /// The future, then its output. Accessed by the thread holding `RUNNING`,
    /// or by the `JoinHandle` after it observed `COMPLETE`, or by the last
    /// reference in `dealloc`.
    stage: UnsafeCell<Stage<F>>,
    /// See invariant 4 in `state.rs`.
    join_waker: UnsafeCell<Option<Waker>>,
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
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(3),
            vtable: vtable::<F, S>(),
            owned_prev: UnsafeCell::new(None),
            owned_next: UnsafeCell::new(None),
            id,
            spawned_at,
            wait_reason: std::sync::atomic::AtomicU64::new(0),
            runnable_since: std::sync::atomic::AtomicU64::new(0),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    });
    // SAFETY: Box::into_raw never returns null; the cell is repr(C) with the
    // header first, so the cast is a pointer to the header.
    let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(cell) as *mut Header) };
    (Task { ptr }, Notified(Task { ptr }), RawTask { ptr })
}

fn vtable<F: Future + Send + 'static, S: Schedule>() -> &'static Vtable
where
    F::Output: Send + 'static,
{
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle_slow: drop_join_handle_slow::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// # Safety
/// `ptr` must point to a live `Cell<F, S>` (the vtable guarantees the types).
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: per the function contract; the cell lives while a reference
    // is held, and the caller holds one.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Polls the task. The caller hands over one reference (a `Notified`);
/// returns true when it hands it back, the task woken during the poll and
/// to be queued again.
unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.start_poll() {
        StartPoll::Skip => {
            drop_reference::<F, S>(ptr);
            return false;
        }
        StartPoll::Cancel => {
            cancel_and_complete::<F, S>(ptr);
            return false;
        }
        StartPoll::Poll => {}
    }
    // SAFETY: the waker borrows the running reference for the duration of
    // the poll; ManuallyDrop keeps it from decrementing on drop, and clones
    // take references of their own.
    let waker = ManuallyDrop::new(unsafe { borrowed_task_waker(ptr) });
    let mut cx = Context::from_waker(&waker);
    // The wait reason is this task's for the length of the future's poll,
    // and no longer: the cell may be freed once the poll is over.
    let polling = super::current::enter(&cell.header.wait_reason);
    let res = panic::catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: we hold RUNNING, so we are the only one touching the
            // stage.
            match unsafe { &mut *stage } {
                // SAFETY: the future is pinned: the cell is never moved
                // while the future lives (it is freed in place).
                Stage::Running(fut) => unsafe { Pin::new_unchecked(fut) }.poll(&mut cx),
                _ => unreachable!("a running task's stage holds its future"),
            }
        })
    }));
    drop(polling);
    match res {
        Ok(Poll::Pending) => match cell.header.state.after_pending() {
            AfterPoll::Idle => drop_reference::<F, S>(ptr),
            // The running reference goes back to the caller, which queues
            // it through a scheduler handle of its own: nothing borrows
            // the cell while another thread may be freeing it.
            AfterPoll::Reschedule => return true,
            AfterPoll::Cancel => cancel_and_complete::<F, S>(ptr),
        },
        Ok(Poll::Ready(out)) => {
            // SAFETY: RUNNING held.
            unsafe { set_stage::<F, S>(cell, Stage::Finished(Ok(out))) };
            complete::<F, S>(ptr);
        }
        Err(payload) => {
            // SAFETY: RUNNING held. Dropping the panicked future may panic in
            // turn; that second payload is dropped.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                set_stage::<F, S>(cell, Stage::Consumed)
            }));
            // SAFETY: RUNNING held.
            unsafe {
                set_stage::<F, S>(
                    cell,
                    Stage::Finished(Err(JoinError::panic(cell.header.id, payload))),
                )
            };
            complete::<F, S>(ptr);
        }
    }
    false
}

/// # Safety
/// The caller holds `RUNNING` (or is the last reference).
unsafe fn set_stage<F: Future, S>(cell: &Cell<F, S>, stage: Stage<F>) {
    // SAFETY: exclusive access per the contract. The old stage is dropped
    // here, possibly running the future's destructor.
    cell.stage.with_mut(|s| unsafe { *s = stage });
}

/// Drops the future (catching a panicking destructor), stores the
/// cancellation error and completes. The caller holds `RUNNING` and hands
/// over one reference.
fn cancel_and_complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let id = cell.header.id;
    // SAFETY: RUNNING held.
    let res = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        set_stage::<F, S>(cell, Stage::Consumed)
    }));
    let err = match res {
        Ok(()) => JoinError::cancelled(id),
        Err(payload) => JoinError::panic(id, payload),
    };
    // SAFETY: RUNNING held.
    unsafe { set_stage::<F, S>(cell, Stage::Finished(Err(err))) };
    complete::<F, S>(ptr);
}

/// Sets `COMPLETE`, hands the output to the join handle (or drops it), and
/// releases the task from the owned list. Consumes the caller's reference.
fn complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // Leave the owned list first, so that once a JoinHandle sees COMPLETE
    // the task no longer counts as live (`num_goroutines`, the dump). We
    // still hold RUNNING, and shutdown only drains the list once every M
    // has stopped, so nothing else can be completing this task.
    let task = Task { ptr };
    let released = cell.scheduler.release(&task);
    std::mem::forget(task);
    let refs = if released.is_some() { 2 } else { 1 };
    if let Some(t) = released {
        std::mem::forget(t);
    }
    let prev = cell.header.state.complete();
    if !prev.is_join_interested() {
        // Nobody will read the output: drop it here. We still own the stage:
        // the JoinHandle is gone and COMPLETE keeps pollers away.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            // SAFETY: see above.
            set_stage::<F, S>(cell, Stage::Consumed)
        }));
    } else if prev.is_join_waker_set() {
        cell.join_waker.with(|w| {
            // SAFETY: invariant 4: JOIN_WAKER was set when COMPLETE was
            // set, so the JoinHandle will not write the slot again.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
    }
    if cell.header.state.ref_dec_n(refs) {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

fn drop_reference<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// # Safety
/// No reference to the cell remains.
unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the cell came from Box::into_raw in `new_task` with these types.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // A future or output whose destructor panics must not unwind into a
    // waker's drop or a queue: catch and discard.
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>, yielded: bool) {
    // A pointer to the handle, not a reference: the call may free the cell
    // (invariant 7).
    let cell = ptr.cast::<Cell<F, S>>().as_ptr();
    // SAFETY: the caller's reference (handed to the queue below) keeps the
    // cell alive until it is published; `addr_of!` makes no reference.
    let scheduler = unsafe { std::ptr::addr_of!((*cell).scheduler) };
    // SAFETY: per `Schedule::schedule`'s contract, which `S` upholds.
    unsafe { S::schedule(scheduler, Notified(Task { ptr }), yielded) };
}

/// `JoinHandle::poll`: if complete, moves the output into `*dst`
/// (a `Poll<Result<F::Output, JoinError>>`); otherwise registers `waker`.
unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if can_read_output(&cell.header, &cell.join_waker, waker) {
        // SAFETY: COMPLETE observed with JOIN_INTEREST held: the stage is
        // ours (invariant 3 and the completer's Release on the state word).
        let stage = cell
            .stage
            .with_mut(|s| unsafe { std::mem::replace(&mut *s, Stage::Consumed) });
        let out = match stage {
            Stage::Finished(out) => out,
            _ => panic!("JoinHandle polled after completion"),
        };
        // SAFETY: the JoinHandle passes a pointer to its output slot of the
        // right type.
        unsafe { *(dst as *mut Poll<Result<F::Output, JoinError>>) = Poll::Ready(out) };
    }
}

/// The join waker handshake (invariant 4). Returns true when the output can
/// be read.
fn can_read_output(header: &Header, slot: &UnsafeCell<Option<Waker>>, waker: &Waker) -> bool {
    let snap = header.state.load();
    if snap.is_complete() {
        return true;
    }
    if snap.is_join_waker_set() {
        let same = slot.with(|w| {
            // SAFETY: JOIN_WAKER set and not complete: the completer only
            // reads the slot, so a shared read is fine.
            unsafe { &*w }
                .as_ref()
                .is_some_and(|w| same_waker(w, waker))
        });
        if same {
            return false;
        }
        if header.state.unset_join_waker().is_err() {
            return true;
        }
    }
    // Parked: the joined task's completion is gort's to deliver.
    // SAFETY: JOIN_WAKER clear and not complete: the slot is ours alone.
    slot.with_mut(|w| unsafe { *w = Some(park_waker(waker)) });
    header.state.set_join_waker().is_err()
}

unsafe fn drop_join_handle_slow<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let prev = cell.header.state.drop_join_interest();
    if prev.is_complete() {
        // The completer left the output for us: drop it.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            // SAFETY: COMPLETE observed while we held JOIN_INTEREST.
            set_stage::<F, S>(cell, Stage::Consumed)
        }));
    }
    drop_reference::<F, S>(ptr);
}

/// Runtime shutdown: drops the future in place if no one is running it.
/// Consumes the caller's reference (the owned list's).
unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.shutdown() {
        // `complete` will try to release from the owned list, which the
        // caller already did: the list no longer holds a reference, so the
        // caller's one is the one `cancel_and_complete` consumes.
        cancel_and_complete::<F, S>(ptr);
    } else {
        drop_reference::<F, S>(ptr);
    }
}

/// A reference to a task that is not otherwise typed: the owned-list entry.
pub(crate) struct Task {
    ptr: NonNull<Header>,
}

// SAFETY: a task's future and output are Send (required by `new_task`), and
// the header is Sync; the reference may move between threads.
unsafe impl Send for Task {}
// SAFETY: as above; `&Task` only reads the header.
unsafe impl Sync for Task {}

impl Task {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: this handle holds a reference.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn header_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// Rebuilds a handle from a pointer whose reference was leaked with
    /// [`Task::into_raw`].
    ///
    /// # Safety
    /// `ptr` must come from `into_raw` and be used once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Task {
        Task { ptr }
    }

    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// Cancels the task in place at shutdown, consuming this reference.
    pub(crate) fn shutdown(self) {
        let ptr = self.into_raw();
        // SAFETY: the vtable matches the cell; the reference is handed over.
        unsafe { (ptr.as_ref().vtable.shutdown)(ptr) }
    }
}

impl Drop for Task {
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
pub(crate) struct Notified(Task);

impl Notified {
    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }

    /// Runs one poll of the task, consuming this reference, or handing it
    /// back when the task was woken during the poll (or yielded): the
    /// caller then queues it again, at the back of its line.
    #[must_use = "a task handed back must be queued again"]
    pub(crate) fn run(self) -> Option<Notified> {
        let ptr = self.0.into_raw();
        // SAFETY: the vtable matches the cell; the reference is handed over,
        // and handed back when `poll` says so.
        unsafe { (ptr.as_ref().vtable.poll)(ptr) }.then(|| Notified(Task { ptr }))
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
    ptr: NonNull<Header>,
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

    /// Requests cancellation.
    pub(crate) fn abort(&self) {
        if self.header().state.cancel() == Wake::Schedule {
            // SAFETY: `cancel` took the reference the queue will own.
            unsafe { (self.header().vtable.schedule)(self.ptr, false) }
        }
    }

    /// Gives up the join interest and the reference.
    pub(crate) fn drop_join_handle(self) {
        let ptr = self.ptr;
        // SAFETY: the vtable matches the cell; the reference is handed over.
        unsafe { (ptr.as_ref().vtable.drop_join_handle_slow)(ptr) }
    }
}

/// Marker so the typed JoinHandle can carry its output type.
pub(crate) type OutputMarker<T> = PhantomData<fn() -> T>;

#[allow(dead_code)]
fn _assert_any_send(_: Box<dyn Any + Send>) {}
