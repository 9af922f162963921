//! Go's own context tests, re-expressed for `gort::context`.
//!
//! Ported from Go's `context/context_test.go` and `context/x_test.go`
//! (Go 1.19, plus the later `Cause`, `AfterFunc` and `WithoutCancel` tests
//! of Go 1.21), BSD license, Copyright The Go Authors. Rewritten in Rust,
//! not translated line by line.
//!
//! | Rust test                                  | Go original                                |
//! |--------------------------------------------|--------------------------------------------|
//! | `background_and_todo`                      | `TestBackground`, `TestTODO`               |
//! | `with_cancel_reaches_every_layer`          | `TestWithCancel`                           |
//! | `parent_finishes_child`                    | `TestParentFinishesChild`                  |
//! | `child_finishes_first`                     | `TestChildFinishesFirst`                   |
//! | `deadline`, `timeout`                      | `TestDeadline`, `TestTimeout`              |
//! | `canceled_timeout`                         | `TestCanceledTimeout`                      |
//! | `values`                                   | `TestValues`                               |
//! | `simultaneous_cancels`                     | `TestSimultaneousCancels`                  |
//! | `interlocked_cancels`                      | `TestInterlockedCancels`                   |
//! | `layers_cancel`, `layers_timeout`          | `TestLayersCancel`, `TestLayersTimeout`    |
//! | `child_of_canceled_parent`                 | `TestWithCancelCanceledParent`             |
//! | `causes`                                   | `TestCause`                                |
//! | `cause_is_never_seen_half_set`             | `TestCauseRace`                            |
//! | `without_cancel`                           | `TestWithoutCancel`                        |
//! | `after_func_*`                             | `TestAfterFunc*`                           |
//! | `deadline_exceeded_is_a_timeout`           | `TestDeadlineExceededSupportsTimeout`      |
//!
//! Not ported: the tests of Go's `otherContext` (a user type implementing
//! the interface: `Context` is a concrete type here), of invalid or nil
//! keys and parents (the types rule them out), and `TestAllocs`.
//! `TestCancelRemoves` lives in the crate's unit tests, which can see a
//! parent's children.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use gort::context::{self, Context, Error};

/// Far more than any deadline below needs, so a slow CI machine cannot fail
/// a test; a hang fails it with a dump instead.
const PATIENCE: Duration = Duration::from_secs(30);

async fn must_finish(ctx: &Context, what: &str) {
    if gort::time::timeout(PATIENCE, ctx.done()).await.is_err() {
        panic!("{what}: not done after {PATIENCE:?}: {ctx:?}");
    }
}

/// Asserts `ctx` is not done, giving it a moment to (wrongly) become so.
async fn must_not_finish(ctx: &Context, what: &str) {
    gort::select! {
        _ = ctx.done() => panic!("{what}: done early: {ctx:?}"),
        _ = gort::time::sleep(Duration::from_millis(5)) => {}
    }
    assert_eq!(ctx.err(), None, "{what}");
}

