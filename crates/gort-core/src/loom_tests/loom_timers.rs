//! The timer queue (`time/queue.rs`) and its entries (`time/entry.rs`):
//! insert, cancel and fire racing each other, and `move_into` (a removed
//! P's timers handed to another P) racing a `run` on the destination and a
//! cancel.
//!
//! What every model checks at the end, whatever the interleaving: an entry
//! is either fired or cancelled, never both; a fired entry's waker was
//! woken exactly once, a cancelled entry's never; and the queues are left
//! empty with `next_when` back at `NO_TIMER`, so no M is left looking at a
//! deadline that nothing will ever fire.
//!
//! The entry's waker is the facade's `AtomicWaker` (loom's model of it
//! under `--cfg loom`), so a registration racing the queue's `take` is a
//! branch point here. A `run` that finds nothing is repeated by the main
//! thread after the joins: it stands for the next `schedule()` looking at
//! `next_when`, which is how a timer armed just after a `run` still fires.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Poll, Waker};

use futures::task::noop_waker_ref;
use loom::sync::Arc;
use loom::thread;

use super::support::counting_waker;
use crate::time::entry::TimerEntry;
use crate::time::queue::{TimerQueue, NO_TIMER};

/// A sleep's re-poll on `e` (`Sleep::poll_elapsed` with an entry): check,
/// register `w`, check again.
fn poll_entry(e: &TimerEntry, w: &Waker) -> Poll<()> {
    if e.is_fired() {
        return Poll::Ready(());
    }
    e.register(w);
    if e.is_fired() {
        return Poll::Ready(());
    }
    Poll::Pending
}

/// Asserts the outcome of one entry: fired xor cancelled (when `cancelled`
/// says whether this model's `cancel` won), and woken once iff fired.
fn check_entry(e: &TimerEntry, cancelled: bool, wakes: &StdArc<AtomicUsize>) {
    let fired = e.is_fired();
    assert!(
        fired != cancelled,
        "fired {fired} and cancelled {cancelled}: exactly one must win"
    );
    assert_eq!(e.is_cancelled(), cancelled);
    let n = wakes.load(SeqCst);
    assert_eq!(n, usize::from(fired), "woken {n} times, fired {fired}");
}

/// A due entry cancelled (its `Sleep` dropped) while another thread's
/// `run` fires it: either the `run` fired it and woke its waker once, or
/// the cancel stopped it and its waker is never woken; never both, never
/// woken twice. The heap drops it either way.
///
/// Checked to fail: with `TimerEntry::fire`'s CAS split into a load of
/// `PENDING` and a store of `FIRED`, loom finds the cancel landing between
/// them (cancelled and fired, and woken).
#[test]
fn loom_timer_cancel_vs_fire() {
    loom::model(|| {
        let q = Arc::new(TimerQueue::new());
        let (w, wakes) = counting_waker();
        let e = q.arm(10, &w);
        let q2 = q.clone();
        let t = thread::spawn(move || q2.run(10));
        let cancelled = e.cancel();
        let fired_by_run = t.join().unwrap();
        assert_eq!(fired_by_run, usize::from(!cancelled));
        check_entry(&e, cancelled, &wakes);
        assert_eq!(q.len(), 0, "the stopped or fired entry stayed queued");
        assert_eq!(q.next_when(), NO_TIMER);
    });
}

/// One thread arms a timer and re-polls it as a `Sleep` does (register a
/// new waker, check again) while another thread runs the queue: the arm
/// either lands before the `run` (which fires it) or after (and the next
/// look at `next_when`, the main thread's `run`, fires it). It fires
/// exactly once, and a sleep that saw it pending has its new waker woken:
/// no lost wake-up between the registration and the fire.
///
/// Checked to fail: with `TimerEntry::fire` taking the waker before its
/// CAS instead of after, loom finds the registration landing between the
/// two (the sleep saw `PENDING` after registering, the fire took the old
/// waker): the new waker is never woken.
#[test]
fn loom_timer_arm_and_register_vs_run() {
    loom::model(|| {
        let q = Arc::new(TimerQueue::new());
        let (w, wakes) = counting_waker();
        let q2 = q.clone();
        let sleeper = thread::spawn(move || {
            // The first poll arms with the waker of that poll; the second
            // (a task moved, a `select!` re-polled) registers another.
            let e = q2.arm(10, noop_waker_ref());
            let pending = poll_entry(&e, &w).is_pending();
            (e, pending)
        });
        let q3 = q.clone();
        let m = thread::spawn(move || q3.run(10));
        let (e, pending) = sleeper.join().unwrap();
        let by_m = m.join().unwrap();
        let late = q.run(10);
        assert_eq!(by_m + late, 1, "fired {by_m} + {late} times");
        assert!(e.is_fired() && !e.is_cancelled());
        if pending {
            assert!(
                wakes.load(SeqCst) >= 1,
                "the sleep saw the timer pending, and its waker was never woken"
            );
        }
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_when(), NO_TIMER);
    });
}

/// `move_into` (`set_gomaxprocs` removing a P hands its timers to a P that
/// stays) racing a `run` on the destination and the cancel of one of the
/// moved timers. The live timer fires exactly once, from the destination
/// (by the racing `run` or the next look at `next_when`), and wakes once;
/// the cancelled one is fired or stopped, never both; both queues end
/// empty with `next_when` at `NO_TIMER`.
///
/// Checked to fail: with `move_into` pushing onto the destination's heap
/// without `push`'s publishing of the new earliest deadline, the main
/// thread's late `run` reads `NO_TIMER` and returns, and the live timer
/// never fires.
#[test]
fn loom_timer_move_into_vs_run_and_cancel() {
    loom::model(|| {
        let src = Arc::new(TimerQueue::new());
        let dst = Arc::new(TimerQueue::new());
        let (w1, wakes1) = counting_waker();
        let (w2, wakes2) = counting_waker();
        let live = src.arm(10, &w1);
        let doomed = src.arm(10, &w2);
        let (s, d) = (src.clone(), dst.clone());
        let mover = thread::spawn(move || s.move_into(&d));
        let d = dst.clone();
        let runner = thread::spawn(move || d.run(10));
        let cancelled = doomed.cancel();
        assert_eq!(mover.join().unwrap(), 10, "the live timer's deadline");
        let by_runner = runner.join().unwrap();
        let late = dst.run(10);
        assert_eq!(src.len(), 0);
        assert_eq!(src.next_when(), NO_TIMER);
        assert_eq!(src.run(10), 0, "a moved timer fired from the source");
        assert_eq!(by_runner + late, 1 + usize::from(!cancelled));
        check_entry(&live, false, &wakes1);
        check_entry(&doomed, cancelled, &wakes2);
        assert_eq!(dst.len(), 0);
        assert_eq!(dst.next_when(), NO_TIMER);
    });
}
