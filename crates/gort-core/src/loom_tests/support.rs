//! A scheduler that only queues, for models that drive tasks by hand.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};

use crate::task::{Notified, Schedule, Task};

#[derive(Default)]
pub(super) struct Queue {
    q: Mutex<VecDeque<Notified>>,
}

impl Queue {
    pub(super) fn pop(&self) -> Option<Notified> {
        self.q.lock().unwrap().pop_front()
    }

    /// Polls every queued task until the queue is empty.
    pub(super) fn drain(&self) {
        while let Some(t) = self.pop() {
            if let Some(t) = t.run() {
                self.q.lock().unwrap().push_back(t);
            }
        }
    }
}

impl Schedule for std::sync::Arc<Queue> {
    unsafe fn schedule(this: *const Self, task: Notified, _yielded: bool) {
        // SAFETY: `task` is not published yet: the cell holding `*this` is
        // alive. The clone outlives the push.
        let q = unsafe { (*this).clone() };
        q.q.lock().unwrap().push_back(task);
    }

    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

/// A scheduler that queues, like `Queue`, and acts after the push as the
/// runtime's does (`Shared::inject` reads its shutdown flag and calls
/// `wakep`). `alive` is cleared when the cell holding this value is freed.
/// With `reads_cell_after_push` it asserts, after the push, that the cell is
/// still alive, standing for a read of `*this` there (the old order of
/// `Shared::inject`); the assertion reads a clone of `alive` taken before
/// the push, so the model itself reads no freed memory.
pub(super) struct Tracked {
    pub(super) q: std::sync::Arc<Queue>,
    pub(super) alive: Arc<AtomicUsize>,
    pub(super) pushes: Arc<AtomicUsize>,
    pub(super) reads_cell_after_push: bool,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.alive.store(0, SeqCst);
    }
}

impl Schedule for Tracked {
    unsafe fn schedule(this: *const Self, task: Notified, _yielded: bool) {
        // SAFETY: `task` is not published yet: the cell is alive. What is
        // used after the push is cloned here.
        let (q, alive, pushes, reads) = unsafe {
            (
                (*this).q.clone(),
                (*this).alive.clone(),
                (*this).pushes.clone(),
                (*this).reads_cell_after_push,
            )
        };
        q.q.lock().unwrap().push_back(task);
        pushes.fetch_add(1, SeqCst);
        if reads {
            assert_eq!(
                alive.load(SeqCst),
                1,
                "the task cell (and the scheduler in it) was freed during schedule"
            );
        }
    }

    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

/// A future that is pending until `wakes` wake-ups were delivered through
/// the waker it stored, then yields `out`.
pub(super) struct Gate {
    pub(super) slot: Arc<Mutex<Option<Waker>>>,
    pub(super) open: Arc<AtomicUsize>,
    pub(super) out: Counted,
}

impl Future for Gate {
    type Output = Counted;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Counted> {
        if self.open.load(SeqCst) > 0 {
            return Poll::Ready(std::mem::replace(&mut self.out, Counted::none()));
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        if self.open.load(SeqCst) > 0 {
            return Poll::Ready(std::mem::replace(&mut self.out, Counted::none()));
        }
        Poll::Pending
    }
}

/// A value that counts its drops, to check an output is dropped exactly once.
pub(super) struct Counted(pub(super) Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>);

impl Counted {
    pub(super) fn none() -> Counted {
        Counted(None)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// A waker that counts its wake-ups.
pub(super) fn counting_waker() -> (Waker, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    struct W(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl std::task::Wake for W {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let c = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    (Waker::from(std::sync::Arc::new(W(c.clone()))), c)
}
