//! Blocking inside tasks: `syscall_short`, `syscall_long`,
//! `blocked_poll_latency`.
//!
//! gort wraps blocking calls in `gort::syscall` (Go's
//! entersyscall/exitsyscall, with sysmon handing the P off when a call runs
//! long); tokio's closest equivalent is `tokio::task::block_in_place`,
//! which moves the worker's other tasks to a new thread before blocking.
//! The Go twin makes real system calls (`syscall.Getpid`,
//! `syscall.Nanosleep`), which go through Go's own entersyscall.
//!
//! smol has no `block_in_place` (its way is `smol::unblock`, the
//! `spawn_blocking` row), so `syscall_short` and `syscall_long` print
//! `smol=NA`. `blocked_poll_latency` needs no wrapper and runs on smol too.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::{Gort, System, Tokio};

/// Calls per round in `syscall_short` (Go: `syscallShortCalls`).
const SHORT_CALLS: usize = 200_000;
/// Blocking tasks in `syscall_long` (Go: `syscallLongBlockers`).
const LONG_BLOCKERS: usize = 2;
/// 1 ms calls each blocker makes (Go: `syscallLongCalls`).
const LONG_CALLS: usize = 50;
/// Tasks doing the other work in `syscall_long` (Go: `syscallLongWorkers`).
const LONG_WORKERS: usize = 200;
/// Yields each of them makes (Go: `syscallLongYields`).
const LONG_YIELDS: usize = 500;
/// How long the blocked poll lasts in `blocked_poll_latency`.
const BLOCK: Duration = Duration::from_secs(1);
/// The ticker's period there.
const TICK: Duration = Duration::from_millis(10);

/// The short blocking call: `getpid(2)`, a real system call of ~100 ns.
fn short_call() -> u32 {
    std::process::id()
}

/// `syscall_short`: one task makes [`SHORT_CALLS`] short blocking calls,
/// each wrapped (gort: `gort::syscall`). ns per call, the call included;
/// `bare` is the same loop on a plain thread with no wrapper.
pub(crate) fn syscall_short_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    let elapsed = on_task::<Gort, _>(rt, async {
        let start = Instant::now();
        let mut acc = 0u32;
        for _ in 0..SHORT_CALLS {
            acc = acc.wrapping_add(gort::syscall(short_call));
        }
        black_box(acc);
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, SHORT_CALLS)
}

/// [`syscall_short_gort`] with `tokio::task::block_in_place`.
pub(crate) fn syscall_short_tokio(rt: &<Tokio as System>::Runtime) -> RoundResult {
    let elapsed = on_task::<Tokio, _>(rt, async {
        let start = Instant::now();
        let mut acc = 0u32;
        for _ in 0..SHORT_CALLS {
            acc = acc.wrapping_add(tokio::task::block_in_place(short_call));
        }
        black_box(acc);
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, SHORT_CALLS)
}

/// The call alone, on a plain thread: the floor under both.
pub(crate) fn syscall_short_bare() -> RoundResult {
    let start = Instant::now();
    let mut acc = 0u32;
    for _ in 0..SHORT_CALLS {
        acc = acc.wrapping_add(short_call());
    }
    black_box(acc);
    RoundResult::ns_per_op(start.elapsed(), SHORT_CALLS)
}

/// `syscall_long`: [`LONG_BLOCKERS`] tasks each make [`LONG_CALLS`]
/// blocking 1 ms calls while [`LONG_WORKERS`] tasks each yield
/// [`LONG_YIELDS`] times. ns per yield of the other work, until it is all
/// done: how well the runtime keeps running the rest while some of its
/// threads block.
pub(crate) fn syscall_long<S: System>(rt: &S::Runtime, block: fn(Duration)) -> RoundResult {
    let elapsed = on_task::<S, _>(rt, async move {
        let (blockers, blockers_done) = Latch::new(LONG_BLOCKERS);
        let blockers = Arc::new(blockers);
        for _ in 0..LONG_BLOCKERS {
            let blockers = blockers.clone();
            S::go(async move {
                for _ in 0..LONG_CALLS {
                    block(Duration::from_millis(1));
                    S::yield_now().await;
                }
                blockers.count_down();
            });
        }
        let (workers, done) = Latch::new(LONG_WORKERS);
        let workers = Arc::new(workers);
        let start = Instant::now();
        for _ in 0..LONG_WORKERS {
            let workers = workers.clone();
            S::go(async move {
                for _ in 0..LONG_YIELDS {
                    S::yield_now().await;
                }
                workers.count_down();
            });
        }
        wait(done).await;
        let elapsed = start.elapsed();
        wait(blockers_done).await;
        elapsed
    });
    RoundResult::ns_per_op(elapsed, LONG_WORKERS * LONG_YIELDS)
}

pub(crate) fn syscall_long_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    syscall_long::<Gort>(rt, |d| gort::syscall(|| std::thread::sleep(d)))
}

pub(crate) fn syscall_long_tokio(rt: &<Tokio as System>::Runtime) -> RoundResult {
    syscall_long::<Tokio>(rt, |d| {
        tokio::task::block_in_place(|| std::thread::sleep(d))
    })
}

/// `blocked_poll_latency`: a task ticks every [`TICK`] while another
/// blocks its poll for [`BLOCK`] with no wrapper at all (a blocking call
/// the author forgot to wrap). The value is the worst gap between two
/// ticks, in µs, over the ticks during the block (the ideal is `TICK`).
pub(crate) fn blocked_poll_latency<S: System>(rt: &S::Runtime) -> RoundResult {
    let worst_us = on_task::<S, _>(rt, async {
        let stop = Arc::new(AtomicBool::new(false));
        let worst = Arc::new(AtomicU64::new(0));
        let ticker = S::spawn({
            let (stop, worst) = (stop.clone(), worst.clone());
            async move {
                let mut last = Instant::now();
                while !stop.load(Acquire) {
                    S::sleep(TICK).await;
                    let now = Instant::now();
                    worst.fetch_max((now - last).as_micros() as u64, Relaxed);
                    last = now;
                }
            }
        });
        // Let the ticker settle, then block a poll.
        S::sleep(TICK * 3).await;
        worst.store(0, Relaxed);
        let blocker = S::spawn(async {
            std::thread::sleep(BLOCK);
        });
        blocker.await;
        stop.store(true, Release);
        ticker.await;
        worst.load(Relaxed)
    });
    RoundResult {
        value: worst_us as f64,
        late: Vec::new(),
        extra: Vec::new(),
    }
}
