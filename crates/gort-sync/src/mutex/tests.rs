//! Poll-level tests of the mutex protocol: barging, starvation mode in and
//! out, and cancellation at every poll point. Deterministic: each step is
//! one poll on this thread, and the starvation clock is set per test
//! through `TEST_THRESHOLD` (a waiter "starves" when the threshold is zero,
//! never when it is an hour).

use std::time::Duration;

use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

use super::{Mutex, TEST_THRESHOLD};

fn threshold(d: Duration) {
    TEST_THRESHOLD.with(|c| c.set(Some(d)));
}

const NEVER: Duration = Duration::from_secs(3600);

/// Normal mode: a woken waiter does not own the mutex; a newcomer that gets
/// there first wins, and the waiter queues again (at the head).
#[test]
fn woken_waiter_can_lose_to_a_barger() {
    threshold(NEVER);
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut w = spawn(m.lock());
    assert_pending!(w.poll());
    assert_eq!(m.waiters(), 1);
    drop(g);
    assert!(w.is_woken());
    // The barger takes it before the woken waiter runs.
    let barger = m.try_lock().expect("normal mode lets a newcomer barge");
    assert_pending!(w.poll());
    assert_eq!(m.waiters(), 1);
    assert!(!m.is_starving(), "the waiter has not waited long");
    drop(barger);
    assert!(w.is_woken());
    let g = assert_ready!(w.poll());
    assert_eq!(m.waiters(), 0);
    drop(g);
    assert!(m.try_lock().is_ok());
}

/// A waiter that starved sets starvation mode; newcomers then queue even
/// when the mutex is momentarily free; the unlock hands the mutex to the
/// head waiter, and being the last waiter it switches back to normal.
#[test]
fn starvation_mode_entered_and_left_by_last_waiter() {
    threshold(Duration::ZERO);
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut w = spawn(m.lock());
    assert_pending!(w.poll());
    std::thread::sleep(Duration::from_millis(1)); // elapsed > 0
    drop(g);
    let barger = m.try_lock().unwrap();
    assert_pending!(w.poll()); // waited > threshold, lock held: starve
    assert!(m.is_starving());
    // In starvation mode try_lock fails and a new lock() queues.
    assert!(m.try_lock().is_err());
    drop(barger);
    // Handed off: the mutex is locked for `w` before it even runs.
    assert!(w.is_woken());
    assert!(m.try_lock().is_err());
    assert!(!m.is_starving(), "the last waiter switches back to normal");
    let mut g = assert_ready!(w.poll());
    *g += 1;
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 1);
}

/// Starvation mode with two waiters: hand-offs go in FIFO order; the mode
/// stays while the receiver has starved and others wait, and ends when a
/// receiver waited less than the threshold.
#[test]
fn starvation_mode_left_by_short_waiter() {
    threshold(Duration::ZERO);
    let m = Mutex::new(Vec::new());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    assert_pending!(a.poll());
    std::thread::sleep(Duration::from_millis(1));
    drop(g);
    let barger = m.try_lock().unwrap();
    assert_pending!(a.poll());
    assert!(m.is_starving());
    let mut b = spawn(m.lock());
    assert_pending!(b.poll()); // newcomer queues at the tail
    assert_eq!(m.waiters(), 2);
    std::thread::sleep(Duration::from_millis(1));
    drop(barger);
    assert!(a.is_woken() && !b.is_woken());
    assert!(m.is_starving(), "a starved and b still waits");
    let mut ga = assert_ready!(a.poll());
    ga.push('a');
    threshold(NEVER); // b now counts as having waited briefly
    drop(ga);
    assert!(b.is_woken());
    assert!(!m.is_starving(), "b waited less than the threshold");
    let mut gb = assert_ready!(b.poll());
    gb.push('b');
    drop(gb);
    assert_eq!(*m.try_lock().unwrap(), ['a', 'b']);
}

/// A queued waiter dropped: the count follows, nothing else changes.
#[test]
fn dropped_queued_waiter_deregisters() {
    threshold(NEVER);
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    let mut b = spawn(m.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    assert_eq!(m.waiters(), 1);
    drop(g);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()));
    assert_eq!(m.waiters(), 0);
    assert!(m.try_lock().is_ok());
}