#[derive(Debug)]
struct Because(&'static str);

impl std::fmt::Display for Because {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Because {}

fn cause_text(ctx: &Context) -> Option<String> {
    context::cause(ctx).map(|c| c.to_string())
}

#[gort::test]
async fn background_and_todo() {
    for (ctx, name) in [
        (context::background(), "context.Background"),
        (context::todo(), "context.TODO"),
    ] {
        assert_eq!(format!("{ctx:?}"), name);
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.deadline(), None);
        assert!(context::cause(&ctx).is_none());
        must_not_finish(&ctx, name).await;
    }
}

#[gort::test]
async fn with_cancel_reaches_every_layer() {
    let (c1, cancel) = context::with_cancel(&context::background());
    assert_eq!(format!("{c1:?}"), "context.Background.WithCancel");
    let o = context::with_value(&c1, "layer", 1u8);
    let (c2, _cancel2) = context::with_cancel(&o);
    let all = [c1, o, c2];
    for (i, c) in all.iter().enumerate() {
        must_not_finish(c, &format!("layer {i} before cancel")).await;
    }
    cancel.cancel();
    for (i, c) in all.iter().enumerate() {
        must_finish(c, &format!("layer {i}")).await;
        assert_eq!(c.err(), Some(Error::Canceled));
    }
    assert_eq!(
        format!("{:?}", all[2]),
        "context.Background.WithCancel.WithValue(&str, u8).WithCancel (context canceled)"
    );
}

#[gort::test]
async fn parent_finishes_child() {
    let (parent, cancel) = context::with_cancel(&context::background());
    let (cancel_child, _a) = context::with_cancel(&parent);
    let value_child = context::with_value(&parent, "key", "value");
    let (timer_child, _b) = context::with_timeout(&value_child, Duration::from_secs(24 * 3600));
    let children = [&cancel_child, &value_child, &timer_child];
    for c in children {
        assert_eq!(c.err(), None);
    }
    cancel.cancel();
    for c in children {
        must_finish(c, "child").await;
        assert_eq!(c.err(), Some(Error::Canceled));
    }
    // A child made now is done at once.
    let (late, _c) = context::with_cancel(&parent);
    assert_eq!(late.err(), Some(Error::Canceled));
    must_finish(&late, "late child").await;
}

#[gort::test]
async fn child_finishes_first() {
    let (parent, cancel_parent) = context::with_cancel(&context::background());
    let (child, cancel_child) = context::with_cancel(&parent);
    cancel_child.cancel();
    must_finish(&child, "child").await;
    assert_eq!(child.err(), Some(Error::Canceled));
    must_not_finish(&parent, "parent").await;
    cancel_parent.cancel();
    must_finish(&parent, "parent").await;
    assert_eq!(child.err(), Some(Error::Canceled), "unchanged");
}

#[gort::test]
async fn deadline() {
    let bg = context::background();
    let at = Instant::now() + Duration::from_millis(20);
    let (c, _cancel) = context::with_deadline(&bg, at);
    assert_eq!(c.deadline(), Some(at));
    assert!(format!("{c:?}").starts_with("context.Background.WithDeadline("));
    must_finish(&c, "deadline").await;
    assert_eq!(c.err(), Some(Error::DeadlineExceeded));
    assert!(Instant::now() >= at, "done before its deadline");

    // A later deadline under an earlier one keeps the earlier.
    let at = Instant::now() + Duration::from_millis(20);
    let (outer, _c1) = context::with_deadline(&bg, at);
    let o = context::with_value(&outer, 1u32, ());
    let (inner, _c2) = context::with_deadline(&o, at + Duration::from_secs(3600));
    assert_eq!(inner.deadline(), Some(at));
    must_finish(&inner, "inner").await;
    assert_eq!(inner.err(), Some(Error::DeadlineExceeded));

    // An earlier deadline under a later one is the child's own.
    let (outer, _c1) = context::with_timeout(&bg, Duration::from_secs(3600));
    let soon = Instant::now() + Duration::from_millis(10);
    let (inner, _c2) = context::with_deadline(&outer, soon);
    assert_eq!(inner.deadline(), Some(soon));
    must_finish(&inner, "inner with the earlier deadline").await;
    assert_eq!(outer.err(), None, "never upward");

    // Already expired.
    let (c, _cancel) = context::with_deadline(&bg, Instant::now() - Duration::from_secs(1));
    assert_eq!(c.err(), Some(Error::DeadlineExceeded));
}

#[gort::test]
async fn timeout() {
    let (c, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(20));
    let d = c.deadline().expect("a deadline");
    assert!(d > Instant::now() - Duration::from_millis(1));
    must_finish(&c, "timeout").await;
    assert_eq!(c.err(), Some(Error::DeadlineExceeded));
    let (c, _cancel) = context::with_timeout(&context::background(), Duration::ZERO);
    assert_eq!(c.err(), Some(Error::DeadlineExceeded));
    // A timeout too large to represent is just far away.
    let (c, _cancel) = context::with_timeout(&context::background(), Duration::MAX);
    assert!(c.deadline().is_some());
    assert_eq!(c.err(), None);
}

#[gort::test]
async fn canceled_timeout() {
    let (c, _c1) = context::with_timeout(&context::background(), Duration::from_secs(1));
    let o = context::with_value(&c, 7i64, 7i64);
    let (c, cancel) = context::with_timeout(&o, Duration::from_secs(2));
    cancel.cancel();
    must_finish(&c, "canceled timeout").await;
    assert_eq!(c.err(), Some(Error::Canceled));
}

#[gort::test]
async fn values() {
    // Go's key1/key2/key3: distinct types, so equal numbers never collide.
    #[derive(PartialEq, Eq)]
    struct Key1(i32);
    #[derive(PartialEq, Eq)]
    struct Key2(i32);
    #[derive(PartialEq, Eq)]
    struct Key3(i32);
    let (k1, k2, k3) = (Key1(1), Key2(1), Key3(1));

    fn check(c: &Context, name: &str, v1: Option<&str>, v2: Option<&str>, v3: Option<&str>) {
        assert_eq!(c.value::<&str>(&Key1(1)).copied(), v1, "{name} k1");
        assert_eq!(c.value::<&str>(&Key2(1)).copied(), v2, "{name} k2");
        assert_eq!(c.value::<&str>(&Key3(1)).copied(), v3, "{name} k3");
    }

    let c0 = context::background();
    check(&c0, "c0", None, None, None);
    let c1 = context::with_value(&c0, k1, "c1k1");
    check(&c1, "c1", Some("c1k1"), None, None);
    let c2 = context::with_value(&c1, k2, "c2k2");
    check(&c2, "c2", Some("c1k1"), Some("c2k2"), None);
    let c3 = context::with_value(&c2, k3, "c3k3");
    check(&c3, "c3", Some("c1k1"), Some("c2k2"), Some("c3k3"));
    let c4 = context::with_value(&c3, Key1(1), ());
    check(
        &c4,
        "c4 (k1 shadowed by a non-&str)",
        None,
        Some("c2k2"),
        Some("c3k3"),
    );
    assert_eq!(c4.value::<()>(&Key1(1)), Some(&()));
    assert_eq!(c4.value::<&str>(&Key1(2)), None, "a different key value");

    let (o0, _c) = context::with_cancel(&c3);
    check(
        &o0,
        "under a cancel layer",
        Some("c1k1"),
        Some("c2k2"),
        Some("c3k3"),
    );
    let o1 = context::with_value(&o0, Key2(1), "o1k2");
    check(&o1, "o1", Some("c1k1"), Some("o1k2"), Some("c3k3"));
    check(
        &c3,
        "c3 unchanged",
        Some("c1k1"),
        Some("c2k2"),
        Some("c3k3"),
    );
}

#[gort::test(procs = 4)]
async fn simultaneous_cancels() {
    // A tree of at least 100 contexts, each cancelled from its own task at
    // the same moment.
    let (root, cancel) = context::with_cancel(&context::background());
    let mut all = vec![(root.clone(), cancel)];
    let mut frontier = vec![root];
    while all.len() < 100 {
        let parent = frontier.remove(0);
        for _ in 0..4 {
            let (c, f) = context::with_cancel(&parent);
            frontier.push(c.clone());
            all.push((c, f));
        }
    }
    // A WaitGroup as a barrier: every task cancels once all have started.
    let go = gort::sync::WaitGroup::new();
    go.add(all.len() as isize);
    let mut tasks = Vec::new();
    for (_, f) in &all {
        let (f, go) = (f.clone(), go.clone());
        tasks.push(gort::spawn(async move {
            go.done();
            go.wait().await;
            f.cancel();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (c, _) in &all {
        must_finish(c, "simultaneous").await;
        assert_eq!(c.err(), Some(Error::Canceled));
    }
}

#[gort::test]
async fn interlocked_cancels() {
    let (parent, cancel_parent) = context::with_cancel(&context::background());
    let (child, cancel_child) = context::with_cancel(&parent);
    gort::spawn({
        let parent = parent.clone();
        async move {
            parent.done().await;
            cancel_child.cancel();
        }
    });
    cancel_parent.cancel();
    must_finish(&child, "interlocked child").await;
}

/// Go's testLayers: a random stack of value, cancel and timeout layers;
/// cancelling one layer finishes it and everything below, nothing above,
/// and every value stays visible.
async fn layers(seed: u64, with_timeouts: bool) {
    #[derive(PartialEq, Eq)]
    struct Layer(usize);
    let mut rng = seed;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    const MIN_LAYERS: usize = 30;
    let mut ctx = context::background();
    let mut values = Vec::new();
    let mut cancels = Vec::new(); // (index in `stack`, CancelFunc)
    let mut stack = Vec::new();
    let mut timeouts = 0;
    let mut i = 0;
    while i < MIN_LAYERS || cancels.is_empty() || (with_timeouts && timeouts == 0) {
        match next(3) {
            0 => {
                ctx = context::with_value(&ctx, Layer(i), i);
                values.push(i);
            }
            1 => {
                let (c, f) = context::with_cancel(&ctx);
                ctx = c;
                cancels.push((stack.len(), f));
            }
            _ if with_timeouts => {
                let (c, f) = context::with_timeout(&ctx, Duration::from_millis(30));
                ctx = c;
                cancels.push((stack.len(), f));
                timeouts += 1;
            }
            _ => continue,
        }
        stack.push(ctx.clone());
        i += 1;
    }
    let check_values = |c: &Context| {
        for &v in &values {
            assert_eq!(c.value::<usize>(&Layer(v)), Some(&v));
        }
    };
    check_values(&ctx);
    if !with_timeouts {
        must_not_finish(&ctx, "before any cancel").await;
    }
    if with_timeouts {
        must_finish(&ctx, "leaf of a stack with a timeout").await;
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
    }
    let (at, f) = &cancels[next(cancels.len())];
    f.cancel();
    must_finish(&stack[*at], "the cancelled layer").await;
    for (j, c) in stack.iter().enumerate() {
        if j >= *at {
            assert!(c.err().is_some(), "layer {j} below the cancelled {at}");
        } else if !with_timeouts {
            assert_eq!(c.err(), None, "layer {j} above the cancelled {at}");
        }
    }
    check_values(&ctx);
}

#[gort::test]
async fn layers_cancel() {
    for seed in 1..=20u64 {
        layers(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), false).await;
    }
}

#[gort::test]
async fn layers_timeout() {
    for seed in 1..=5u64 {
        layers(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), true).await;
    }
}

#[gort::test]
async fn child_of_canceled_parent() {
    let (parent, cancel) = context::with_cancel_cause(&context::background());
    cancel.cancel(Because("parent's cause"));
    let (child, _c) = context::with_cancel(&parent);
    must_finish(&child, "child of a canceled parent").await;
    assert_eq!(child.err(), Some(Error::Canceled));
    assert_eq!(cause_text(&child).as_deref(), Some("parent's cause"));
    let (timed, _c) = context::with_timeout(&parent, Duration::from_secs(3600));
    assert_eq!(timed.err(), Some(Error::Canceled));
    assert_eq!(cause_text(&timed).as_deref(), Some("parent's cause"));
}

#[gort::test]
async fn causes() {
    let bg = context::background();
    let forever = Duration::from_secs(1_000_000);
    let canceled = Some("context canceled");
    let exceeded = Some("context deadline exceeded");
    /// (name, how to make the context, its err, its cause's text)
    type Case<'a> = (
        &'a str,
        Box<dyn Fn() -> Context>,
        Option<Error>,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        ("background", Box::new(context::background), None, None),
        ("todo", Box::new(context::todo), None, None),
        (
            "with_cancel",
            Box::new(|| {
                let (c, f) = context::with_cancel(&context::background());
                f.cancel();
                c
            }),
            Some(Error::Canceled),
            canceled,
        ),
        (
            "with_cancel_cause",
            Box::new(|| {
                let (c, f) = context::with_cancel_cause(&context::background());
                f.cancel(Because("cause"));
                c
            }),
            Some(Error::Canceled),
            Some("cause"),
        ),
        (
            "with_cancel_cause without a cause",
            Box::new(|| {
                let (c, f) = context::with_cancel_cause(&context::background());
                f.cancel_without_cause();
                c
            }),
            Some(Error::Canceled),
            canceled,
        ),
        (
            "parent's cause before the child's",
            Box::new(|| {
                let (p, fp) = context::with_cancel_cause(&context::background());
                let (c, fc) = context::with_cancel_cause(&p);
                fp.cancel(Because("parent"));
                fc.cancel(Because("child"));
                c
            }),
            Some(Error::Canceled),
            Some("parent"),
        ),
        (
            "parent's cause after the child's",
            Box::new(|| {
                let (p, fp) = context::with_cancel_cause(&context::background());
                let (c, fc) = context::with_cancel_cause(&p);
                fc.cancel(Because("child"));
                fp.cancel(Because("parent"));
                c
            }),
            Some(Error::Canceled),
            Some("child"),
        ),
        (
            "parent's cause reaches a timeout child",
            Box::new(move || {
                let (p, fp) = context::with_cancel_cause(&context::background());
                let (c, _fc) = context::with_timeout(&p, forever);
                fp.cancel(Because("parent"));
                c
            }),
            Some(Error::Canceled),
            Some("parent"),
        ),
        (
            "with_timeout",
            Box::new(|| context::with_timeout(&context::background(), Duration::ZERO).0),
            Some(Error::DeadlineExceeded),
            exceeded,
        ),
        (
            "with_timeout cancelled",
            Box::new(move || {
                let (c, f) = context::with_timeout(&context::background(), forever);
                f.cancel();
                c
            }),
            Some(Error::Canceled),
            canceled,
        ),
        (
            "with_timeout_cause",
            Box::new(|| {
                context::with_timeout_cause(&context::background(), Duration::ZERO, Because("t/o"))
                    .0
            }),
            Some(Error::DeadlineExceeded),
            Some("t/o"),
        ),
        (
            "with_timeout_cause cancelled",
            Box::new(move || {
                let (c, f) =
                    context::with_timeout_cause(&context::background(), forever, Because("t/o"));
                f.cancel();
                c
            }),
            Some(Error::Canceled),
            canceled,
        ),
        (
            "with_deadline_cause in the past",
            Box::new(|| {
                let past = Instant::now() - Duration::from_secs(1);
                context::with_deadline_cause(&context::background(), past, Because("late")).0
            }),
            Some(Error::DeadlineExceeded),
            Some("late"),
        ),
        (
            "without_cancel",
            Box::new(|| context::without_cancel(&context::background())),
            None,
            None,
        ),
        (
            "without_cancel of a cancelled context",
            Box::new(|| {
                let (c, f) = context::with_cancel_cause(&context::background());
                f.cancel(Because("cause"));
                context::without_cancel(&c)
            }),
            None,
            None,
        ),
        (
            "without_cancel of a timed-out context",
            Box::new(|| {
                let c = context::with_timeout_cause(
                    &context::background(),
                    Duration::ZERO,
                    Because("x"),
                )
                .0;
                context::without_cancel(&c)
            }),
            None,
            None,
        ),
    ];
    drop(bg);
    for (name, make, err, cause) in cases {
        let ctx = make();
        assert_eq!(ctx.err(), err, "{name}: err");
        assert_eq!(cause_text(&ctx).as_deref(), cause, "{name}: cause");
    }
}

#[gort::test(procs = 2)]
async fn cause_is_never_seen_half_set() {
    for _ in 0..200 {
        let (ctx, cancel) = context::with_cancel_cause(&context::background());
        let canceller = gort::spawn(async move {
            gort::yield_now().await;
            cancel.cancel(Because("the cause"));
        });
        loop {
            // Once err is visible, the cause must be too.
            let err = ctx.err();
            let cause = cause_text(&ctx);
            match err {
                None => gort::yield_now().await,
                Some(e) => {
                    assert_eq!(e, Error::Canceled);
                    assert_eq!(
                        cause.as_deref().or(cause_text(&ctx).as_deref()),
                        Some("the cause")
                    );
                    break;
                }
            }
        }
        canceller.await.unwrap();
    }
}

#[gort::test]
async fn without_cancel() {
    #[derive(PartialEq, Eq)]
    struct Key;
    let (parent, cancel) = context::with_timeout(&context::background(), Duration::from_secs(3600));
    let parent = context::with_value(&parent, Key, "value");
    let ctx = context::without_cancel(&parent);
    assert_eq!(ctx.value::<&str>(&Key), Some(&"value"));
    assert_eq!(ctx.deadline(), None);
    cancel.cancel();
    assert_eq!(parent.err(), Some(Error::Canceled));
    must_not_finish(&ctx, "without_cancel").await;
    assert!(context::cause(&ctx).is_none());
    // Its own children are cancellable again.
    let (child, f) = context::with_cancel(&ctx);
    assert_eq!(child.err(), None);
    f.cancel();
    must_finish(&child, "child of without_cancel").await;
}

#[gort::test]
async fn deadline_exceeded_is_a_timeout() {
    assert!(Error::DeadlineExceeded.is_timeout());
    assert!(!Error::Canceled.is_timeout());
    assert_eq!(
        Error::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
}

#[gort::test]
async fn after_func_called_after_cancel() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (tx, rx) = gort::sync::chan(1);
    let stop = context::after_func(&ctx, move || {
        tx.try_send(()).unwrap();
    });
    gort::select! {
        _ = rx.recv() => panic!("ran before cancel"),
        _ = gort::time::sleep(Duration::from_millis(5)) => {}
    }
    cancel.cancel();
    assert_eq!(gort::time::timeout(PATIENCE, rx.recv()).await, Ok(Some(())));
    assert!(!stop.stop(), "stop after the call reports false");
}

#[gort::test]
async fn after_func_called_after_timeout() {
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
    let (tx, rx) = gort::sync::chan(1);
    let _stop = context::after_func(&ctx, move || {
        tx.try_send(ctx_err_marker()).unwrap();
    });
    assert_eq!(gort::time::timeout(PATIENCE, rx.recv()).await, Ok(Some(7)));
    fn ctx_err_marker() -> u8 {
        7
    }
}

#[gort::test]
async fn after_func_called_immediately_when_done() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    let (tx, rx) = gort::sync::chan(1);
    let stop = context::after_func(&ctx, move || {
        tx.try_send(()).unwrap();
    });
    assert_eq!(gort::time::timeout(PATIENCE, rx.recv()).await, Ok(Some(())));
    assert!(!stop.stop());
}

#[gort::test]
async fn after_func_not_called_after_stop() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let ran = Arc::new(AtomicBool::new(false));
    let stop = context::after_func(&ctx, {
        let ran = ran.clone();
        move || ran.store(true, SeqCst)
    });
    assert!(stop.stop(), "the first stop prevents the call");
    assert!(!stop.stop(), "the second reports false");
    cancel.cancel();
    gort::time::sleep(Duration::from_millis(5)).await;
    assert!(!ran.load(SeqCst));
}

