//! Loom models of RwMutex (writer preference, readers not starved by
//! writers, a dropped waiting writer or reader racing the unlock that
//! would grant it), Once (a panicking initializer racing a second caller)
//! and Cond (signal, broadcast and a dropped waiter racing; a signal racing
//! a wait's registration). Run with `RUSTFLAGS="--cfg loom"
//! LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-sync --release --lib loom_`.
//!
//! As in `loom_tests_sync.rs`, waiters that must be queued before the race
//! are set up on the main thread with single polls; an unlock the race
//! needs on another thread is done there through a forgotten guard and
//! `force_unlock_*`. After the joins, every waiter that must not be
//! stranded is checked to have been woken and to be ready on its next
//! poll: with every thread finished, nobody else could still wake it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::{Cond, Mutex, Once, RwMutex};

/// A waker counting its wake-ups, and the count. A `std` atomic: the model
/// reads it only after the joins, which order it.
fn counting_waker() -> (Waker, std::sync::Arc<AtomicUsize>) {
    struct W(std::sync::Arc<AtomicUsize>);
    impl std::task::Wake for W {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let n = std::sync::Arc::new(AtomicUsize::new(0));
    (Waker::from(std::sync::Arc::new(W(n.clone()))), n)
}

fn poll_with<F: Future + ?Sized>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    poll_with(f, futures::task::noop_waker_ref())
}

/// Asserts that a waiter set up with the waker counting into `wakes` was
/// woken and is ready now (not stranded), and returns its output.
fn woken_and_ready<F: Future + ?Sized>(
    f: Pin<&mut F>,
    wakes: &AtomicUsize,
    what: &str,
) -> F::Output {
    assert!(wakes.load(SeqCst) >= 1, "{what} was never woken");
    match poll_once(f) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("{what} was woken but is still pending"),
    }
}

/// Writer preference (Go: a blocked `Lock` call excludes new readers): a
/// reader holds, a writer queues, then a second reader arrives on another
/// thread while the first reader unlocks. The second reader never gets in
/// before the writer (it reads the writer's value) and does get in after it
/// (its thread finishes): neither starves.
///
/// Checked to fail: with `try_read` admitting a reader while a writer only
/// waits (testing `WRITER` alone, not `WRITER_WAITING`), loom finds the
/// second reader inside before the writer, reading 0.
#[test]
fn loom_rwmutex_writer_preference() {
    loom::model(|| {
        let rw = Arc::new(RwMutex::new(0u32));
        let r1 = rw.try_read().unwrap();
        let mut w = Box::pin(rw.write());
        assert!(poll_once(w.as_mut()).is_pending());
        let rw2 = rw.clone();
        let t = thread::spawn(move || {
            let g = block_on(rw2.read());
            assert_eq!(*g, 1, "a reader got in before the waiting writer");
        });
        drop(r1);
        let mut g = block_on(w);
        *g = 1;
        drop(g);
        t.join().unwrap();
        assert!(rw.try_write().is_ok(), "the lock leaked");
    });
}

/// Readers are not starved by writers (Go: `Unlock` releases the blocked
/// readers before the next `Lock` can proceed): a writer holds; a reader
/// and a second writer queue; the writer's unlock (another thread) races
/// a third writer arriving fresh (a third thread). The queued reader gets
/// in next, seeing the first writer's value, before either later writer;
/// every waiter gets the lock in the end.
///
/// Checked to fail: with `write_unlock` granting a queued writer before
/// the queued readers (admitting no reader while a writer waits), loom
/// finds the queued reader stranded behind the second writer, whose unlock
/// this model only reaches after the reader got in (loom reports the
/// deadlock).
#[test]
fn loom_rwmutex_queued_reader_before_next_writer() {
    loom::model(|| {
        let rw = Arc::new(RwMutex::new(0u32));
        let mut g = rw.try_write().unwrap();
        *g = 1;
        let mut r = Box::pin(rw.read());
        let mut w2 = Box::pin(rw.write());
        assert!(poll_once(r.as_mut()).is_pending());
        assert!(poll_once(w2.as_mut()).is_pending());
        std::mem::forget(g); // the unlocking thread releases it
        let rw2 = rw.clone();
        // SAFETY: the guard was forgotten and is never used.
        let unlock = thread::spawn(move || unsafe { rw2.force_unlock_write() });
        let rw3 = rw.clone();
        let fresh = thread::spawn(move || {
            *block_on(rw3.write()) = 3;
        });
        let rg = block_on(r);
        assert_eq!(*rg, 1, "a later writer got in before the queued reader");
        drop(rg);
        *block_on(w2) = 2;
        unlock.join().unwrap();
        fresh.join().unwrap();
        assert!(rw.try_write().is_ok(), "the lock leaked");
    });
}

