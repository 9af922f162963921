//! The task state word under every interleaving loom finds.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst as S;
use std::task::{Context, Poll};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::support::{counting_waker, Counted, Gate, Queue, Tracked};
use crate::task::{new_task, Id, JoinHandle};

type GateTask = (
    crate::task::Task,
    JoinHandle<Counted>,
    Arc<Mutex<Option<std::task::Waker>>>,
    Arc<AtomicUsize>,
);

fn gate_task(
    q: &std::sync::Arc<Queue>,
    dropped: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> GateTask {
    gate_task_on(q.clone(), dropped)
}

/// A `Gate` task on scheduler `sched`, polled once (its waker stored).
fn gate_task_on<S: crate::task::Schedule>(
    sched: S,
    dropped: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> GateTask {
    let slot = Arc::new(Mutex::new(None));
    let open = Arc::new(AtomicUsize::new(0));
    let fut = Gate {
        slot: slot.clone(),
        open: open.clone(),
        out: Counted(Some(dropped.clone())),
    };
    let (task, notified, raw) = new_task(fut, sched, Id(1), std::panic::Location::caller());
    assert!(notified.run().is_none()); // first poll: stores the waker, pending
    (task, JoinHandle::new(raw), slot, open)
}

/// A wake-up from another thread racing the join handle's poll: the output
/// reaches the handle exactly once and the join waker is woken if the handle
/// was pending.
#[test]
fn loom_wake_races_join_poll() {
    loom::model(|| {
        let q = std::sync::Arc::new(Queue::default());
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (task, mut jh, slot, open) = gate_task(&q, &dropped);
        let waker = slot.lock().unwrap().take().expect("waker stored");
        let q2 = q.clone();
        let t = thread::spawn(move || {
            open.store(1, SeqCst);
            waker.wake();
            q2.drain();
        });
        let (jw, woken) = counting_waker();
        let mut cx = Context::from_waker(&jw);
        let first = Pin::new(&mut jh).poll(&mut cx);
        t.join().unwrap();
        let out = match first {
            Poll::Ready(out) => out,
            Poll::Pending => {
                assert_eq!(woken.load(S), 1, "a pending join handle must be woken");
                match Pin::new(&mut jh).poll(&mut cx) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("completed task still pending"),
                }
            }
        };
        let out = out.expect("task output");
        drop(out);
        drop(jh);
        drop(task);
        assert_eq!(dropped.load(S), 1, "output dropped exactly once");
    });
}

/// The join handle dropped while the task completes on another thread:
/// the output is dropped exactly once, by whichever side is last.
#[test]
fn loom_join_drop_races_completion() {
    loom::model(|| {
        let q = std::sync::Arc::new(Queue::default());
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (task, jh, slot, open) = gate_task(&q, &dropped);
        let waker = slot.lock().unwrap().take().unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || {
            open.store(1, SeqCst);
            waker.wake();
            q2.drain();
        });
        drop(jh);
        t.join().unwrap();
        drop(task);
        assert_eq!(dropped.load(S), 1);
    });
}

/// Abort racing a wake-up: the future is dropped once, never polled after
/// the abort is seen, and the handle reports cancellation or the output.
#[test]
fn loom_abort_races_wake() {
    loom::model(|| {
        let q = std::sync::Arc::new(Queue::default());
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (task, mut jh, slot, open) = gate_task(&q, &dropped);
        let waker = slot.lock().unwrap().take().unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || {
            open.store(1, SeqCst);
            waker.wake();
            q2.drain();
        });
        jh.abort();
        q.drain();
        t.join().unwrap();
        q.drain();
        let (jw, _) = counting_waker();
        let mut cx = Context::from_waker(&jw);
        match Pin::new(&mut jh).poll(&mut cx) {
            Poll::Ready(Ok(out)) => drop(out),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Pending => panic!("aborted task never finished"),
        }
        drop(jh);
        drop(task);
        // The Counted output lives inside the future until it completes; it is
        // dropped once either way (with the future, or as the output).
        assert_eq!(dropped.load(S), 1);
    });
}

/// Two wakers racing: the task is queued once, polled to completion once.
#[test]
fn loom_two_wakers_queue_once() {
    loom::model(|| {
        let q = std::sync::Arc::new(Queue::default());
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (task, jh, slot, open) = gate_task(&q, &dropped);
        let w1 = slot.lock().unwrap().take().unwrap();
        let w2 = w1.clone();
        open.store(1, SeqCst);
        let t = thread::spawn(move || w1.wake());
        w2.wake();
        t.join().unwrap();
        let mut runs = 0;
        while let Some(n) = q.pop() {
            runs += 1;
            assert!(n.run().is_none());
        }
        assert_eq!(runs, 1, "two wake-ups of an idle task queue it once");
        assert!(jh.is_finished());
        drop(jh);
        drop(task);
        assert_eq!(dropped.load(S), 1);
    });
}

/// A wake-up by value racing the task's completion on another thread, with
/// the cell's drop observed (`Tracked::alive`). With `reads_cell_after_push`
/// the scheduler stands for one that reads `*this` after the push.
fn wake_by_val_racing_completion(reads_cell_after_push: bool) {
    loom::model(move || {
        let q = std::sync::Arc::new(Queue::default());
        let alive = Arc::new(AtomicUsize::new(1));
        let pushes = Arc::new(AtomicUsize::new(0));
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sched = Tracked {
            q: q.clone(),
            alive: alive.clone(),
            pushes: pushes.clone(),
            reads_cell_after_push,
        };
        let (task, jh, slot, open) = gate_task_on(sched, &dropped);
        // Detached, and not in any owned list: the waker and the queue hold
        // the only references once the first poll is done.
        drop(jh);
        drop(task);
        let waker = slot.lock().unwrap().take().expect("waker stored");
        let t = thread::spawn(move || {
            open.store(1, SeqCst);
            waker.wake();
        });
        loop {
            if let Some(n) = q.pop() {
                assert!(n.run().is_none());
                break;
            }
            thread::yield_now();
        }
        t.join().unwrap();
        assert_eq!(pushes.load(SeqCst), 1, "queued once");
        assert_eq!(alive.load(SeqCst), 0, "freed once every reference went");
        assert_eq!(dropped.load(S), 1, "output dropped exactly once");
    });
}

/// The wake-up hands its reference to the queue and nothing reads the cell
/// after: under every interleaving, the task runs once, the cell is freed
/// once, the output dropped once.
#[test]
fn loom_wake_by_val_racing_completion() {
    wake_by_val_racing_completion(false);
}

/// The bug this guards against (a TSan report): a scheduler that read the
/// handle in the cell after the push (`Shared::inject` reading its shutdown
/// flag, then `wakep`). Loom finds the interleaving in which the popping
/// thread runs the task to completion and frees the cell first.
#[test]
#[should_panic(expected = "freed during schedule")]
fn loom_reading_the_cell_after_the_push_is_a_use_after_free() {
    wake_by_val_racing_completion(true);
}
