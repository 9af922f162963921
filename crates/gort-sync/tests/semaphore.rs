//! Semaphore on gort's runtime: x/sync/semaphore's tests in our own words
//! (TestWeighted: never more than the size held; TestLargeAcquireDoesntStarve).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use gort_core::Builder;
use gort_sync::Semaphore;

#[test]
fn never_more_than_size_held() {
    const SIZE: usize = 8;
    let rt = Builder::new().procs(4).build().unwrap();
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(SIZE));
        let held = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (1..=SIZE)
            .map(|n| {
                let (sem, held) = (sem.clone(), held.clone());
                gort_core::spawn(async move {
                    for _ in 0..500 {
                        sem.acquire(n).await.unwrap();
                        let now = held.fetch_add(n, SeqCst) + n;
                        assert!(now <= SIZE, "{now} permits held of {SIZE}");
                        gort_core::yield_now().await;
                        held.fetch_sub(n, SeqCst);
                        sem.release(n);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(sem.available(), SIZE);
    });
}

/// A request for every permit gets them while small acquirers keep
/// cycling: FIFO admission stops the small ones from overtaking it.
#[test]
fn large_acquire_does_not_starve() {
    const SIZE: usize = 4;
    let rt = Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(SIZE));
        let stop = Arc::new(AtomicBool::new(false));
        let smalls: Vec<_> = (0..SIZE)
            .map(|_| {
                let (sem, stop) = (sem.clone(), stop.clone());
                gort_core::spawn(async move {
                    while !stop.load(SeqCst) {
                        sem.acquire(1).await.unwrap();
                        gort_core::yield_now().await;
                        sem.release(1);
                    }
                })
            })
            .collect();
        gort_core::yield_now().await;
        sem.acquire(SIZE).await.unwrap();
        stop.store(true, SeqCst);
        sem.release(SIZE);
        for s in smalls {
            s.await.unwrap();
        }
    });
}
