//! Spawn throughput: `spawn_many_local`, `spawn_many_remote`,
//! `chained_spawn`, and `joinset_join` (a task group's spawn and join).
//!
//! All but `joinset_join` are generic over [`System`] and run on smol too;
//! `joinset_join` prints `smol=NA`: smol has no task group that joins in
//! completion order (a `Vec` of `Task`s awaited in order is another shape).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::System;

/// Tasks per round of `spawn_many_*` (Go: `spawnManyCount`).
const SPAWN_MANY: usize = 10_000;
/// Tasks in the chain of `chained_spawn` (Go: `chainLength`).
const CHAIN: usize = 1_000;

/// What every `spawn_many` task touches: Go's counter and `WaitGroup`,
/// behind one `Arc` so that each task costs one reference count.
struct SpawnShared {
    counter: AtomicUsize,
    latch: Latch,
}

/// Starts the clock and spawns [`SPAWN_MANY`] tasks through `go`, each
/// running [`bump`]. Returns the start instant, the shared state, and the
/// receiver that completes once every task has run.
fn spawn_many(go: impl Fn(Arc<SpawnShared>)) -> (Instant, Arc<SpawnShared>, oneshot::Receiver<()>) {
    let (latch, done) = Latch::new(SPAWN_MANY);
    let shared = Arc::new(SpawnShared {
        counter: AtomicUsize::new(0),
        latch,
    });
    let start = Instant::now();
    for _ in 0..SPAWN_MANY {
        go(shared.clone());
    }
    (start, shared, done)
}

/// The body of one `spawn_many` task.
async fn bump(shared: Arc<SpawnShared>) {
    shared.counter.fetch_add(1, Ordering::Relaxed);
    shared.latch.count_down();
}

fn check(shared: &SpawnShared, elapsed: Duration) -> RoundResult {
    assert_eq!(
        shared.counter.load(Ordering::Relaxed),
        SPAWN_MANY,
        "spawn_many: a task did not run"
    );
    RoundResult::ns_per_op(elapsed, SPAWN_MANY)
}

/// `spawn_many_local`: from a task, spawn [`SPAWN_MANY`] trivial tasks and
/// wait for all of them. ns per spawn.
pub(crate) fn spawn_many_local<S: System>(rt: &S::Runtime) -> RoundResult {
    let (shared, elapsed) = on_task::<S, _>(rt, async {
        let (start, shared, done) = spawn_many(|s| S::go(bump(s)));
        wait(done).await;
        (shared, start.elapsed())
    });
    check(&shared, elapsed)
}

/// `spawn_many_remote`: the same, from a plain OS thread outside the
/// runtime, through a handle; that thread blocks until all have run. ns per
/// spawn. (Go has no such thread; its twin uses a goroutine locked to its
/// OS thread.)
pub(crate) fn spawn_many_remote<S: System>(rt: &S::Runtime) -> RoundResult {
    let handle = S::handle(rt);
    let (shared, elapsed) = std::thread::spawn(move || {
        let (start, shared, done) = spawn_many(|s| S::go_on(&handle, bump(s)));
        futures::executor::block_on(wait(done));
        (shared, start.elapsed())
    })
    .join()
    .expect("spawn_many_remote: the spawning thread panicked");
    check(&shared, elapsed)
}

/// `chained_spawn`: task *i* spawns task *i + 1* and exits, [`CHAIN`]
/// tasks in all; the last one signals. ns per spawn.
pub(crate) fn chained_spawn<S: System>(rt: &S::Runtime) -> RoundResult {
    let elapsed = on_task::<S, _>(rt, async {
        let (tx, rx) = oneshot::channel();
        let start = Instant::now();
        S::go(async move { link::<S>(CHAIN - 1, tx) });
        rx.await.expect("chained_spawn: the chain broke");
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, CHAIN)
}

/// One link of the chain: spawn the next (`remaining` more to go) or, at
/// the end, signal.
fn link<S: System>(remaining: usize, done: oneshot::Sender<()>) {
    if remaining == 0 {
        let _ = done.send(());
        return;
    }
    S::go(async move { link::<S>(remaining - 1, done) });
}

/// Tasks per round of `joinset_join` (Go: `joinSetCount`).
const JOINSET: u64 = 10_000;

/// One round of `joinset_join` on the runtime type `$sys` with its
/// `JoinSet` type `$set` (the two sets have the same API, not one trait).
macro_rules! joinset_round {
    ($sys:ty, $set:ty, $rt:expr) => {{
        let (sum, elapsed) = on_task::<$sys, _>($rt, async {
            let start = Instant::now();
            let mut set = <$set>::new();
            for i in 0..JOINSET {
                set.spawn(async move { i });
            }
            let mut sum = 0;
            while let Some(r) = set.join_next().await {
                sum += r.expect("joinset_join: a task failed");
            }
            (sum, start.elapsed())
        });
        check_joinset(sum, elapsed)
    }};
}

/// `joinset_join` on gort: from a task, spawn [`JOINSET`] tasks into a
/// `gort::task::JoinSet`, each returning its index, and join them all,
/// summing the outputs. ns per task (spawn and join). Go's twin collects
/// the results from a buffered channel, Go's idiom for a task group.
pub(crate) fn joinset_join_gort(rt: &gort::Runtime) -> RoundResult {
    joinset_round!(crate::system::Gort, gort::task::JoinSet<u64>, rt)
}

/// `joinset_join` on tokio, with `tokio::task::JoinSet`.
pub(crate) fn joinset_join_tokio(rt: &tokio::runtime::Runtime) -> RoundResult {
    joinset_round!(crate::system::Tokio, tokio::task::JoinSet<u64>, rt)
}

fn check_joinset(sum: u64, elapsed: Duration) -> RoundResult {
    assert_eq!(
        sum,
        JOINSET * (JOINSET - 1) / 2,
        "joinset_join: a task is missing"
    );
    RoundResult::ns_per_op(elapsed, JOINSET as usize)
}
