//! Mutex on gort's runtime: Go's sync/mutex_test.go behaviours in our own
//! words (TestMutex's hammering, TestMutexFairness's "a waiter eventually
//! gets it", TryLock), plus cancellation under contention and plain threads.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort_core::{Builder, Runtime};
use gort_sync::Mutex;

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// A deliberately non-atomic counter: only mutual exclusion keeps it exact.
struct Racy(UnsafeCell<u64>);
// SAFETY: every access in these tests happens under the gort Mutex.
unsafe impl Sync for Racy {}

/// Go's HammerMutex: N tasks × M increments of a plain counter under the
/// lock; the total is exact.
#[test]
fn mutual_exclusion_under_contention() {
    const TASKS: usize = 8;
    const INCS: usize = 5_000;
    for procs in [1, 4] {
        let rt = rt(procs);
        let total = rt.block_on(async {
            let m = Arc::new(Mutex::new(()));
            let racy = Arc::new(Racy(UnsafeCell::new(0)));
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    let (m, racy) = (m.clone(), racy.clone());
                    gort_core::spawn(async move {
                        for j in 0..INCS {
                            let _g = m.lock().await;
                            // SAFETY: under the mutex.
                            let v = unsafe { *racy.0.get() };
                            if (i + j) % 64 == 0 {
                                gort_core::yield_now().await; // hold it across a yield
                            }
                            // SAFETY: under the mutex.
                            unsafe { *racy.0.get() = v + 1 };
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let _g = m.lock().await;
            // SAFETY: under the mutex, every task finished.
            unsafe { *racy.0.get() }
        });
        assert_eq!(total, (TASKS * INCS) as u64, "procs={procs}");
    }
}

/// Go's TestMutexFairness: one task re-locks in a tight loop while another
/// wants the lock once; starvation mode guarantees the second gets it.
#[test]
fn waiter_is_not_starved_by_a_relocker() {
    let rt = rt(2);
    rt.block_on(async {
        let m = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m2, stop2) = (m.clone(), stop.clone());
        let hog = gort_core::spawn(async move {
            while !stop2.load(SeqCst) {
                let _g = m2.lock().await;
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        gort_core::yield_now().await;
        for _ in 0..10 {
            drop(m.lock().await);
        }
        stop.store(true, SeqCst);
        hog.await.unwrap();
    });
}

/// Lock futures dropped while pending (timeouts) never leak the lock or a
/// wake-up: every task that does not give up still finishes.
#[test]
fn cancelled_lockers_under_contention() {
    let rt = rt(2);
    rt.block_on(async {
        let m = Arc::new(Mutex::new(0u64));
        let gave_up = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (m, gave_up) = (m.clone(), gave_up.clone());
                gort_core::spawn(async move {
                    for _ in 0..500 {
                        if i % 2 == 0 {
                            // Give up almost at once, often while queued or
                            // after being woken or handed the lock.
                            let r =
                                gort_core::time::timeout(Duration::from_micros(1), m.lock()).await;
                            match r {
                                Ok(mut g) => *g += 1,
                                Err(_) => {
                                    gave_up.fetch_add(1, SeqCst);
                                }
                            }
                        } else {
                            let mut g = m.lock().await;
                            *g += 1;
                            if *g % 16 == 0 {
                                gort_core::yield_now().await;
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let n = *m.lock().await;
        assert_eq!(n + gave_up.load(SeqCst) as u64, 8 * 500);
        assert_eq!(m.waiters(), 0);
        assert!(!m.is_starving());
    });
}

/// lock_blocking from plain threads, mixed with tasks.
#[test]
fn plain_threads_and_tasks_share_a_mutex() {
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    *m.lock_blocking() += 1;
                }
            })
        })
        .collect();
    let rt = rt(2);
    let m2 = m.clone();
    rt.block_on(async move {
        for _ in 0..2_000 {
            *m2.lock().await += 1;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), 6_000);
}

#[test]
fn try_lock_like_go() {
    let m = Mutex::new(1);
    let g = m.try_lock().expect("free");
    assert!(m.try_lock().is_err());
    drop(g);
    assert!(m.try_lock().is_ok());
}

/// Go's "sync: unlock of unlocked mutex", through the unsafe
/// `force_unlock` (the guard API cannot unlock twice).
#[test]
#[should_panic(expected = "sync: unlock of unlocked mutex")]
fn unlock_of_unlocked_panics() {
    let m = Mutex::new(());
    // SAFETY: no guard of `m` exists.
    unsafe { m.force_unlock() };
}

#[test]
fn forgotten_guard_force_unlocked() {
    let m = Mutex::new(3);
    std::mem::forget(m.try_lock().unwrap());
    assert!(m.try_lock().is_err());
    // SAFETY: the guard was forgotten; no guard is used after this.
    unsafe { m.force_unlock() };
    assert_eq!(*m.try_lock().unwrap(), 3);
}
