//! `LocalSet`'s queue: a wake-up from another thread racing the end of the
//! set's batch is never stranded, and a local task's future is dropped on
//! the set's thread even when a foreign abort races its wake-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst as S;
use std::task::{Context, Poll};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::support::{counting_waker, Counted, Gate};
use crate::task::LocalSet;

/// A local `Gate` task, run once by a first poll of the set (so its waker
/// is stored and the set idle).
fn parked_local(
    local: &mut LocalSet,
    dropped: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
    cx: &mut Context<'_>,
) -> (
    crate::task::JoinHandle<Counted>,
    Arc<Mutex<Option<std::task::Waker>>>,
    Arc<AtomicUsize>,
) {
    let slot = Arc::new(Mutex::new(None));
    let open = Arc::new(AtomicUsize::new(0));
    let h = local.spawn_local(Gate {
        slot: slot.clone(),
        open: open.clone(),
        out: Counted(Some(dropped.clone())),
    });
    assert!(Pin::new(&mut *local).poll(cx).is_pending());
    (h, slot, open)
}

/// Module doc, step 3: the set's thread polls the set (a batch that finds
/// the queue empty) while another thread opens the gate and wakes the
/// task. Either that batch ran the task, or the set's waker was woken, so
/// one more poll (the executor's reaction to the wake) finishes it.
#[test]
fn loom_foreign_wake_races_the_end_of_a_batch() {
    loom::model(|| {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (w, woken) = counting_waker();
        let mut cx = Context::from_waker(&w);
        let mut local = LocalSet::new();
        let (h, slot, open) = parked_local(&mut local, &dropped, &mut cx);
        let waker = slot.lock().unwrap().take().expect("waker stored");
        let t = thread::spawn(move || {
            open.store(1, SeqCst);
            waker.wake();
        });
        let first = Pin::new(&mut local).poll(&mut cx);
        t.join().unwrap();
        if first.is_pending() {
            assert!(woken.load(S) >= 1, "the wake-up was stranded");
            assert!(Pin::new(&mut local).poll(&mut cx).is_ready());
        }
        assert!(h.is_finished());
        drop(h);
        assert_eq!(dropped.load(S), 1, "output dropped once");
    });
}

/// A foreign abort races a foreign wake-up of an idle local task: the
/// future is dropped by the set's poll, on the set's thread, exactly once.
#[test]
fn loom_foreign_abort_races_a_wake_of_a_local_task() {
    loom::model(|| {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (w, _woken) = counting_waker();
        let mut cx = Context::from_waker(&w);
        let mut local = LocalSet::new();
        let (h, slot, _open) = parked_local(&mut local, &dropped, &mut cx);
        let waker = slot.lock().unwrap().take().expect("waker stored");
        let abort = h.abort_handle();
        let me = std::thread::current().id();
        let t1 = thread::spawn(move || abort.abort());
        let t2 = thread::spawn(move || waker.wake());
        t1.join().unwrap();
        t2.join().unwrap();
        // Only this thread polls the set: the future can be dropped nowhere
        // else (the gate never opened, so the output is the unread Counted
        // inside the future).
        assert!(Pin::new(&mut local).poll(&mut cx).is_ready());
        assert_eq!(std::thread::current().id(), me);
        assert_eq!(dropped.load(S), 1, "future dropped once, by the set");
        let mut jh = h;
        let mut jcx = Context::from_waker(&w);
        match Pin::new(&mut jh).poll(&mut jcx) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("an aborted local task must report cancellation"),
        }
    });
}
