//! Single-threaded tests of the raw task, driven by hand through a queue.
//! They exercise every unsafe path of `raw.rs` (poll, wake, join, abort,
//! panics, shutdown, the last reference freeing the cell) and run under Miri,
//! which checks the pointer accesses and that every cell is freed.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::{new_task, Id, JoinHandle, Notified, Schedule, Task};

#[derive(Default)]
struct Queue(Mutex<VecDeque<Notified>>);

impl Schedule for Arc<Queue> {
    unsafe fn schedule(this: *const Self, task: Notified, _yielded: bool) {
        // SAFETY: `task` is not published yet: the cell holding `*this` is
        // alive. The clone outlives the push.
        let q = unsafe { (*this).clone() };
        q.0.lock().unwrap().push_back(task);
    }
    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

impl Queue {
    fn run_all(&self) -> usize {
        let mut n = 0;
        loop {
            let t = self.0.lock().unwrap().pop_front();
            match t {
                Some(t) => {
                    if let Some(t) = t.run() {
                        self.0.lock().unwrap().push_back(t);
                    }
                    n += 1;
                }
                None => return n,
            }
        }
    }
}

struct CountWake(AtomicUsize);
impl Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn poll_join<T>(jh: &mut JoinHandle<T>) -> (Poll<Result<T, super::JoinError>>, Arc<CountWake>) {
    let w = Arc::new(CountWake(AtomicUsize::new(0)));
    let waker = Waker::from(w.clone());
    let mut cx = Context::from_waker(&waker);
    (Pin::new(jh).poll(&mut cx), w)
}

/// Pending until its stored waker is woken `n` times.
struct Countdown {
    left: usize,
    slot: Arc<Mutex<Option<Waker>>>,
}

impl Future for Countdown {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        if self.left == 0 {
            return Poll::Ready("done");
        }
        self.left -= 1;
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn spawn<F>(q: &Arc<Queue>, f: F) -> (Task, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (task, notified, raw) = new_task(f, q.clone(), Id::next(), std::panic::Location::caller());
    q.0.lock().unwrap().push_back(notified);
    (task, JoinHandle::new(raw))
}

#[test]
fn poll_wake_complete_join() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let (task, mut jh) = spawn(
        &q,
        Countdown {
            left: 2,
            slot: slot.clone(),
        },
    );
    assert_eq!(q.run_all(), 1);
    let (p, jw) = poll_join(&mut jh);
    assert!(p.is_pending());
    slot.lock().unwrap().take().unwrap().wake();
    assert_eq!(q.run_all(), 1);
    // A clone of the waker kept past completion must stay valid.
    let late = slot.lock().unwrap().take().unwrap();
    let late2 = late.clone();
    late.wake_by_ref();
    assert_eq!(q.run_all(), 1);
    assert_eq!(jw.0.load(SeqCst), 1, "join waker woken on completion");
    late2.wake(); // complete: no-op
    drop(late);
    assert_eq!(q.run_all(), 0);
    match poll_join(&mut jh).0 {
        Poll::Ready(Ok(v)) => assert_eq!(v, "done"),
        other => panic!("{:?}", other.map(|r| r.is_ok())),
    }
    drop(task);
}

#[test]
fn join_waker_replaced() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let (task, mut jh) = spawn(
        &q,
        Countdown {
            left: 1,
            slot: slot.clone(),
        },
    );
    q.run_all();
    let (_, w1) = poll_join(&mut jh);
    let (_, w2) = poll_join(&mut jh);
    slot.lock().unwrap().take().unwrap().wake();
    q.run_all();
    assert_eq!(w1.0.load(SeqCst), 0);
    assert_eq!(w2.0.load(SeqCst), 1);
    assert!(poll_join(&mut jh).0.is_ready());
    drop(task);
}

#[test]
fn panic_becomes_join_error() {
    let q = Arc::new(Queue::default());
    let (task, mut jh) = spawn(&q, async { panic!("inside") });
    q.run_all();
    match poll_join(&mut jh).0 {
        Poll::Ready(Err(e)) => assert!(e.is_panic()),
        _ => panic!("expected a panic"),
    }
    drop(task);
}

#[test]
fn abort_idle_task_drops_future() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let (task, mut jh) = spawn(
        &q,
        Countdown {
            left: 5,
            slot: slot.clone(),
        },
    );
    q.run_all();
    jh.abort();
    assert_eq!(
        q.run_all(),
        1,
        "abort schedules the idle task to be cancelled"
    );
    match poll_join(&mut jh).0 {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        _ => panic!("expected cancellation"),
    }
    // The stored waker outlives the task's future; waking it is a no-op.
    slot.lock().unwrap().take().unwrap().wake();
    assert_eq!(q.run_all(), 0);
    drop(task);
}

