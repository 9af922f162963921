//! Go's memory model, gort-core's two rules: a task's completion happens
//! before its awaited `JoinHandle` returns (Go has no join handle; the
//! nearest is a channel the goroutine sends on as it ends), and the spawn
//! call happens before the task's first poll starts (Go: "The go statement
//! that starts a new goroutine is synchronized before the start of the
//! goroutine's execution"). `docs/semantics.md`, "Memory model", lists
//! every rule and its model.
//!
//! The pattern of gort-sync's `loom_tests_memory.rs`: one side writes a
//! plain value (a loom `UnsafeCell`) before the operation, the other reads
//! it after the matching one; loom reports the read as a data race unless
//! a happens-before edge orders the two.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::deque::{Injector, Worker as Deque};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use super::support::{counting_waker, Queue};
use crate::sched::p::P;
use crate::task::{new_task, Id, JoinHandle};

/// A plain value shared on purpose: loom checks at every access that the
/// operation under test ordered it, and fails the model where it did not.
struct Plain(UnsafeCell<u32>);

// SAFETY: see the type's doc: a racing access fails the model before it
// runs.
unsafe impl Sync for Plain {}
// SAFETY: as above; a `u32` may move between threads.
unsafe impl Send for Plain {}

impl Plain {
    fn new() -> Arc<Plain> {
        Arc::new(Plain(UnsafeCell::new(0)))
    }

    fn write(&self, v: u32) {
        // SAFETY: see the `Sync` impl: loom rejects an unordered access.
        self.0.with_mut(|p| unsafe { *p = v })
    }

    fn read(&self) -> u32 {
        // SAFETY: see the `Sync` impl: loom rejects an unordered access.
        self.0.with(|p| unsafe { *p })
    }
}

/// A task's completion happens before its `JoinHandle` returns the
/// output: the task's future writes the plain value and completes on
/// another thread; this thread polls the handle until it is ready (a
/// pending poll registers the join waker, which the completion wakes) and
/// then reads the value.
///
/// The edge is the task state word: `complete` sets `COMPLETE` with a
/// Release read-modify-write (`task/state.rs`), the handle's poll reads it
/// with Acquire before taking the output.
///
/// Checked to fail: with `State::complete`'s exchange weakened from
/// `AcqRel` to `Acquire`, loom reports a data race ("Concurrent write
/// accesses to `UnsafeCell`": the task's stage, reached first).
#[test]
fn loom_mm_task_completion_before_join_returns() {
    loom::model(|| {
        let data = Plain::new();
        let q = std::sync::Arc::new(Queue::default());
        let d = data.clone();
        let fut = async move {
            d.write(1);
        };
        let (task, notified, raw) = new_task(fut, q.clone(), Id(1), std::panic::Location::caller());
        let mut jh: JoinHandle<()> = JoinHandle::new(raw);
        let t = thread::spawn(move || assert!(notified.run().is_none()));
        let (jw, woken) = counting_waker();
        let mut cx = Context::from_waker(&jw);
        match Pin::new(&mut jh).poll(&mut cx) {
            // Completed before the poll: read before the join, so only the
            // state word orders the read after the task's write.
            Poll::Ready(out) => {
                out.expect("the task completed");
                assert_eq!(data.read(), 1);
                t.join().unwrap();
            }
            Poll::Pending => {
                t.join().unwrap();
                assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);
                match Pin::new(&mut jh).poll(&mut cx) {
                    Poll::Ready(out) => out.expect("the task completed"),
                    Poll::Pending => panic!("completed task still pending"),
                }
                assert_eq!(data.read(), 1);
            }
        }
        drop(task);
    });
}

/// A future that reads the plain value at its first poll: what the spawner
/// wrote before spawning.
struct ReadAtStart(Arc<Plain>);

impl Future for ReadAtStart {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(self.0.read())
    }
}

/// The spawn happens before the task's first poll starts, on whichever M
/// polls it. The spawner writes the plain value and places the new task
/// where `Handle::spawn` places it on an M (its P's `runnext`, Go's
/// `newproc`); a thief on another M takes it (the last steal pass, which
/// may take `runnext`) and runs it, or the owner runs it itself if the
/// thief came first. The task's first poll reads the value.
///
/// The edge is `runnext`'s: the owner's swap is `AcqRel` (its Release half
/// publishes the task), the thief's compare-exchange is Acquire
/// (`sched/p.rs`). The global queue and the local deque are crossbeam's,
/// which loom does not see, so this model uses `runnext` only.
///
/// Checked to fail: with the swap in `OwnedP::runqput` weakened from
/// `AcqRel` to `Acquire`, loom reports the task's read of the plain value
/// ("Causality violation"). An earlier version wrote the value before
/// spawning the thief thread, and passed weakened: the thread spawn itself
/// ordered the write.
#[test]
fn loom_mm_spawn_before_first_poll() {
    loom::model(|| {
        let data = Plain::new();
        let q = std::sync::Arc::new(Queue::default());
        let p = std::sync::Arc::new(P::new(0));
        let inject = Injector::new();
        let (task, notified, raw) = new_task(
            ReadAtStart(data.clone()),
            q.clone(),
            Id(1),
            std::panic::Location::caller(),
        );
        let mut jh: JoinHandle<u32> = JoinHandle::new(raw);
        let p2 = p.clone();
        let thief = thread::spawn(move || {
            let dest = Deque::new_fifo();
            if let Some(t) = p2.steal_into(&dest, true) {
                assert!(t.run().is_none());
            }
        });
        // After the thief is spawned (a spawn orders what came before it
        // for the new thread) and after the cell is made (loom orders every
        // access to an atomic after its creation): only the publication
        // can order this write before the thief's poll.
        data.write(1);
        // SAFETY: this thread is the owner of P for the whole model.
        let owned = unsafe { p.owned() };
        owned.runqput(notified, true, &inject);
        thief.join().unwrap();
        if let Some((t, _)) = owned.runqget() {
            assert!(t.run().is_none());
        }
        let (jw, _) = counting_waker();
        let mut cx = Context::from_waker(&jw);
        match Pin::new(&mut jh).poll(&mut cx) {
            Poll::Ready(out) => assert_eq!(out.expect("the task ran"), 1),
            Poll::Pending => panic!("the task was never run"),
        }
        drop(task);
    });
}
