//! Concurrent maps: `syncmap_read90`, `syncmap_mixed50` and `syncmap_range`.
//!
//! | field | map | runs on |
//! |---|---|---|
//! | `gort=` | `gort::sync::Map` | two tasks on gort (`--procs` Ps) |
//! | `tokio=` | NA: tokio has no concurrent map | — |
//! | `smol=` | NA: smol has no concurrent map either | — |
//! | `dashmap=` | `dashmap::DashMap` (sharded `RwLock`s) | two OS threads |
//! | `papaya=` | `papaya::HashMap` (lock-free, epoch-based) | two OS threads |
//! | `rwlock_hashmap=` | `std::sync::RwLock<std::collections::HashMap>` | two OS threads |
//! | `go=` | `sync.Map` | two goroutines (`bench/go/syncmap.go`) |
//!
//! Every map is `u64 → u64` with its default hasher, pre-filled with keys
//! `0..KEYS` (value = key), then ranged over once, untimed: in Go and gort
//! that promotes the dirty map, so the timed part sees the steady state
//! (keys in the lock-free read snapshot), not the first 10,000 misses.
//!
//! `read90` / `mixed50`: [`OPS`] operations in all, split evenly between
//! two workers; worker `t` draws its keys and its operation from
//! `xorshift64` seeded `t + 1` (the Go twin uses the same generator and
//! seeds, so both run the same sequence): `r = next()`, key `r % KEYS`,
//! a store of `r` if `(r >> 32) % 100 <` the store percentage, else a load.
//! One operation = one load or store; ns/op = wall time / [`OPS`].
//!
//! `range`: one worker ranges over the whole map [`RANGES`] times, summing
//! the values; ns per visited entry = wall time / (`RANGES` × `KEYS`).
//!
//! The clock starts after the fill, before the workers start, and stops
//! when the last one has finished. Each worker checks its loads (every
//! stored value is congruent to its key modulo `KEYS`).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Instant;

use super::on_task;
use crate::harness::RoundResult;
use crate::system::System;

/// Keys in every map (Go: `syncMapKeys`).
const KEYS: u64 = 10_000;
/// Operations per round of `read90` and `mixed50`, in all (Go:
/// `syncMapOps`).
const OPS: u64 = 2_000_000;
/// Workers of `read90` and `mixed50` (Go: `syncMapWorkers`).
const WORKERS: u64 = 2;
/// Whole-map ranges per round of `syncmap_range` (Go: `syncMapRanges`).
const RANGES: u64 = 200;

/// The operations the workloads need, on one map type.
trait BenchMap: Send + Sync + 'static {
    fn new() -> Self;
    fn load(&self, k: u64) -> Option<u64>;
    fn store(&self, k: u64, v: u64);
    /// Calls `f` on every value; the number visited.
    fn range(&self, f: impl FnMut(u64)) -> u64;
}

impl BenchMap for gort::sync::Map<u64, u64> {
    fn new() -> Self {
        gort::sync::Map::new()
    }
    fn load(&self, k: u64) -> Option<u64> {
        gort::sync::Map::load(self, &k)
    }
    fn store(&self, k: u64, v: u64) {
        gort::sync::Map::store(self, k, v);
    }
    fn range(&self, mut f: impl FnMut(u64)) -> u64 {
        let mut n = 0;
        gort::sync::Map::range(self, |_, v| {
            f(*v);
            n += 1;
            true
        });
        n
    }
}

impl BenchMap for dashmap::DashMap<u64, u64> {
    fn new() -> Self {
        dashmap::DashMap::new()
    }
    fn load(&self, k: u64) -> Option<u64> {
        self.get(&k).map(|r| *r)
    }
    fn store(&self, k: u64, v: u64) {
        self.insert(k, v);
    }
    fn range(&self, mut f: impl FnMut(u64)) -> u64 {
        let mut n = 0;
        for r in self.iter() {
            f(*r.value());
            n += 1;
        }
        n
    }
}

impl BenchMap for papaya::HashMap<u64, u64> {
    fn new() -> Self {
        papaya::HashMap::new()
    }
    fn load(&self, k: u64) -> Option<u64> {
        self.pin().get(&k).copied()
    }
    fn store(&self, k: u64, v: u64) {
        self.pin().insert(k, v);
    }
    fn range(&self, mut f: impl FnMut(u64)) -> u64 {
        let mut n = 0;
        for (_, v) in self.pin().iter() {
            f(*v);
            n += 1;
        }
        n
    }
}

impl BenchMap for RwLock<HashMap<u64, u64>> {
    fn new() -> Self {
        RwLock::new(HashMap::new())
    }
    fn load(&self, k: u64) -> Option<u64> {
        self.read().unwrap().get(&k).copied()
    }
    fn store(&self, k: u64, v: u64) {
        self.write().unwrap().insert(k, v);
    }
    fn range(&self, mut f: impl FnMut(u64)) -> u64 {
        let m = self.read().unwrap();
        for v in m.values() {
            f(*v);
        }
        m.len() as u64
    }
}