/// A queued writer dropped (cancelled) while the last reader's unlock
/// hands it the lock, with a reader queued behind it: whichever comes
/// first, the reader is let in (by the dropped writer's own unlock of the
/// lock handed to it, or by its leaving the queue), never stranded.
///
/// Checked to fail: with `WriteLock::drop` not unlocking a lock that was
/// handed to it (the `Some(_)` arm doing nothing), loom finds the reader
/// never woken.
#[test]
fn loom_rwmutex_dropped_writer_vs_last_reader_unlock() {
    loom::model(|| {
        let rw = Arc::new(RwMutex::new(()));
        let r1 = rw.try_read().unwrap();
        let mut w = Box::pin(rw.write());
        assert!(poll_once(w.as_mut()).is_pending());
        let (waker, wakes) = counting_waker();
        let mut r2 = Box::pin(rw.read());
        assert!(poll_with(r2.as_mut(), &waker).is_pending());
        std::mem::forget(r1);
        let rw2 = rw.clone();
        // SAFETY: the guard was forgotten and is never used.
        let t = thread::spawn(move || unsafe { rw2.force_unlock_read() });
        drop(w);
        t.join().unwrap();
        drop(woken_and_ready(
            r2.as_mut(),
            &wakes,
            "the reader behind the dropped writer",
        ));
        drop(r2);
        assert!(rw.try_write().is_ok(), "the lock leaked");
    });
}

/// A queued reader dropped while the writer's unlock hands it the lock,
/// with a writer queued behind: the writer gets the lock either way (from
/// the dropped reader's unlock of its grant, or from the unlock finding no
/// reader queued), never stranded.
///
/// Checked to fail: with `ReadLock::drop` not unlocking a read lock that
/// was handed to it, loom finds the writer never woken.
#[test]
fn loom_rwmutex_dropped_reader_vs_write_unlock() {
    loom::model(|| {
        let rw = Arc::new(RwMutex::new(()));
        let g = rw.try_write().unwrap();
        let mut r = Box::pin(rw.read());
        assert!(poll_once(r.as_mut()).is_pending());
        let (waker, wakes) = counting_waker();
        let mut w2 = Box::pin(rw.write());
        assert!(poll_with(w2.as_mut(), &waker).is_pending());
        std::mem::forget(g);
        let rw2 = rw.clone();
        // SAFETY: the guard was forgotten and is never used.
        let t = thread::spawn(move || unsafe { rw2.force_unlock_write() });
        drop(r);
        t.join().unwrap();
        drop(woken_and_ready(
            w2.as_mut(),
            &wakes,
            "the writer behind the dropped reader",
        ));
        drop(w2);
        assert!(rw.try_read().is_ok(), "the lock leaked");
    });
}

/// The message of the model's panicking initializer, which the panic hook
/// keeps quiet (loom runs it once per execution).
const BOOM: &str = "loom model: the Once initializer panics";

/// Installs, once per process, a panic hook that prints every panic but
/// [`BOOM`]s.
fn quiet_boom() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&BOOM) {
                prev(info);
            }
        }));
    });
}

