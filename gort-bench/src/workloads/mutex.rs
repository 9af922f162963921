//! `mutex_contended`: [`TASKS`] tasks each lock a shared mutex, increment a
//! plain counter inside it and unlock, [`LOCKS`] times in all. ns per lock.
//!
//! | field | mutex | runs on |
//! |---|---|---|
//! | `gort=` | `gort::sync::Mutex` (Go's algorithm, async) | gort |
//! | `tokio=` | `tokio::sync::Mutex` (FIFO semaphore) | tokio |
//! | `smol=` | `async_lock::Mutex` (`smol::lock::Mutex`) | smol |
//! | `std_mutex=` | `std::sync::Mutex`, held only for the increment | tokio |
//! | `go=` | `sync.Mutex` (`bench/go/mutex.go`) | Go |
//!
//! The round checks that the counter is exactly [`LOCKS`]. The clock starts
//! before the first task is spawned and stops when the last has finished.
//! Every count matches the Go twin's (`mutex.go`); change both together.

use std::future::Future;
use std::time::Instant;

use super::on_task;
use crate::harness::RoundResult;
use crate::system::System;

/// Tasks contending (Go: `mutexTasks`).
const TASKS: usize = 4;
/// Locks in all, split evenly among the tasks (Go: `mutexLocks`).
const LOCKS: usize = 1_000_000;

/// A mutex around a `u64`, reduced to what the workload needs.
pub(crate) trait BenchMutex: Send + Sync + 'static {
    fn new() -> Self;
    /// Lock, increment, unlock.
    fn incr(&self) -> impl Future<Output = ()> + Send + '_;
    /// The counter (no one else holds the lock).
    fn get(&self) -> u64;
}

impl BenchMutex for gort::sync::Mutex<u64> {
    fn new() -> Self {
        gort::sync::Mutex::new(0)
    }

    async fn incr(&self) {
        *self.lock().await += 1;
    }

    fn get(&self) -> u64 {
        *self.try_lock().expect("gort: the counter is still locked")
    }
}

impl BenchMutex for tokio::sync::Mutex<u64> {
    fn new() -> Self {
        tokio::sync::Mutex::new(0)
    }

    async fn incr(&self) {
        *self.lock().await += 1;
    }

    fn get(&self) -> u64 {
        *self.try_lock().expect("tokio: the counter is still locked")
    }
}

impl BenchMutex for async_lock::Mutex<u64> {
    fn new() -> Self {
        async_lock::Mutex::new(0)
    }

    async fn incr(&self) {
        *self.lock().await += 1;
    }

    fn get(&self) -> u64 {
        *self.try_lock().expect("smol: the counter is still locked")
    }
}

impl BenchMutex for std::sync::Mutex<u64> {
    fn new() -> Self {
        std::sync::Mutex::new(0)
    }

    fn incr(&self) -> impl Future<Output = ()> + Send + '_ {
        // Held only across the increment, never across an await.
        *self.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        std::future::ready(())
    }

    fn get(&self) -> u64 {
        *self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `mutex_contended` for system `S` and mutex `M`.
pub(crate) fn mutex_contended<S: System, M: BenchMutex>(rt: &S::Runtime) -> RoundResult {
    let per_task = LOCKS / TASKS;
    let (total, elapsed) = on_task::<S, _>(rt, async move {
        let m = std::sync::Arc::new(M::new());
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                S::spawn(async move {
                    for _ in 0..per_task {
                        m.incr().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
        (m.get(), start.elapsed())
    });
    assert_eq!(
        total, LOCKS as u64,
        "mutex_contended: an increment was lost"
    );
    RoundResult::ns_per_op(elapsed, LOCKS)
}
