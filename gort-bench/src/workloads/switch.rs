//! Task switching: `yield_many` and `ping_pong`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::System;

/// Tasks in `yield_many` (Go: `yieldTasks`).
const YIELD_TASKS: usize = 200;
/// Yields per task in `yield_many` (Go: `yieldsPerTask`).
const YIELDS_PER_TASK: usize = 1_000;
/// Pairs in `ping_pong` (Go: `pingPongPairs`).
const PING_PONG_PAIRS: usize = 1_000;

/// `yield_many`: [`YIELD_TASKS`] tasks each yield [`YIELDS_PER_TASK`]
/// times. ns per yield.
pub(crate) fn yield_many<S: System>(rt: &S::Runtime) -> RoundResult {
    let elapsed = on_task::<S, _>(rt, async {
        let (latch, done) = Latch::new(YIELD_TASKS);
        let latch = Arc::new(latch);
        let start = Instant::now();
        for _ in 0..YIELD_TASKS {
            let latch = latch.clone();
            S::go(async move {
                for _ in 0..YIELDS_PER_TASK {
                    S::yield_now().await;
                }
                latch.count_down();
            });
        }
        wait(done).await;
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, YIELD_TASKS * YIELDS_PER_TASK)
}

/// `ping_pong`: spawn [`PING_PONG_PAIRS`] pairs at once; in each, A sends
/// to B and B replies to A; wait until all 2,000 tasks have finished. ns
/// per pair.
///
/// The channels are `tokio::sync::oneshot` on both runtimes (see the
/// module docs of `workloads`); gort's own channels will replace them when
/// gort-sync lands. Unlike Go's unbuffered channels, a oneshot send does
/// not wait for the receiver.
pub(crate) fn ping_pong<S: System>(rt: &S::Runtime) -> RoundResult {
    let elapsed = on_task::<S, _>(rt, async {
        let (latch, done) = Latch::new(2 * PING_PONG_PAIRS);
        let latch = Arc::new(latch);
        let start = Instant::now();
        for _ in 0..PING_PONG_PAIRS {
            let (to_b, from_a) = oneshot::channel::<u32>();
            let (to_a, from_b) = oneshot::channel::<u32>();
            let latch_a = latch.clone();
            S::go(async move {
                let _ = to_b.send(1);
                let v = from_b.await.expect("ping_pong: B dropped its reply");
                assert_eq!(v, 2, "ping_pong: wrong reply");
                latch_a.count_down();
            });
            let latch_b = latch.clone();
            S::go(async move {
                let v = from_a.await.expect("ping_pong: A dropped its message");
                let _ = to_a.send(v + 1);
                latch_b.count_down();
            });
        }
        wait(done).await;
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, PING_PONG_PAIRS)
}