#[gort::test]
async fn after_func_never_called_for_a_never_done_context() {
    let stop = context::after_func(&context::background(), || panic!("never"));
    assert!(stop.stop());
    let stop = context::after_func(&context::without_cancel(&context::background()), || {
        panic!("never")
    });
    assert!(stop.stop());
}

#[gort::test]
async fn after_func_runs_asynchronously() {
    // The callback blocks until cancel has returned: cancel must not wait
    // for it (Go: "f runs in its own goroutine").
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (tx, rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = gort::sync::chan(1);
    let _stop = context::after_func(&ctx, move || {
        rx.recv().unwrap();
        done_tx.try_send(()).unwrap();
    });
    cancel.cancel();
    tx.send(()).unwrap();
    assert_eq!(
        gort::time::timeout(PATIENCE, done_rx.recv()).await,
        Ok(Some(()))
    );
}

#[gort::test]
async fn done_is_a_select_case_and_err_is_set_first() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (_tx, rx) = gort::sync::chan::<u32>(0);
    let woken = gort::spawn({
        let ctx = ctx.clone();
        async move {
            gort::select! {
                _ = ctx.done() => ctx.err(),
                v = rx.recv() => panic!("nothing was sent: {v:?}"),
            }
        }
    });
    gort::time::sleep(Duration::from_millis(1)).await;
    cancel.cancel();
    assert_eq!(woken.await.unwrap(), Some(Error::Canceled));
}