#[test]
fn detached_output_is_dropped_by_the_task() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let q = Arc::new(Queue::default());
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let (task, jh) = spawn(&q, async move { D(n2) });
    drop(jh);
    q.run_all();
    assert_eq!(n.load(SeqCst), 1);
    drop(task);
    // Output left for the handle, dropped with the handle.
    let n3 = n.clone();
    let (task, jh) = spawn(&q, async move { D(n3) });
    q.run_all();
    assert_eq!(n.load(SeqCst), 1);
    drop(jh);
    assert_eq!(n.load(SeqCst), 2);
    drop(task);
}

#[test]
fn shutdown_cancels_in_place() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let (task, mut jh) = spawn(
        &q,
        Countdown {
            left: 5,
            slot: slot.clone(),
        },
    );
    q.run_all();
    slot.lock().unwrap().take().unwrap().wake(); // queued again
    task.shutdown();
    assert_eq!(
        q.run_all(),
        1,
        "the queued reference is dropped as a no-op poll"
    );
    assert!(matches!(poll_join(&mut jh).0, Poll::Ready(Err(ref e)) if e.is_cancelled()));
}

/// The owned list's unsafe links: insert, release from the middle, head
/// and tail, iterate, then close and drain (run under Miri in CI).
#[test]
fn owned_list_links() {
    use super::OwnedTasks;
    let q = Arc::new(Queue::default());
    let owned = OwnedTasks::new(1);
    let mut handles = Vec::new();
    let mut entries = Vec::new();
    for _ in 0..5 {
        let (task, notified, raw) = new_task(
            async {},
            q.clone(),
            Id::next(),
            std::panic::Location::caller(),
        );
        drop(notified);
        handles.push(JoinHandle::<()>::new(raw));
        // The list keeps the task's list reference; a second handle to the
        // same task lets the test release it later.
        let ptr = task.header_ptr();
        owned.insert(task).unwrap();
        entries.push(ptr);
    }
    assert_eq!(owned.len(), 5);
    for i in [2usize, 0, 4] {
        // SAFETY: the header stays alive: its JoinHandle holds a reference.
        let probe = std::mem::ManuallyDrop::new(unsafe { Task::from_raw(entries[i]) });
        let released = owned.release(&probe).expect("in the list");
        drop(released);
    }
    assert_eq!(owned.len(), 2);
    let mut seen = 0;
    owned.for_each(|_| seen += 1);
    assert_eq!(seen, 2);
    let drained = owned.close_and_drain();
    assert_eq!(drained.len(), 2);
    assert!(owned.insert_closed_check());
    drop(drained);
    drop(handles);
}

/// A scheduler that, like the runtime's, acts after the push (as
/// `Shared::inject` reads its shutdown flag and calls `wakep`), through a
/// handle taken before it: the cell it lives in may be freed meanwhile
/// (state.rs invariant 7).
struct ActsAfterPush {
    q: Arc<Queue>,
    pushes: AtomicUsize,
}

