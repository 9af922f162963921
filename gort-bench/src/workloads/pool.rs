//! Object pools: `pool_get_put` (one worker) and `pool_get_put_contended`
//! (two workers on one pool).
//!
//! | field | pool | runs on |
//! |---|---|---|
//! | `gort=` | `gort::sync::Pool` | tasks on gort (`--procs` Ps) |
//! | `tokio=` | NA: tokio has no object pool | — |
//! | `smol=` | NA: smol has no object pool either | — |
//! | `mutex_vec=` | `std::sync::Mutex<Vec<Vec<u8>>>` (pop or allocate; push back) | OS threads |
//! | `lockfree_pool=` | `lockfree_object_pool::LinearObjectPool` | OS threads |
//! | `go=` | `sync.Pool` of `*[]byte` | goroutines (`bench/go/pool.go`) |
//!
//! The object is a `Vec<u8>` made with capacity 4096 (Go: a `*[]byte` of
//! `make([]byte, 0, 4096)`). One operation: get an object, clear it and
//! write one byte into it, return it to the pool (drop the guard; Go: `Put`).
//! [`OPS`] operations per round in all, split evenly over the workers (1 or
//! [`WORKERS`]); ns/op = wall time / [`OPS`]. Each pool is built, and
//! warmed with one operation per worker, before the clock starts, so a
//! round measures reuse, not the first allocations. Every worker checks
//! the byte it wrote.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use super::on_task;
use crate::harness::RoundResult;
use crate::system::System;

/// Operations per round, in all (Go: `poolOps`).
const OPS: usize = 2_000_000;
/// Workers of the contended row (Go: `poolWorkers`).
const WORKERS: usize = 2;
/// The capacity of a pooled buffer (Go: `poolBufCap`).
const CAP: usize = 4096;

/// One pool type, as the workload uses it.
trait BenchPool: Send + Sync + 'static {
    fn new() -> Self;
    /// One operation (module docs); returns the byte read back.
    fn op(&self, b: u8) -> u8;
}

impl BenchPool for gort::sync::Pool<Vec<u8>> {
    fn new() -> Self {
        gort::sync::Pool::new(|| Vec::with_capacity(CAP))
    }
    #[inline]
    fn op(&self, b: u8) -> u8 {
        let mut buf = self.get();
        buf.clear();
        buf.push(b);
        buf[0]
    }
}

impl BenchPool for Mutex<Vec<Vec<u8>>> {
    fn new() -> Self {
        Mutex::new(Vec::new())
    }
    #[inline]
    fn op(&self, b: u8) -> u8 {
        let popped = self.lock().unwrap().pop();
        let mut buf = popped.unwrap_or_else(|| Vec::with_capacity(CAP));
        buf.clear();
        buf.push(b);
        let r = buf[0];
        self.lock().unwrap().push(buf);
        r
    }
}

impl BenchPool for lockfree_object_pool::LinearObjectPool<Vec<u8>> {
    fn new() -> Self {
        // No reset: the op clears, as on the other pools.
        lockfree_object_pool::LinearObjectPool::new(|| Vec::with_capacity(CAP), |_| {})
    }
    #[inline]
    fn op(&self, b: u8) -> u8 {
        let mut buf = self.pull();
        buf.clear();
        buf.push(b);
        buf[0]
    }
}

/// One worker's share of the operations; returns a checksum.
fn worker<P: BenchPool>(p: &P, ops: usize) -> u64 {
    let mut sum = 0u64;
    for i in 0..ops {
        let b = i as u8;
        let r = p.op(black_box(b));
        debug_assert_eq!(r, b);
        sum = sum.wrapping_add(u64::from(r));
    }
    sum
}

/// A pool with one operation done per worker (the warm-up of the docs).
fn warmed<P: BenchPool>(workers: usize) -> Arc<P> {
    let p = P::new();
    for _ in 0..workers {
        black_box(p.op(0));
    }
    Arc::new(p)
}

/// gort's pool, `workers` tasks.
fn on_gort<S: System>(rt: &S::Runtime, workers: usize) -> RoundResult {
    let p = warmed::<gort::sync::Pool<Vec<u8>>>(workers);
    let elapsed = on_task::<S, _>(rt, async move {
        if workers == 1 {
            // The driver task is the worker: no spawn inside the clock.
            let start = Instant::now();
            black_box(worker(&*p, OPS));
            return start.elapsed();
        }
        let start = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let p = Arc::clone(&p);
                S::spawn(async move { worker(&*p, OPS / workers) })
            })
            .collect();
        for h in handles {
            black_box(h.await);
        }
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, OPS)
}

/// Another pool, `workers` OS threads (1: the calling thread).
fn on_threads<P: BenchPool>(workers: usize) -> RoundResult {
    let p = warmed::<P>(workers);
    let start = Instant::now();
    if workers == 1 {
        black_box(worker(&*p, OPS));
    } else {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let p = Arc::clone(&p);
                thread::spawn(move || worker(&*p, OPS / workers))
            })
            .collect();
        for h in handles {
            black_box(h.join().expect("a pool worker panicked"));
        }
    }
    RoundResult::ns_per_op(start.elapsed(), OPS)
}

pub(crate) fn get_put<S: System>(rt: &S::Runtime) -> RoundResult {
    on_gort::<S>(rt, 1)
}
pub(crate) fn get_put_contended<S: System>(rt: &S::Runtime) -> RoundResult {
    on_gort::<S>(rt, WORKERS)
}

type MutexVec = Mutex<Vec<Vec<u8>>>;
type Lockfree = lockfree_object_pool::LinearObjectPool<Vec<u8>>;

fn get_put_mutex_vec() -> RoundResult {
    on_threads::<MutexVec>(1)
}
fn get_put_lockfree() -> RoundResult {
    on_threads::<Lockfree>(1)
}
fn contended_mutex_vec() -> RoundResult {
    on_threads::<MutexVec>(WORKERS)
}
fn contended_lockfree() -> RoundResult {
    on_threads::<Lockfree>(WORKERS)
}

/// The `others` of the two rows, in output order.
macro_rules! others {
    ($mutex:path, $lockfree:path) => {
        &[
            super::Other {
                name: "mutex_vec",
                round: super::OtherRound::Threads($mutex),
            },
            super::Other {
                name: "lockfree_pool",
                round: super::OtherRound::Threads($lockfree),
            },
        ]
    };
}

pub(crate) const GET_PUT_OTHERS: &[super::Other] = others!(get_put_mutex_vec, get_put_lockfree);
pub(crate) const CONTENDED_OTHERS: &[super::Other] =
    others!(contended_mutex_vec, contended_lockfree);
