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
            t.run();
        }
    }
}

impl Schedule for std::sync::Arc<Queue> {
    fn schedule(&self, task: Notified, _yielded: bool) {
        self.q.lock().unwrap().push_back(task);
    }

    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

/// A scheduler that queues, like `Queue`, and checks that the task cell it
/// lives in outlives every `schedule` call (state.rs invariant 7): after the
/// push, whoever pops the task may run it to completion and drop the last
/// reference it holds, which drops this value and clears `alive`. The check
/// reads a clone of `alive` taken before the push, never `self` after it.
pub(super) struct Tracked {
    pub(super) q: std::sync::Arc<Queue>,
    pub(super) alive: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.alive.store(0, SeqCst);
    }
}

impl Schedule for Tracked {
    fn schedule(&self, task: Notified, _yielded: bool) {
        let alive = self.alive.clone();
        self.q.q.lock().unwrap().push_back(task);
        assert_eq!(
            alive.load(SeqCst),
            1,
            "the task cell (and the scheduler in it) was freed during schedule"
        );
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
