//! RwMutex on gort's runtime: Go's sync/rwmutex_test.go behaviours in our
//! own words (parallel readers, HammerRWMutex's exclusion check, writer
//! preference).

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::SeqCst};
use std::sync::Arc;

use gort_core::Builder;
use gort_sync::RwMutex;

/// Go's TestParallelReaders: several readers hold the lock at once.
#[test]
fn readers_share_the_lock() {
    let rt = Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let rw = Arc::new(RwMutex::new(()));
        let (tx, rx) = gort_sync::chan::<()>(0);
        let (go_tx, go_rx) = gort_sync::chan::<()>(0);
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (rw, tx, go_rx) = (rw.clone(), tx.clone(), go_rx.clone());
            tasks.push(gort_core::spawn(async move {
                let _r = rw.read().await;
                tx.send(()).await.unwrap();
                go_rx.recv().await; // everyone holds a read lock here
            }));
        }
        for _ in 0..4 {
            rx.recv().await.unwrap();
        }
        assert!(rw.try_write().is_err());
        for _ in 0..4 {
            go_tx.send(()).await.unwrap();
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(rw.try_write().is_ok());
    });
}

/// Go's HammerRWMutex: an activity counter that writers move by 10000 and
/// readers by 1 must never show a writer next to anyone.
#[test]
fn hammer_readers_and_writers() {
    for procs in [1, 4] {
        let rt = Builder::new().procs(procs).build().unwrap();
        rt.block_on(async {
            let rw = Arc::new(RwMutex::new(0u64));
            let activity = Arc::new(AtomicIsize::new(0));
            let tasks: Vec<_> = (0..10)
                .map(|i| {
                    let (rw, activity) = (rw.clone(), activity.clone());
                    gort_core::spawn(async move {
                        for k in 0..1_000 {
                            if i % 3 == 0 {
                                let mut g = rw.write().await;
                                let n = activity.fetch_add(10_000, SeqCst);
                                assert_eq!(n, 0, "writer saw activity");
                                *g += 1;
                                if k % 32 == 0 {
                                    gort_core::yield_now().await;
                                }
                                activity.fetch_sub(10_000, SeqCst);
                            } else {
                                let _g = rw.read().await;
                                let n = activity.fetch_add(1, SeqCst);
                                assert!(n < 10_000, "reader saw a writer");
                                if k % 32 == 0 {
                                    gort_core::yield_now().await;
                                }
                                activity.fetch_sub(1, SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*rw.read().await, 4 * 1_000);
        });
    }
}

/// A steady stream of overlapping readers cannot keep a writer out.
#[test]
fn writer_not_starved_by_readers() {
    let rt = Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let rw = Arc::new(RwMutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (rw, stop) = (rw.clone(), stop.clone());
                gort_core::spawn(async move {
                    while !stop.load(SeqCst) {
                        let _r = rw.read().await;
                        gort_core::yield_now().await;
                    }
                })
            })
            .collect();
        gort_core::yield_now().await;
        for _ in 0..20 {
            drop(rw.write().await);
        }
        stop.store(true, SeqCst);
        for r in readers {
            r.await.unwrap();
        }
    });
}

/// Go's manual RUnlock/Unlock misuse panics, through the unsafe
/// `force_unlock_*` (the guard API cannot unlock twice).
#[test]
#[should_panic(expected = "sync: RUnlock of unlocked RWMutex")]
fn runlock_of_unlocked_panics() {
    let rw = RwMutex::new(());
    // SAFETY: no guard of `rw` exists.
    unsafe { rw.force_unlock_read() };
}

#[test]
#[should_panic(expected = "sync: Unlock of unlocked RWMutex")]
fn unlock_of_unlocked_panics() {
    let rw = RwMutex::new(());
    // SAFETY: no guard of `rw` exists.
    unsafe { rw.force_unlock_write() };
}

#[test]
fn forgotten_guard_force_unlocked() {
    let rw = RwMutex::new(1);
    std::mem::forget(rw.try_write().unwrap());
    assert!(rw.try_read().is_err());
    // SAFETY: the write guard was forgotten; no guard is used after this.
    unsafe { rw.force_unlock_write() };
    assert_eq!(*rw.try_read().unwrap(), 1);
}
