//! Cancellation trees: `ctx_with_cancel` and `ctx_cancel_tree`.
//!
//! gort's `gort::context` against tokio-util's `CancellationToken` (on
//! tokio), the closest tokio has: a token tree with `child_token` and
//! `cancelled()`. It has no deadlines, values or causes, so only the
//! cancellation shape is compared. Go's twin uses `context.WithCancel`.
//! `smol=NA`: smol has no cancellation token (its idiom is dropping the
//! task, which cancels it, not a tree of contexts).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::on_task;
use crate::harness::RoundResult;
use crate::system::{Gort, Tokio};

/// Children made and cancelled per round in `ctx_with_cancel` (Go:
/// `ctxWithCancelOps`).
const WITH_CANCEL_OPS: usize = 1_000_000;
/// Fan-out of each level of `ctx_cancel_tree` (Go: `ctxTreeFanout`).
const TREE_FANOUT: usize = 10;
/// Trees built and cancelled per round (Go: `ctxTrees`).
const TREES: usize = 100;
/// Contexts per tree: the root and three levels below it.
const TREE_SIZE: usize =
    1 + TREE_FANOUT + TREE_FANOUT * TREE_FANOUT + TREE_FANOUT * TREE_FANOUT * TREE_FANOUT;

/// `ctx_with_cancel`: under one cancellable parent, make a child and cancel
/// it, [`WITH_CANCEL_OPS`] times (so the child joins and leaves the
/// parent each time). ns per child.
pub(crate) fn ctx_with_cancel_gort(rt: &<Gort as crate::system::System>::Runtime) -> RoundResult {
    let elapsed = on_task::<Gort, _>(rt, async {
        let (parent, _cancel) = gort::context::with_cancel(&gort::context::background());
        let start = Instant::now();
        for _ in 0..WITH_CANCEL_OPS {
            let (child, cancel) = gort::context::with_cancel(&parent);
            cancel.cancel();
            assert!(child.err().is_some());
        }
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, WITH_CANCEL_OPS)
}

/// [`ctx_with_cancel_gort`] with `CancellationToken::child_token`.
pub(crate) fn ctx_with_cancel_tokio(rt: &<Tokio as crate::system::System>::Runtime) -> RoundResult {
    let elapsed = on_task::<Tokio, _>(rt, async {
        let parent = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..WITH_CANCEL_OPS {
            let child = parent.child_token();
            child.cancel();
            assert!(child.is_cancelled());
        }
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, WITH_CANCEL_OPS)
}

/// `ctx_cancel_tree`: build a root with [`TREE_FANOUT`] children, each with
/// as many children, each with as many again ([`TREE_SIZE`] contexts);
/// cancel the root; wait on every context's `done()`. [`TREES`] trees per
/// round; ns per context.
pub(crate) fn ctx_cancel_tree_gort(rt: &<Gort as crate::system::System>::Runtime) -> RoundResult {
    use gort::context::{background, with_cancel, CancelFunc, Context};
    let elapsed = on_task::<Gort, _>(rt, async {
        let start = Instant::now();
        for _ in 0..TREES {
            let mut all: Vec<(Context, CancelFunc)> = Vec::with_capacity(TREE_SIZE);
            all.push(with_cancel(&background()));
            let mut level = 0..1;
            for _ in 0..3 {
                let next = all.len();
                for parent in level.clone() {
                    for _ in 0..TREE_FANOUT {
                        let child = with_cancel(&all[parent].0);
                        all.push(child);
                    }
                }
                level = next..all.len();
            }
            all[0].1.cancel();
            for (ctx, _) in &all {
                ctx.done().await;
            }
        }
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, TREES * TREE_SIZE)
}

/// [`ctx_cancel_tree_gort`] with `CancellationToken`s.
pub(crate) fn ctx_cancel_tree_tokio(rt: &<Tokio as crate::system::System>::Runtime) -> RoundResult {
    let elapsed = on_task::<Tokio, _>(rt, async {
        let start = Instant::now();
        for _ in 0..TREES {
            let mut all: Vec<CancellationToken> = Vec::with_capacity(TREE_SIZE);
            all.push(CancellationToken::new());
            let mut level = 0..1;
            for _ in 0..3 {
                let next = all.len();
                for parent in level.clone() {
                    for _ in 0..TREE_FANOUT {
                        let child = all[parent].child_token();
                        all.push(child);
                    }
                }
                level = next..all.len();
            }
            all[0].cancel();
            for t in &all {
                t.cancelled().await;
            }
        }
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, TREES * TREE_SIZE)
}
