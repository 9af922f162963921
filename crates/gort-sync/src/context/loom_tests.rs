//! Loom models of cancellation propagation: a cancel racing a child's
//! creation, its drop, its own cancel, and a task waiting in `done()`.
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p
//! gort-sync --release --lib loom_`.

use loom::future::block_on;
use loom::thread;

use super::*;

fn counts(ctx: &Context) -> (usize, usize, usize) {
    ctx.anchor().expect("a cancel node").counts()
}

/// A child created while its parent is cancelled is done either way, with
/// the parent's cause, and the parent keeps nothing of it.
#[test]
fn loom_ctx_cancel_vs_child_creation() {
    loom::model(|| {
        let (parent, cancel) = with_cancel_cause(&background());
        let p = parent.clone();
        let t = thread::spawn(move || with_cancel(&p));
        cancel.cancel_with(Arc::new(Error::DeadlineExceeded));
        let (child, _f) = t.join().unwrap();
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(
            cause(&child).map(|c| c.to_string()),
            Some("context deadline exceeded".to_string())
        );
        assert_eq!(counts(&parent), (0, 0, 0));
    });
}

/// A child dropped (with its cancel function) while its parent is
/// cancelled: nothing is left behind and nothing panics.
#[test]
fn loom_ctx_cancel_vs_child_drop() {
    loom::model(|| {
        let (parent, cancel) = with_cancel(&background());
        let (child, child_cancel) = with_cancel(&parent);
        let t = thread::spawn(move || {
            drop(child);
            drop(child_cancel);
        });
        cancel.cancel();
        t.join().unwrap();
        assert_eq!(counts(&parent), (0, 0, 0));
        let (live_parent, _c) = with_cancel(&background());
        let (c, f) = with_cancel(&live_parent);
        let t = thread::spawn(move || drop((c, f)));
        let (_other, _g) = with_cancel(&live_parent);
        t.join().unwrap();
        assert_eq!(counts(&live_parent).0, 1, "only the live child stays");
    });
}

/// Parent and child cancelled at once: the child ends with one of the two
/// causes, and neither keeps a hook.
#[test]
fn loom_ctx_parent_and_child_cancel_together() {
    loom::model(|| {
        let (parent, cancel) = with_cancel(&background());
        let (child, child_cancel) = with_cancel_cause(&parent);
        let t = thread::spawn(move || child_cancel.cancel_with(Arc::new(Error::DeadlineExceeded)));
        cancel.cancel();
        t.join().unwrap();
        assert_eq!(child.err(), Some(Error::Canceled));
        assert!(cause(&child).is_some());
        assert_eq!(counts(&parent), (0, 0, 0));
        assert_eq!(counts(&child), (0, 0, 0));
    });
}

/// A task waiting in `done()` (through a value layer) is woken by a cancel
/// on another thread, and sees `err()` set.
#[test]
fn loom_ctx_done_wakes_waiter() {
    loom::model(|| {
        let (parent, cancel) = with_cancel(&background());
        let (child, _c) = with_cancel(&parent);
        let child = with_value(&child, 1u8, 2u8);
        let t = thread::spawn(move || {
            block_on(child.done());
            child.err()
        });
        cancel.cancel();
        assert_eq!(t.join().unwrap(), Some(Error::Canceled));
    });
}
