//! WaitGroup: Go's sync/waitgroup_test.go behaviours, in our own words
//! (TestWaitGroup, TestWaitGroupMisuse, TestWaitGroupRace), and `wg.go`.
//! "Add called concurrently with Wait" needs an `add` inside the last
//! `done`; its deterministic test is a unit test in `src/waitgroup.rs`.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use gort_core::{Builder, Runtime};
use gort_sync::WaitGroup;

fn rt() -> Runtime {
    Builder::new().procs(2).build().unwrap()
}

/// Go's TestWaitGroup: two groups hand control back and forth; wait returns
/// only after every done.
#[test]
fn wait_returns_after_all_done() {
    let rt = rt();
    rt.block_on(async {
        for _ in 0..100 {
            let wg1 = WaitGroup::new();
            let wg2 = WaitGroup::new();
            const N: usize = 16;
            wg1.add(N as isize);
            wg2.add(N as isize);
            let exited = Arc::new(AtomicUsize::new(0));
            for _ in 0..N {
                let (wg1, wg2, exited) = (wg1.clone(), wg2.clone(), exited.clone());
                gort_core::spawn(async move {
                    wg1.done();
                    wg2.wait().await;
                    exited.fetch_add(1, SeqCst);
                });
            }
            wg1.wait().await;
            for i in 0..N {
                assert_eq!(
                    exited.load(SeqCst),
                    0,
                    "a task passed wg2.wait() early at {i}"
                );
                wg2.done();
            }
            // All N are now released; wait for them through a third group.
            while exited.load(SeqCst) != N {
                gort_core::yield_now().await;
            }
        }
    });
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
fn negative_counter_panic_leaves_group_usable() {
    let wg = WaitGroup::new();
    let r = std::panic::catch_unwind(|| wg.add(-1));
    assert!(r.is_err());
    assert_eq!(wg.count(), 0);
    wg.wait_blocking();
}

#[test]
fn go_counts_and_survives_panics() {
    let rt = rt();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    rt.block_on(async move {
        let wg = WaitGroup::new();
        for i in 0..1000 {
            let n = n2.clone();
            wg.go(async move {
                if i % 100 == 0 {
                    panic!("task {i} fails");
                }
                gort_core::yield_now().await;
                n.fetch_add(1, SeqCst);
            });
        }
        wg.wait().await;
        assert_eq!(wg.count(), 0);
    });
    assert_eq!(n.load(SeqCst), 990);
}

#[test]
fn wait_on_zero_is_immediate_and_many_waiters_wake() {
    let rt = rt();
    rt.block_on(async {
        let wg = WaitGroup::new();
        wg.wait().await;
        wg.add(1);
        let waiters: Vec<_> = (0..50)
            .map(|_| {
                let wg = wg.clone();
                gort_core::spawn(async move { wg.wait().await })
            })
            .collect();
        gort_core::time::sleep(Duration::from_millis(2)).await;
        wg.done();
        for w in waiters {
            w.await.unwrap();
        }
    });
}

#[test]
fn wait_blocking_from_a_thread() {
    let rt = rt();
    let wg = WaitGroup::new();
    wg.add(3);
    for _ in 0..3 {
        let wg = wg.clone();
        rt.spawn(async move {
            gort_core::time::sleep(Duration::from_millis(1)).await;
            wg.done();
        });
    }
    wg.wait_blocking();
    assert_eq!(wg.count(), 0);
}

fn poll_once(w: Pin<&mut gort_sync::Wait<'_>>) -> Poll<()> {
    w.poll(&mut Context::from_waker(Waker::noop()))
}

/// Go's "reused before previous Wait has returned": a wait released by the
/// zero is polled again only after an `add` started the next round. The
/// `add` itself is not misuse here (the waiter was released, not waiting).
#[test]
#[should_panic(expected = "sync: WaitGroup is reused before previous Wait has returned")]
fn reuse_before_the_previous_wait_returned_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut w = pin!(wg.wait());
    assert_eq!(poll_once(w.as_mut()), Poll::Pending);
    wg.done(); // zero: the waiter is released, but has not returned yet
    wg.add(1); // the next round starts too early
    let _ = poll_once(w.as_mut());
}

/// The same steps in the right order: the wait returns before the next
/// round's `add`, and a wait dropped after its release is not checked.
#[test]
fn reuse_after_the_wait_returned_is_fine() {
    let wg = WaitGroup::new();
    for _ in 0..3 {
        wg.add(2);
        let mut w = pin!(wg.wait());
        let mut dropped = Box::pin(wg.wait());
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
        assert_eq!(poll_once(dropped.as_mut()), Poll::Pending);
        wg.done();
        assert_eq!(poll_once(w.as_mut()), Poll::Pending);
        wg.done();
        drop(dropped); // released, never polled again: not a return
        assert_eq!(poll_once(w.as_mut()), Poll::Ready(()));
    }
    assert_eq!(wg.count(), 0);
}

/// Correct use under contention, with no misuse panic: each round, tasks
/// `done` while waiters wait (some dropped by a timeout racing the zero);
/// the next round's `add` comes after every waiter of the round returned.
#[test]
fn rounds_of_correct_reuse_never_panic() {
    const ROUNDS: usize = if cfg!(debug_assertions) { 300 } else { 3_000 };
    const WORKERS: usize = 4;
    const WAITERS: usize = 4;
    let rt = rt();
    rt.block_on(async {
        let wg = WaitGroup::new();
        for round in 0..ROUNDS {
            wg.add(WORKERS as isize);
            let waiters: Vec<_> = (0..WAITERS)
                .map(|i| {
                    let wg = wg.clone();
                    gort_core::spawn(async move {
                        if (round + i) % 3 == 0 {
                            // Dropped by the timeout, or returned: either
                            // way done with before the next round.
                            let _ =
                                gort_core::time::timeout(Duration::from_micros(1), wg.wait()).await;
                        } else {
                            wg.wait().await;
                        }
                    })
                })
                .collect();
            for _ in 0..WORKERS {
                let wg = wg.clone();
                gort_core::spawn(async move {
                    gort_core::yield_now().await;
                    wg.done();
                });
            }
            for w in waiters {
                w.await.expect("no waiter panicked");
            }
            wg.wait().await;
            assert_eq!(wg.count(), 0);
        }
    });
}

#[test]
fn after_delivers_once_and_works_in_select_like_position() {
    let rt = rt();
    rt.block_on(async {
        let t0 = std::time::Instant::now();
        let rx = gort_sync::time::after(Duration::from_millis(3));
        let at = rx.recv().await.expect("one value");
        assert!(at >= t0 + Duration::from_millis(3));
        assert_eq!(
            rx.try_recv(),
            Err(gort_sync::TryRecvError::Empty),
            "only one value, never closed"
        );
        // Awaiting the receiver itself (IntoFuture).
        assert!(gort_sync::time::after(Duration::from_millis(1))
            .await
            .is_some());
    });
}
