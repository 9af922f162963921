//! Offload threads: `spawn_blocking`. No Go twin: Go has no offload pool (a
//! goroutine blocks in place and its P is handed off), so the row prints
//! `go=NA` without asking the twin.

use std::time::Instant;

use super::on_task;
use crate::harness::RoundResult;
use crate::system::System;

/// Jobs per round.
const BLOCKING_JOBS: usize = 10_000;
/// Jobs submitted before the driver awaits them.
const BLOCKING_BATCH: usize = 100;

/// `spawn_blocking`: one driver task submits [`BLOCKING_JOBS`] trivial
/// blocking jobs (each returns its number) in batches of
/// [`BLOCKING_BATCH`], awaiting each batch before the next. ns per job:
/// submission, the hand-off to a pool thread, and the wake-up of the
/// awaiting task.
pub(crate) fn spawn_blocking<S: System>(rt: &S::Runtime) -> RoundResult {
    let elapsed = on_task::<S, _>(rt, async {
        let start = Instant::now();
        let mut sum = 0u64;
        for batch in 0..BLOCKING_JOBS / BLOCKING_BATCH {
            let jobs: Vec<_> = (0..BLOCKING_BATCH)
                .map(|i| {
                    let n = (batch * BLOCKING_BATCH + i) as u64;
                    S::spawn_blocking(move || n)
                })
                .collect();
            for job in jobs {
                sum += job.await;
            }
        }
        let elapsed = start.elapsed();
        let n = BLOCKING_JOBS as u64;
        assert_eq!(sum, n * (n - 1) / 2, "spawn_blocking: a job was lost");
        elapsed
    });
    RoundResult::ns_per_op(elapsed, BLOCKING_JOBS)
}
