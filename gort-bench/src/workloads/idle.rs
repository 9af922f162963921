//! `idle_task_bytes`: resident memory per parked task.
//!
//! One round runs per child process (see `Isolation::ChildPerRound`): in
//! one process, the allocator keeps freed task memory resident and hands it
//! back to the next round, which would then show almost no growth. The
//! figure includes the task (its header and future), the oneshot channel
//! it waits on, and the 8-byte slot that holds the channel's sender, as
//! Go's includes the goroutine's stack, its `g`, the channel and its slot.
//! The measurement itself, [`parked_task_bytes`], is shared with
//! `chan_idle_bytes` (`chan.rs`), which parks the tasks on gort's own
//! channels instead.

use std::future::IntoFuture;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::System;

/// Parked tasks (Go: `idleTaskCount`).
const IDLE_TASKS: usize = 100_000;
/// How long to wait after every task has started before reading RSS (Go:
/// `idleSettleSleep`).
const SETTLE: Duration = Duration::from_millis(100);
/// How often the driver checks whether every task has started.
const POLL_EVERY: Duration = Duration::from_millis(1);
/// `/proc/self/statm` counts pages; 4 KiB on every platform this runs on.
const PAGE_SIZE: u64 = 4096;

/// What every parked task touches, behind one `Arc`.
struct IdleShared {
    started: AtomicUsize,
    latch: Latch,
}

/// `idle_task_bytes`: read RSS, spawn [`IDLE_TASKS`] tasks each parked on
/// its own oneshot receiver, wait until every one has been polled, sleep
/// [`SETTLE`], read RSS again; then release them all and wait for them.
/// The value is the RSS growth per task, in bytes.
///
/// Exits the (child) process with a message if `/proc/self/statm` cannot
/// be read.
pub(crate) fn idle_task_bytes<S: System>(rt: &S::Runtime) -> RoundResult {
    parked_task_bytes::<S, _, _>(rt, oneshot::channel::<()>, |tx| {
        let _ = tx.send(());
    })
}

/// The measurement behind `idle_task_bytes` and `chan_idle_bytes`, for any
/// channel: `pair` makes one task's (sender, receiver); the task awaits the
/// receiver (`rx.await`, through `IntoFuture`) and the driver keeps the
/// sender in a `Vec`, then hands it to `release` to let the task finish.
pub(super) fn parked_task_bytes<S, Tx, Rx>(
    rt: &S::Runtime,
    pair: fn() -> (Tx, Rx),
    release: fn(Tx),
) -> RoundResult
where
    S: System,
    Tx: Send + 'static,
    Rx: IntoFuture + Send + 'static,
    Rx::IntoFuture: Send,
{
    let per_task = on_task::<S, _>(rt, async move {
        let (latch, done) = Latch::new(IDLE_TASKS);
        let shared = Arc::new(IdleShared {
            started: AtomicUsize::new(0),
            latch,
        });
        let mut senders = Vec::with_capacity(IDLE_TASKS);

        let before = rss_bytes_or_exit();
        for _ in 0..IDLE_TASKS {
            let (tx, rx) = pair();
            senders.push(tx);
            let shared = shared.clone();
            S::go(async move {
                shared.started.fetch_add(1, Ordering::Relaxed);
                let _ = rx.await;
                shared.latch.count_down();
            });
        }
        while shared.started.load(Ordering::Relaxed) < IDLE_TASKS {
            S::sleep(POLL_EVERY).await;
        }
        S::sleep(SETTLE).await;
        let after = rss_bytes_or_exit();

        for tx in senders {
            release(tx);
        }
        wait(done).await;
        after.saturating_sub(before) as f64 / IDLE_TASKS as f64
    });
    RoundResult {
        value: per_task,
        late: Vec::new(),
        extra: Vec::new(),
    }
}

fn rss_bytes_or_exit() -> u64 {
    rss_bytes().unwrap_or_else(|e| {
        eprintln!("gort-bench: cannot read the resident set size from /proc/self/statm: {e}");
        std::process::exit(1);
    })
}

/// The resident set size, from the second field of `/proc/self/statm`.
fn rss_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse::<u64>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected contents {statm:?}"),
            )
        })?;
    Ok(pages * PAGE_SIZE)
}
