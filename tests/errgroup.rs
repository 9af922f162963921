//! ErrGroup: the behaviours of x/sync's errgroup tests (TestZeroGroup,
//! TestWithContext, TestGoLimit, TestTryGo, TestPanic), in our own words.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::context::{self, Error};
use gort::sync::ErrGroup;

#[gort::test]
async fn zero_group_returns_the_first_error() {
    // Go's TestZeroGroup: errors in order; wait returns the first.
    let cases: [&[Option<&str>]; 4] =
        [&[], &[None], &[Some("e1")], &[Some("e1"), None, Some("e2")]];
    for errs in cases {
        let g = ErrGroup::<&str>::new();
        let mut first = None;
        for e in errs {
            let e = *e;
            // One at a time, so "first" is well defined.
            let h = g.go(async move { e.map_or(Ok(()), Err) });
            h.await.unwrap();
            first = first.or(e);
        }
        assert_eq!(g.wait().await.err(), first, "{errs:?}");
    }
}

#[gort::test(procs = 2)]
async fn with_context_cancels_the_rest_on_failure() {
    let (g, ctx) = ErrGroup::with_context(&context::background());
    let cancelled = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let (ctx, cancelled) = (ctx.clone(), cancelled.clone());
        g.go(async move {
            ctx.done().await;
            assert_eq!(ctx.err(), Some(Error::Canceled));
            cancelled.fetch_add(1, SeqCst);
            Ok(())
        });
    }
    g.go(async { Err("boom") });
    assert_eq!(g.wait().await, Err("boom"));
    assert_eq!(cancelled.load(SeqCst), 10);
    assert_eq!(ctx.err(), Some(Error::Canceled));
}

#[gort::test]
async fn wait_cancels_the_context_on_success_too() {
    let (g, ctx) = ErrGroup::<()>::with_context(&context::background());
    g.go(async { Ok(()) });
    assert_eq!(g.wait().await, Ok(()));
    assert_eq!(ctx.err(), Some(Error::Canceled), "Go's Wait cancels");
}

#[gort::test(procs = 2)]
async fn limit_bounds_the_running_tasks() {
    const LIMIT: usize = 3;
    let g = ErrGroup::<()>::new();
    g.set_limit(LIMIT);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let (running, peak) = (running.clone(), peak.clone());
        g.go(async move {
            let now = running.fetch_add(1, SeqCst) + 1;
            peak.fetch_max(now, SeqCst);
            gort::time::sleep(Duration::from_micros(200)).await;
            running.fetch_sub(1, SeqCst);
            Ok(())
        });
    }
    g.wait().await.unwrap();
    assert!(peak.load(SeqCst) <= LIMIT, "peak {}", peak.load(SeqCst));
    assert!(peak.load(SeqCst) >= 1);
}

#[gort::test]
async fn try_go_respects_the_limit() {
    let g = ErrGroup::<()>::new();
    g.set_limit(1);
    let (tx, rx) = gort::sync::chan::<()>(0);
    let first = g.try_go(async move {
        rx.recv().await;
        Ok(())
    });
    assert!(first.is_some());
    assert!(
        g.try_go(async { Ok(()) }).is_none(),
        "the only slot is taken"
    );
    tx.send(()).await.unwrap();
    g.wait().await.unwrap();
    assert!(g.try_go(async { Ok(()) }).is_some(), "the slot came back");
    g.wait().await.unwrap();
}

#[gort::test]
#[should_panic(expected = "modify limit")]
async fn set_limit_with_active_tasks_panics() {
    let g = ErrGroup::<()>::new();
    let (_tx, rx) = gort::sync::chan::<()>(0);
    g.go(async move {
        rx.recv().await;
        Ok(())
    });
    g.set_limit(2);
}

#[gort::test]
async fn a_panic_is_resumed_by_wait() {
    let (g, ctx) = ErrGroup::<()>::with_context(&context::background());
    g.go(async { panic!("task panicked") });
    let waited = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(g.wait())).await;
    let payload = waited.expect_err("wait resumes the panic");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"task panicked"));
    assert_eq!(ctx.err(), Some(Error::Canceled), "a panic cancels too");
}
