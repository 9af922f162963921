//! The vtable's typed functions: what a task does when it is polled,
//! completes, is joined, cancelled or shut down, for one concrete future
//! and scheduler type (`raw.rs` builds the vtable from them). Each takes the
//! header pointer and the reference its caller hands over.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::raw::{cell, Cell, Header, Schedule, Stage};
use super::refs::{Notified, Task};
use super::state::{AfterPoll, StartPoll};
use super::waker::{borrowed_task_waker, park_waker, same_waker};
use super::JoinError;
use crate::loom::UnsafeCell;

/// Polls the task. The caller hands over one reference (a `Notified`);
/// returns true when it hands it back, the task woken during the poll and
/// to be queued again.
///
/// # Safety
/// `ptr` is the header of a live `Cell<F, S>`; the caller hands over one
/// reference (a `Notified`'s), which comes back when this returns true.
pub(super) unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) -> bool {
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
            AfterPoll::Idle => {
                // Read while the poller's reference keeps the cell alive;
                // the dump's words ("waiting" when no reason was set).
                crate::exectrace::park(cell.header.id.0, || match cell.header.wait_reason().0 {
                    super::WaitReason::None => "waiting",
                    r => r.as_str(),
                });
                drop_reference::<F, S>(ptr)
            }
            // The running reference goes back to the caller, which queues
            // it through a scheduler handle of its own: nothing borrows
            // the cell while another thread may be freeing it.
            AfterPoll::Reschedule => return true,
            AfterPoll::Cancel => cancel_and_complete::<F, S>(ptr),
        },
        Ok(Poll::Ready(out)) => {
            // Dropping the finished future runs its destructor, user code
            // that may panic: caught here, or it would unwind into the
            // worker. As in tokio, such a panic is the task's: the handle
            // gets it, and the output is dropped (a second panic from that
            // drop is discarded).
            // SAFETY: RUNNING held.
            let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                set_stage::<F, S>(cell, Stage::Consumed)
            }));
            let res = match dropped {
                Ok(()) => Ok(out),
                Err(payload) => {
                    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(out)));
                    Err(JoinError::panic(cell.header.id, payload))
                }
            };
            // SAFETY: RUNNING held.
            unsafe { set_stage::<F, S>(cell, Stage::Finished(res)) };
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
#[inline]
pub(super) unsafe fn set_stage<F: Future, S>(cell: &Cell<F, S>, stage: Stage<F>) {
    // SAFETY: exclusive access per the contract. The old stage is dropped
    // here, possibly running the future's destructor.
    cell.stage.with_mut(|s| unsafe { *s = stage });
}

/// Drops the future (catching a panicking destructor), stores the
/// cancellation error and completes. The caller holds `RUNNING` and hands
/// over one reference.
pub(super) fn cancel_and_complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
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
#[inline]
pub(super) fn complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // Leave the owned list first, so that once a JoinHandle sees COMPLETE
    // the task no longer counts as live (`num_goroutines`, the dump). We
    // still hold RUNNING, so nothing else can be completing this task: a
    // shutdown draining the list meanwhile only marks it CANCELLED
    // (`State::shutdown`), and `release` returns `None` once it has taken
    // the list's reference.
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

#[inline]
pub(super) fn drop_reference<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

/// # Safety
/// No reference to the cell remains.
pub(super) unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F, S>>();
    // A future or output whose destructor panics must not unwind into a
    // waker's drop or a queue: catch and discard.
    // SAFETY: the cell was written by `new_task_unchecked` with these
    // types, and this is its last reference: nothing reads it after.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        std::ptr::drop_in_place(cell.as_ptr())
    }));
    // SAFETY: `new_task_unchecked` took this memory from `cells::alloc`
    // with `Cell<F, S>`'s layout; its contents are dropped (or, after a
    // panicking destructor, abandoned, as a `Box`'s would be).
    unsafe { super::cells::dealloc(cell.cast(), std::alloc::Layout::new::<Cell<F, S>>()) };
}

/// # Safety
/// As [`Header::schedule`]: `ptr` is the header of a live `Cell<F, S>`,
/// and the caller hands this call the queue's reference.
#[inline]
pub(super) unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>, yielded: bool) {
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
///
/// # Safety
/// `ptr` is the header of a live `Cell<F, S>` whose `JoinHandle` the
/// caller is (holding its reference), and `dst` points to a
/// `Poll<Result<F::Output, JoinError>>`.
pub(super) unsafe fn try_read_output<F: Future, S>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
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

/// `JoinSet`'s registration: the join handshake of [`try_read_output`]
/// without taking the output. Returns true when the task is complete (the
/// output can be read now, and `waker` may not have been stored).
///
/// # Safety
/// As [`try_read_output`]: the caller is the task's `JoinHandle`.
pub(super) unsafe fn register_join_waker<F: Future, S>(
    ptr: NonNull<Header>,
    waker: &Waker,
) -> bool {
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    can_read_output(&cell.header, &cell.join_waker, waker)
}

/// The join waker handshake (invariant 4). Returns true when the output can
/// be read.
pub(super) fn can_read_output(
    header: &Header,
    slot: &UnsafeCell<Option<Waker>>,
    waker: &Waker,
) -> bool {
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

/// # Safety
/// `ptr` is the header of a live `Cell<F, S>`; the caller is its
/// `JoinHandle`, and gives up its interest and its reference.
pub(super) unsafe fn drop_join_handle_slow<F: Future, S>(ptr: NonNull<Header>) {
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
///
/// # Safety
/// `ptr` is the header of a live `Cell<F, S>`; the caller hands over one
/// reference (the owned list's, or a queue's for an offload job).
pub(super) unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
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
