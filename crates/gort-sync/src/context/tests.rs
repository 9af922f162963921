//! What a parent keeps of its children, waiters and callbacks: nothing,
//! once they are gone. (Behaviour tests are in `tests/context.rs`.)

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::task::noop_waker_ref;

use super::*;

fn counts(ctx: &Context) -> (usize, usize, usize) {
    ctx.anchor().expect("a cancel node").counts()
}

#[test]
fn cancelled_or_dropped_children_leave_nothing_behind() {
    let (parent, _cancel) = with_cancel(&background());
    let n = if cfg!(miri) { 50 } else { 100_000 };
    for i in 0..n {
        let (child, cancel) = with_cancel(&parent);
        // A value layer in between: the child still anchors on `parent`.
        let (grandchild, _c) = with_cancel(&with_value(&child, 1u8, i));
        if i % 2 == 0 {
            cancel.cancel();
            assert_eq!(grandchild.err(), Some(Error::Canceled));
        }
    }
    assert_eq!(counts(&parent), (0, 0, 0));
    let (live, _keep) = with_cancel(&parent);
    assert_eq!(counts(&parent).0, 1);
    drop(live);
    assert_eq!(counts(&parent).0, 1, "the CancelFunc keeps it registered");
}

#[test]
fn a_dropped_done_future_unregisters() {
    let (ctx, cancel) = with_cancel(&background());
    let mut cx = TaskContext::from_waker(noop_waker_ref());
    {
        let mut done = ctx.done();
        assert_eq!(Pin::new(&mut done).poll(&mut cx), Poll::Pending);
        assert_eq!(Pin::new(&mut done).poll(&mut cx), Poll::Pending);
        assert_eq!(counts(&ctx).1, 1, "re-polling does not register twice");
    }
    assert_eq!(counts(&ctx).1, 0);
    let mut done = ctx.done();
    assert_eq!(Pin::new(&mut done).poll(&mut cx), Poll::Pending);
    cancel.cancel();
    assert_eq!(Pin::new(&mut done).poll(&mut cx), Poll::Ready(()));
    drop(done);
    assert_eq!(counts(&ctx), (0, 0, 0));
}

#[test]
fn a_stopped_after_func_unregisters_once() {
    let (ctx, cancel) = with_cancel(&background());
    let first = after_func(&ctx, || panic!("stopped"));
    assert!(first.stop());
    // The freed key goes to the next callback; a second stop of the first
    // must not remove it.
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let second = after_func(&ctx, {
        let ran = ran.clone();
        move || ran.store(true, std::sync::atomic::Ordering::SeqCst)
    });
    assert!(!first.stop());
    assert_eq!(counts(&ctx).2, 1);
    cancel.cancel();
    assert!(!second.stop());
    // No runtime here: the callback runs on a thread of its own.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ran.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "after_func never ran");
        std::thread::yield_now();
    }
}

#[test]
fn a_deep_chain_cancels_without_recursion() {
    let depth = if cfg!(miri) { 100 } else { 100_000 };
    let (root, cancel) = with_cancel(&background());
    let mut chain = Vec::with_capacity(depth);
    let mut cur = root.clone();
    for _ in 0..depth {
        let (c, f) = with_cancel(&cur);
        chain.push(f);
        cur = c;
    }
    cancel.cancel();
    assert_eq!(cur.err(), Some(Error::Canceled));
    // Dropping from the leaf up keeps each drop shallow.
    drop(cur);
    while chain.pop().is_some() {}
}
