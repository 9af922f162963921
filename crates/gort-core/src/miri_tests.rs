//! A real runtime under Miri: small programs that start a [`Runtime`]
//! (one P and two) and go through the scheduler's own paths, so that Miri
//! checks the code that decides most outcomes, not only the task cell's
//! unit tests: the Ms' loop (`sched/worker/`), `find_runnable` and its
//! steals between two Ps, `runnext`, the global queue, stop-M and
//! `wakep`, sysmon, the timer queues and the timer-ready hand-off, the
//! poller's wait (its Miri stand-in: `io/poller.rs`), the blocking pool
//! and `gort::syscall`'s hand-off, a wake from a thread outside the
//! runtime, and the runtime's drop with tasks still parked.
//!
//! Each test is small (a few dozen tasks, sleeps of a millisecond or two)
//! so that Miri, which interprets every step of every thread, finishes
//! them in seconds; as normal tests they run in milliseconds. Every wait
//! is bounded by a count, never a wall-clock ratio.
//!
//! Under Miri they are run by `.ci/run` with Tree Borrows and without the
//! leak check (`-Zmiri-tree-borrows -Zmiri-ignore-leaks`, `--ignored`):
//! crossbeam-epoch (under crossbeam-deque's global queue and stealers)
//! fails Stacked Borrows in its intrusive list (`Local::element_of`, not
//! this crate's code), and its global collector's garbage queue, which
//! outlives the process, links its nodes through tagged integers that
//! Miri's leak check cannot follow. A plain `cargo +nightly miri test`
//! skips them (they are `ignore`d under Miri), so its Stacked Borrows run
//! with the leak check stays clean for the unit tests.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::{Builder, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// How many tasks a test spawns: few under Miri.
fn tasks() -> u64 {
    if cfg!(miri) {
        6
    } else {
        200
    }
}

/// Spawn, join and `yield_now` with one P and with two: every task's
/// output comes back once, through its `JoinHandle`, whichever M ran it
/// (with two Ps the idle one steals).
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn spawn_join_and_yield() {
    for procs in [1, 2] {
        let rt = rt(procs);
        let n = tasks();
        let sum = rt.block_on(async move {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    crate::spawn(async move {
                        for _ in 0..3 {
                            crate::yield_now().await;
                        }
                        // A nested spawn goes to `runnext`.
                        crate::spawn(async move { i * 2 }).await.unwrap()
                    })
                })
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, n * (n - 1), "procs {procs}");
    }
}

/// Timers: tasks sleeping a millisecond or two on each P wake in deadline
/// order per task, a `timeout` fires on a future that never completes, and
/// one that completes in time is not cut short.
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn sleeps_and_timeouts() {
    for procs in [1, 2] {
        let rt = rt(procs);
        let woke = Arc::new(AtomicUsize::new(0));
        let n = if cfg!(miri) { 4 } else { 50 };
        let w = woke.clone();
        rt.block_on(async move {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let w = w.clone();
                    crate::spawn(async move {
                        let start = crate::time::now();
                        crate::time::sleep(Duration::from_millis(1 + i % 2)).await;
                        assert!(crate::time::now() >= start + Duration::from_millis(1 + i % 2));
                        w.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            let never = std::future::pending::<()>();
            let r = crate::time::timeout(Duration::from_millis(1), never).await;
            assert!(r.is_err(), "a pending future times out");
            let r = crate::time::timeout(Duration::from_secs(60), async { 7 }).await;
            assert_eq!(r.ok(), Some(7));
        });
        assert_eq!(woke.load(SeqCst), n as usize, "procs {procs}");
    }
}

/// Wakes from outside: a plain thread wakes parked tasks by reference and
/// by value (the injector and `wakep` path), `spawn_blocking` runs on the
/// pool and its result comes back, and `syscall` hands the P off and
/// takes it back.
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn foreign_wakes_blocking_and_syscall() {
    for procs in [1, 2] {
        let rt = rt(procs);
        let n = if cfg!(miri) { 3 } else { 50 };
        rt.block_on(async move {
            let slots: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
            let done = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let (slots, done) = (slots.clone(), done.clone());
                    let mut parked = false;
                    crate::spawn(poll_fn(move |cx| {
                        if !parked {
                            parked = true;
                            slots.lock().unwrap().push(cx.waker().clone());
                            return Poll::Pending;
                        }
                        done.fetch_add(1, SeqCst);
                        Poll::Ready(())
                    }))
                })
                .collect();
            // Wait (by yielding, a bounded number of times) until every
            // task has parked, then wake them from a thread of its own.
            let mut spins = 0u64;
            while slots.lock().unwrap().len() < n {
                crate::yield_now().await;
                spins += 1;
                assert!(spins < 1_000_000, "tasks never parked");
            }
            let wakers = std::mem::take(&mut *slots.lock().unwrap());
            let t = std::thread::spawn(move || {
                for (i, w) in wakers.into_iter().enumerate() {
                    if i % 2 == 0 {
                        w.wake_by_ref();
                    } else {
                        w.wake();
                    }
                }
            });
            for h in hs {
                h.await.unwrap();
            }
            t.join().unwrap();
            assert_eq!(done.load(SeqCst), n);

            let b = crate::spawn_blocking(|| 40 + 2).await.unwrap();
            assert_eq!(b, 42);
            let s = crate::syscall(|| 5);
            assert_eq!(s, 5);
        });
    }
}

/// A runtime dropped with tasks still parked (on a timer that has not
/// fired, and on a waker nobody will call) drops their futures: each
/// future's drop runs once, and the runtime's threads exit.
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn drop_with_parked_tasks() {
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    for procs in [1, 2] {
        let dropped = Arc::new(AtomicUsize::new(0));
        let rt = rt(procs);
        let started = Arc::new(AtomicUsize::new(0));
        for i in 0..4 {
            let c = Count(dropped.clone());
            let s = started.clone();
            drop(rt.spawn(async move {
                let _c = c;
                s.fetch_add(1, SeqCst);
                if i % 2 == 0 {
                    crate::time::sleep(Duration::from_secs(3600)).await;
                } else {
                    std::future::pending::<()>().await;
                }
            }));
        }
        rt.block_on(async {
            let mut spins = 0u64;
            while started.load(SeqCst) < 4 {
                crate::yield_now().await;
                spins += 1;
                assert!(spins < 1_000_000, "tasks never started");
            }
        });
        drop(rt);
        assert_eq!(dropped.load(SeqCst), 4, "procs {procs}");
    }
}