/// Go: "if f panics, Do considers it to have returned; future calls of Do
/// return without calling f". One thread's initializer panics while a
/// second caller races it: exactly one initializer runs (the panicking
/// one, or the second caller's if it came first), the second caller never
/// hangs waiting for the panicked call (the unwinding releases the
/// `Once`'s mutex), and the `Once` is complete afterwards.
///
/// Checked to fail: without the `DoneOnPanic` guard (a panic leaving
/// `done` unset), the second caller runs its initializer after the panic:
/// two runs.
#[test]
fn loom_once_panic_vs_second_caller() {
    quiet_boom();
    loom::model(|| {
        let once = Arc::new(Once::new());
        let o2 = once.clone();
        let t = thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                block_on(o2.call_once(|| std::panic::panic_any(BOOM)));
            }))
            .is_err()
        });
        let mut ran = 0;
        block_on(once.call_once(|| ran += 1));
        let panicked = t.join().unwrap();
        assert_eq!(
            ran + usize::from(panicked),
            1,
            "second ran {ran}, first panicked {panicked}"
        );
        assert!(once.is_completed());
        block_on(once.call_once(|| panic!("a completed Once ran its function")));
    });
}

/// A `Cond::wait` future in the model: locks `m`, waits, drops the guard.
fn waiter<'a>(m: &'a Mutex<()>, c: &'a Cond) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move { drop(c.wait(m.lock().await).await) })
}

/// A signal racing the drop (cancel) of the waiter it would reach, with a
/// live waiter queued behind: the signal is never lost to the dropped
/// waiter (it passes it on, or the signal finds the live one first): the
/// live waiter is woken and returns.
///
/// Checked to fail: with `Notified::drop` not passing a received signal
/// on, loom finds the live waiter never woken.
#[test]
fn loom_cond_signal_vs_dropped_waiter() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(()), Cond::new()));
        let (m, c) = (&pair.0, &pair.1);
        let mut dropped = waiter(m, c);
        assert!(poll_once(dropped.as_mut()).is_pending());
        let (waker, wakes) = counting_waker();
        let mut live = waiter(m, c);
        assert!(poll_with(live.as_mut(), &waker).is_pending());
        let p2 = pair.clone();
        let t = thread::spawn(move || p2.1.signal());
        drop(dropped);
        t.join().unwrap();
        woken_and_ready(live.as_mut(), &wakes, "the live waiter");
    });
}

/// Signal, broadcast and a waiter's drop, all racing, with three waiters
/// queued: the two live ones are both woken and return whatever the order
/// (the broadcast reaches every waiter still queued; the signal, if it
/// reached the dropped one, is passed on or has nobody left to reach).
///
/// Checked to fail: with `broadcast` waking only the head waiter (its
/// loop run once), loom finds a live waiter never woken.
#[test]
fn loom_cond_signal_broadcast_and_dropped_waiter() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(()), Cond::new()));
        let (m, c) = (&pair.0, &pair.1);
        let mut dropped = waiter(m, c);
        assert!(poll_once(dropped.as_mut()).is_pending());
        let (wa, wakes_a) = counting_waker();
        let mut a = waiter(m, c);
        assert!(poll_with(a.as_mut(), &wa).is_pending());
        let (wb, wakes_b) = counting_waker();
        let mut b = waiter(m, c);
        assert!(poll_with(b.as_mut(), &wb).is_pending());
        let p2 = pair.clone();
        let s = thread::spawn(move || p2.1.signal());
        let p3 = pair.clone();
        let bc = thread::spawn(move || p3.1.broadcast());
        drop(dropped);
        s.join().unwrap();
        bc.join().unwrap();
        woken_and_ready(a.as_mut(), &wakes_a, "the first live waiter");
        woken_and_ready(b.as_mut(), &wakes_b, "the second live waiter");
    });
}

/// The classic condition-variable hand-shake: one thread sets a flag
/// under the mutex and signals; the other waits in a loop until it sees
/// the flag. The wait is registered before the mutex is released, so the
/// signal cannot fall between the waiter's check and its registration:
/// the waiter always returns.
///
/// Checked to fail: with `Cond::wait` unlocking the mutex before queuing
/// the waiter, loom finds the signal sent into the gap and the waiter
/// parked for ever (loom reports the deadlock).
#[test]
fn loom_cond_wait_vs_signal_no_lost_wakeup() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Cond::new()));
        let p2 = pair.clone();
        let t = thread::spawn(move || {
            *block_on(p2.0.lock()) = true;
            p2.1.signal();
        });
        let (m, c) = (&pair.0, &pair.1);
        block_on(async {
            let mut ready = m.lock().await;
            while !*ready {
                ready = c.wait(ready).await;
            }
        });
        t.join().unwrap();
    });
}