impl Schedule for Arc<ActsAfterPush> {
    unsafe fn schedule(this: *const Self, task: Notified, _yielded: bool) {
        // SAFETY: `task` is not published yet: the cell is alive.
        let own = unsafe { (*this).clone() };
        own.q.0.lock().unwrap().push_back(task);
        own.pushes.fetch_add(1, SeqCst);
    }
    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

/// Threads waking tasks by value while this thread runs them to completion
/// and frees them: nothing reads the cell once the task is published.
/// Miri checks every access (the TSan report this guards against:
/// `wake_by_val` -> `schedule` -> `inject` reading the scheduler handle in
/// a freed cell).
#[test]
fn wake_by_val_racing_completion_on_another_thread() {
    let rounds = if cfg!(miri) { 8 } else { 200 };
    for _ in 0..rounds {
        let q = Arc::new(Queue::default());
        let sched = Arc::new(ActsAfterPush {
            q: q.clone(),
            pushes: AtomicUsize::new(0),
        });
        let slot = Arc::new(Mutex::new(None));
        let fut = Countdown {
            left: 1,
            slot: slot.clone(),
        };
        let (task, notified, raw) =
            new_task(fut, sched.clone(), Id(1), std::panic::Location::caller());
        drop(JoinHandle::<&'static str>::new(raw));
        drop(task);
        assert!(notified.run().is_none());
        let waker = slot.lock().unwrap().take().expect("waker stored");
        let t = std::thread::spawn(move || waker.wake());
        loop {
            if q.run_all() > 0 {
                break;
            }
            std::thread::yield_now();
        }
        t.join().unwrap();
        assert_eq!(sched.pushes.load(SeqCst), 1);
        assert_eq!(Arc::strong_count(&sched), 1, "the cell was freed");
    }
}

/// Parked wakers (`park_waker`) of a task: each counts as a reference and
/// as parked, their clones too; dropping one and waking one by value take
/// both counts back, and the wake-up schedules the task. Under Miri this
/// checks the parked vtable's pointer accesses and that the cell is freed.
#[test]
fn parked_task_wakers_count_and_wake() {
    use super::{park_waker, same_waker};
    struct ParksTwice(Arc<Mutex<Vec<Waker>>>, bool);
    impl Future for ParksTwice {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.1 {
                return Poll::Ready(());
            }
            self.1 = true;
            let a = park_waker(cx.waker());
            assert!(same_waker(&a, cx.waker()));
            let b = a.clone();
            self.0.lock().unwrap().extend([a, b]);
            Poll::Pending
        }
    }
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(Vec::new()));
    let (task, jh) = spawn(&q, ParksTwice(slot.clone(), false));
    assert_eq!(q.run_all(), 1);
    let s = task.header().state.load();
    // The owned entry (`task`), the join handle, and two parked wakers.
    assert_eq!((s.ref_count(), s.parked_count()), (4, 2));
    let mut wakers = std::mem::take(&mut *slot.lock().unwrap());
    drop(wakers.pop());
    let s = task.header().state.load();
    assert_eq!((s.ref_count(), s.parked_count()), (3, 1));
    wakers.pop().unwrap().wake();
    let s = task.header().state.load();
    assert!(s.is_notified());
    assert_eq!((s.ref_count(), s.parked_count()), (3, 0), "the queue's now");
    assert_eq!(q.run_all(), 1);
    assert!(jh.is_finished());
    drop(jh);
    drop(task);
}

/// A `LocalSet` without a runtime, for Miri: `!Send` futures (an `Rc`)
/// woken and aborted from other threads run and are dropped on this one;
/// the set's drop cancels the rest. Exercises `new_task_unchecked`'s
/// contract as `local.rs` keeps it.
#[test]
fn local_tasks_woken_and_aborted_from_other_threads() {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::LocalSet;

    struct WaitFor(Arc<Mutex<(bool, Option<Waker>)>>, Rc<Cell<usize>>);
    impl Future for WaitFor {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let mut g = self.0.lock().unwrap();
            if g.0 {
                self.1.set(self.1.get() + 1);
                return Poll::Ready(self.1.get());
            }
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    let (w, woken) = counting_waker();
    let mut cx = Context::from_waker(&w);
    let mut local = LocalSet::new();
    let count = Rc::new(Cell::new(0));
    let gates: Vec<_> = (0..3)
        .map(|_| Arc::new(Mutex::new((false, None))))
        .collect();
    let hs: Vec<JoinHandle<usize>> = gates
        .iter()
        .map(|g| local.spawn_local(WaitFor(g.clone(), count.clone())))
        .collect();
    assert!(Pin::new(&mut local).poll(&mut cx).is_pending());
    // Gate 0 opens and is woken from another thread; task 1 is aborted
    // from another; task 2 stays parked until the set is dropped.
    let g0 = gates[0].clone();
    let a1 = hs[1].abort_handle();
    std::thread::spawn(move || {
        let w = {
            let mut g = g0.lock().unwrap();
            g.0 = true;
            g.1.take().unwrap()
        };
        w.wake();
        a1.abort();
    })
    .join()
    .unwrap();
    assert!(woken.load(SeqCst) >= 1, "the set's waker was woken");
    assert!(Pin::new(&mut local).poll(&mut cx).is_pending());
    assert_eq!(count.get(), 1);
    assert!(hs[0].is_finished() && hs[1].is_finished() && !hs[2].is_finished());
    drop(local);
    assert!(hs[2].is_finished());
    let mut hs = hs.into_iter();
    let mut h0 = hs.next().unwrap();
    assert!(matches!(
        Pin::new(&mut h0).poll(&mut cx),
        Poll::Ready(Ok(1))
    ));
    for mut h in hs {
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("an aborted or dropped local task reports cancellation"),
        }
    }
}

/// A waker that counts its wake-ups.
fn counting_waker() -> (Waker, Arc<AtomicUsize>) {
    struct W(Arc<AtomicUsize>);
    impl Wake for W {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let c = Arc::new(AtomicUsize::new(0));
    (Waker::from(Arc::new(W(c.clone()))), c)
}
