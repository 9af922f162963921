//! Once on gort's runtime: Go's sync/once_test.go behaviours in our own
//! words (TestOnce: exactly once under contention, callers return only
//! after it ran; TestOncePanic: a panicking call counts as done).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use gort_core::Builder;
use gort_sync::Once;

#[test]
fn runs_exactly_once_under_contention() {
    let rt = Builder::new().procs(4).build().unwrap();
    rt.block_on(async {
        for _ in 0..50 {
            let once = Arc::new(Once::new());
            let runs = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let (once, runs) = (once.clone(), runs.clone());
                    gort_core::spawn(async move {
                        once.do_once(|| async {
                            gort_core::yield_now().await; // others arrive meanwhile
                            runs.fetch_add(1, SeqCst);
                        })
                        .await;
                        // Go: every caller returns only after f has returned.
                        assert_eq!(runs.load(SeqCst), 1);
                        assert!(once.is_completed());
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(runs.load(SeqCst), 1);
        }
    });
}

#[test]
fn panicking_call_counts_as_done() {
    let rt = Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let once = Arc::new(Once::new());
        let o = once.clone();
        let r = gort_core::spawn(async move { o.call_once(|| panic!("init failed")).await }).await;
        assert!(r.unwrap_err().is_panic());
        assert!(once.is_completed());
        let mut ran = false;
        once.call_once(|| ran = true).await;
        assert!(!ran);
    });
}
