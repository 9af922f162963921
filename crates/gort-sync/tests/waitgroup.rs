//! WaitGroup: Go's sync/waitgroup_test.go behaviours, in our own words
//! (TestWaitGroup, TestWaitGroupMisuse, TestWaitGroupRace), and `wg.go`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
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

/// Go's TestWaitGroupMisuse2-like: reuse before the previous wait returned
/// is caught when it is visible: an add from zero while waiters remain.
#[test]
fn add_from_zero_with_registered_waiter_panics() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};
    let wg = WaitGroup::new();
    wg.add(1);
    let mut w = pin!(wg.wait());
    let waker = futures::task::noop_waker();
    assert_eq!(
        w.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Pending
    );
    wg.done(); // zero: the waiter is woken but has not returned yet
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wg.add(1)));
    let msg = r.unwrap_err();
    assert_eq!(
        *msg.downcast_ref::<&str>().unwrap(),
        "sync: WaitGroup misuse: Add called concurrently with Wait"
    );
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