/// A pre-filled map, ranged over once (see the module docs).
fn filled<M: BenchMap>() -> Arc<M> {
    let m = M::new();
    for k in 0..KEYS {
        m.store(k, k);
    }
    assert_eq!(m.range(|_| {}), KEYS);
    Arc::new(m)
}

/// Marsaglia's xorshift64, as `bench/go/syncmap.go`'s.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// One worker's share of `read90` / `mixed50`; returns a checksum.
fn worker<M: BenchMap>(m: &M, t: u64, store_pct: u64) -> u64 {
    let mut x = t + 1;
    let mut sum = 0u64;
    for _ in 0..OPS / WORKERS {
        let r = xorshift(&mut x);
        let k = r % KEYS;
        if (r >> 32) % 100 < store_pct {
            m.store(k, r);
        } else {
            let v = m.load(k).expect("every key is present");
            debug_assert_eq!(v % KEYS, k);
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

/// `read90` / `mixed50` on gort: the workers are tasks.
fn mix_on<S: System>(rt: &S::Runtime, store_pct: u64) -> RoundResult {
    let m = filled::<gort::sync::Map<u64, u64>>();
    let elapsed = on_task::<S, _>(rt, async move {
        let start = Instant::now();
        let handles: Vec<_> = (0..WORKERS)
            .map(|t| {
                let m = Arc::clone(&m);
                S::spawn(async move { worker(&*m, t, store_pct) })
            })
            .collect();
        for h in handles {
            black_box(h.await);
        }
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, OPS as usize)
}

/// `read90` / `mixed50` on OS threads.
fn mix_threads<M: BenchMap>(store_pct: u64) -> RoundResult {
    let m = filled::<M>();
    let start = Instant::now();
    let handles: Vec<_> = (0..WORKERS)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || worker(&*m, t, store_pct))
        })
        .collect();
    for h in handles {
        black_box(h.join().expect("a map worker panicked"));
    }
    RoundResult::ns_per_op(start.elapsed(), OPS as usize)
}

/// `range`: ns per visited entry.
fn range_body<M: BenchMap>(m: &M) -> RoundResult {
    let start = Instant::now();
    let mut sum = 0u64;
    for _ in 0..RANGES {
        let n = m.range(|v| sum = sum.wrapping_add(v));
        assert_eq!(n, KEYS, "a range missed keys");
    }
    black_box(sum);
    RoundResult::ns_per_op(start.elapsed(), (RANGES * KEYS) as usize)
}

pub(crate) fn read90<S: System>(rt: &S::Runtime) -> RoundResult {
    mix_on::<S>(rt, 10)
}

pub(crate) fn mixed50<S: System>(rt: &S::Runtime) -> RoundResult {
    mix_on::<S>(rt, 50)
}

pub(crate) fn range<S: System>(rt: &S::Runtime) -> RoundResult {
    let m = filled::<gort::sync::Map<u64, u64>>();
    on_task::<S, _>(rt, async move { range_body(&*m) })
}

pub(crate) fn read90_dashmap() -> RoundResult {
    mix_threads::<dashmap::DashMap<u64, u64>>(10)
}
pub(crate) fn read90_papaya() -> RoundResult {
    mix_threads::<papaya::HashMap<u64, u64>>(10)
}
pub(crate) fn read90_rwlock() -> RoundResult {
    mix_threads::<RwLock<HashMap<u64, u64>>>(10)
}
pub(crate) fn mixed50_dashmap() -> RoundResult {
    mix_threads::<dashmap::DashMap<u64, u64>>(50)
}
pub(crate) fn mixed50_papaya() -> RoundResult {
    mix_threads::<papaya::HashMap<u64, u64>>(50)
}
pub(crate) fn mixed50_rwlock() -> RoundResult {
    mix_threads::<RwLock<HashMap<u64, u64>>>(50)
}
pub(crate) fn range_dashmap() -> RoundResult {
    range_body(&*filled::<dashmap::DashMap<u64, u64>>())
}
pub(crate) fn range_papaya() -> RoundResult {
    range_body(&*filled::<papaya::HashMap<u64, u64>>())
}
pub(crate) fn range_rwlock() -> RoundResult {
    range_body(&*filled::<RwLock<HashMap<u64, u64>>>())
}

/// The `others` of the three rows, in output order.
macro_rules! others {
    ($dash:path, $papaya:path, $rw:path) => {
        &[
            super::Other {
                name: "dashmap",
                round: super::OtherRound::Threads($dash),
            },
            super::Other {
                name: "papaya",
                round: super::OtherRound::Threads($papaya),
            },
            super::Other {
                name: "rwlock_hashmap",
                round: super::OtherRound::Threads($rw),
            },
        ]
    };
}

pub(crate) const READ90_OTHERS: &[super::Other] =
    others!(read90_dashmap, read90_papaya, read90_rwlock);
pub(crate) const MIXED50_OTHERS: &[super::Other] =
    others!(mixed50_dashmap, mixed50_papaya, mixed50_rwlock);
pub(crate) const RANGE_OTHERS: &[super::Other] = others!(range_dashmap, range_papaya, range_rwlock);