/// A waiter woken and then dropped before it retried passes the wake-up on.
#[test]
fn dropped_woken_waiter_wakes_the_next() {
    threshold(NEVER);
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    let mut b = spawn(m.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(g);
    assert!(a.is_woken() && !b.is_woken());
    drop(a);
    assert!(b.is_woken(), "the wake-up went to b");
    drop(assert_ready!(b.poll()));
    assert!(m.try_lock().is_ok());
}

/// A waiter handed the mutex (starvation mode) and dropped unlocks it,
/// which hands it on to the next waiter.
#[test]
fn dropped_handoff_receiver_passes_the_lock_on() {
    threshold(Duration::ZERO);
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    assert_pending!(a.poll());
    std::thread::sleep(Duration::from_millis(1));
    drop(g);
    let barger = m.try_lock().unwrap();
    assert_pending!(a.poll());
    let mut b = spawn(m.lock());
    assert_pending!(b.poll());
    std::thread::sleep(Duration::from_millis(1));
    drop(barger);
    assert!(a.is_woken());
    drop(a); // owned the mutex: hands it to b
    assert!(b.is_woken());
    let mut gb = assert_ready!(b.poll());
    *gb = 7;
    drop(gb);
    assert!(!m.is_starving());
    assert_eq!(*m.try_lock().unwrap(), 7);
}

/// Every waiter of a starving mutex cancelled: the next unlock leaves
/// starvation mode and the mutex unlocked.
#[test]
fn starvation_mode_with_every_waiter_gone() {
    threshold(Duration::ZERO);
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    assert_pending!(a.poll());
    std::thread::sleep(Duration::from_millis(1));
    drop(g);
    let barger = m.try_lock().unwrap();
    assert_pending!(a.poll());
    assert!(m.is_starving());
    drop(a);
    drop(barger);
    assert!(!m.is_starving());
    assert_eq!(m.waiters(), 0);
    assert!(m.try_lock().is_ok());
}

/// Cancellation at every poll point of a waiter among three: whichever
/// poll it is dropped after, the others all get the mutex in turn.
#[test]
fn cancel_at_every_poll_point() {
    for starve in [false, true] {
        threshold(if starve { Duration::ZERO } else { NEVER });
        for cancel_after in 0..4 {
            let m = Mutex::new(0u32);
            let g = m.try_lock().unwrap();
            let mut v = spawn(m.lock());
            let mut others = vec![spawn(m.lock()), spawn(m.lock())];
            let mut polls = 0;
            let mut victim_done = false;
            let mut maybe_poll_victim = |v: &mut tokio_test::task::Spawn<super::Lock<'_, u32>>| {
                if polls < cancel_after && !victim_done {
                    polls += 1;
                    if let std::task::Poll::Ready(mut g) = v.poll() {
                        *g += 1;
                        victim_done = true;
                    }
                }
            };
            maybe_poll_victim(&mut v);
            for o in &mut others {
                assert_pending!(o.poll());
            }
            std::thread::sleep(Duration::from_millis(1));
            drop(g);
            maybe_poll_victim(&mut v);
            maybe_poll_victim(&mut v);
            drop(v);
            let mut done = 0;
            for _ in 0..10 {
                for o in &mut others {
                    if o.is_woken() {
                        if let std::task::Poll::Ready(mut g) = o.poll() {
                            *g += 1;
                            done += 1;
                        }
                    }
                }
            }
            assert_eq!(done, 2, "starve={starve} cancel_after={cancel_after}");
            assert_eq!(m.waiters(), 0);
            assert!(!m.is_starving());
            assert!(*m.try_lock().unwrap() >= 2);
        }
    }
}

#[test]
fn get_mut_and_into_inner() {
    let mut m = Mutex::new(String::from("a"));
    m.get_mut().push('b');
    assert_eq!(m.into_inner(), "ab");
}

/// Real threads through the whole protocol (small counts, so that Miri
/// checks the data accesses for races in reasonable time).
#[test]
fn threads_increment_exactly() {
    let m = std::sync::Arc::new(Mutex::new(0u32));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..30 {
                    *m.lock_blocking() += 1;
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), 90);
}