#[gort::test(procs = 4)]
async fn many_waiters_all_wake() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let woke = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..1000 {
        // Half wait on a value layer: they share the same anchor.
        let ctx = if i % 2 == 0 {
            ctx.clone()
        } else {
            context::with_value(&ctx, i, i)
        };
        let woke = woke.clone();
        tasks.push(gort::spawn(async move {
            ctx.done().await;
            assert!(ctx.err().is_some());
            woke.fetch_add(1, SeqCst);
        }));
    }
    gort::yield_now().await;
    cancel.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(woke.load(SeqCst), 1000);
}

/// Contexts without a deadline need no runtime: plain threads, any
/// executor.
#[test]
fn works_outside_any_runtime() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let (child, _c) = context::with_cancel(&ctx);
    let waiter = std::thread::spawn(move || futures::executor::block_on(child.done()));
    std::thread::sleep(Duration::from_millis(1));
    cancel.cancel();
    waiter.join().unwrap();
    assert_eq!(ctx.err(), Some(Error::Canceled));
    let (past, _c) = context::with_deadline(&ctx, Instant::now() - Duration::from_secs(1));
    assert!(past.err().is_some());
}

#[test]
#[should_panic(expected = "needs a gort runtime")]
fn a_future_deadline_outside_a_runtime_panics() {
    let _ = context::with_timeout(&context::background(), Duration::from_secs(1));
}
