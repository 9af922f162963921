//! Model-based test of `gort::sync::Map` (Go's `sync.Map`, issue 23).
//!
//! Random sequences of `store`, `load`, `load_or_store`, `load_and_delete`,
//! `delete`, `swap`, `compare_and_swap`, `compare_and_delete`, `range`
//! (stopping after a random count), `len` and `clear` on a small key space
//! (0..24, so that deletes, re-stores and loads of deleted keys are common),
//! each checked against a `HashMap` model; after each case the whole map is
//! compared with the model through `range`.
//!
//! Promotion of the dirty map is what the sequences must reach: a key
//! stored since the last promotion lives in the dirty map, and loads that
//! miss the snapshot promote once their count reaches the size of both
//! tables (`syncmap/mod.rs`, "Load"), as does a `range` of an amended map.
//! The map is built with a counting hasher: each keyed operation hashes its
//! key once, and a promotion hashes every key of the snapshot it replaces,
//! so an operation that hashed more than its own key promoted a non-empty
//! snapshot. The test counts those and requires most cases to have some
//! (the count is printed; a first promotion, from an empty snapshot,
//! hashes nothing and is not counted, so this is a lower bound).
//!
//! Values are counted alive (`Tracked`): a value the map holds must never
//! have been dropped, so the number alive may never fall below the model's
//! size (a double drop or an early free would make it). It is not required
//! to return to zero when the map is dropped: replaced values are freed by
//! epoch reclamation, possibly later (`syncmap/reclaim.rs`).
//!
//! Proptest runs a fixed number of cases from a fixed seed, failure
//! persistence off (no `proptest-regressions` files).

use std::collections::HashMap;
use std::hash::{BuildHasher, DefaultHasher};
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use gort::sync::Map;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// A hasher builder that counts the hashers it builds (one per hash).
#[derive(Clone)]
struct Counting(Arc<AtomicU64>);

impl BuildHasher for Counting {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        // Relaxed: the map is used from one thread; a plain counter.
        self.0.fetch_add(1, Relaxed);
        DefaultHasher::new()
    }
}

/// A value whose copies are counted alive.
#[derive(Debug)]
struct Tracked {
    id: u32,
    alive: Arc<AtomicIsize>,
}

impl Tracked {
    fn new(id: u32, alive: &Arc<AtomicIsize>) -> Tracked {
        // Relaxed: a counter; the reclaimer may drop values on another
        // thread, but nothing is published through the count.
        alive.fetch_add(1, Relaxed);
        Tracked {
            id,
            alive: alive.clone(),
        }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Tracked {
        Tracked::new(self.id, &self.alive)
    }
}

impl PartialEq for Tracked {
    fn eq(&self, o: &Tracked) -> bool {
        self.id == o.id
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed: as in `new`.
        self.alive.fetch_sub(1, Relaxed);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Store(u8, u32),
    Load(u8),
    LoadOrStore(u8, u32),
    LoadAndDelete(u8),
    Delete(u8),
    Swap(u8, u32),
    /// Compare with the model's present value (`true`) or with a value the
    /// key does not hold.
    CompareAndSwap(u8, bool, u32),
    CompareAndDelete(u8, bool),
    /// Visit at most this many keys.
    Range(u8),
    Len,
    Clear,
}

impl Op {
    /// Whether the operation hashes one key.
    fn keyed(&self) -> bool {
        !matches!(self, Op::Range(_) | Op::Len | Op::Clear)
    }
}

const KEYS: u8 = 24;

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS;
    let v = 0u32..1000;
    prop_oneof![
        6 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Store(k, v)),
        10 => k.clone().prop_map(Op::Load),
        3 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::LoadOrStore(k, v)),
        2 => k.clone().prop_map(Op::LoadAndDelete),
        2 => k.clone().prop_map(Op::Delete),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Swap(k, v)),
        2 => (k.clone(), any::<bool>(), v).prop_map(|(k, m, v)| Op::CompareAndSwap(k, m, v)),
        1 => (k, any::<bool>()).prop_map(|(k, m)| Op::CompareAndDelete(k, m)),
        1 => (0u8..30).prop_map(Op::Range),
        1 => Just(Op::Len),
        1 => Just(Op::Clear),
    ]
}

/// Runs `ops` on a map and on the model; returns how many operations
/// promoted a non-empty snapshot (module doc).
fn run_sequence(ops: &[Op]) -> Result<usize, TestCaseError> {
    let alive = Arc::new(AtomicIsize::new(0));
    let hashes = Arc::new(AtomicU64::new(0));
    let map: Map<u8, Tracked, Counting> = Map::with_hasher(Counting(hashes.clone()));
    let mut model: HashMap<u8, u32> = HashMap::new();
    let t = |v: u32| Tracked::new(v, &alive);
    let id = |v: Option<Tracked>| v.map(|v| v.id);
    let mut promotions = 0;
    for (step, op) in ops.iter().enumerate() {
        let before = hashes.load(Relaxed);
        match *op {
            Op::Store(k, v) => {
                map.store(k, t(v));
                model.insert(k, v);
            }
            Op::Load(k) => {
                prop_assert_eq!(id(map.load(&k)), model.get(&k).copied(), "step {}", step);
            }
            Op::LoadOrStore(k, v) => {
                let (got, loaded) = map.load_or_store(k, t(v));
                let want = match model.get(&k) {
                    Some(&w) => (w, true),
                    None => {
                        model.insert(k, v);
                        (v, false)
                    }
                };
                prop_assert_eq!((got.id, loaded), want, "step {}", step);
            }
            Op::LoadAndDelete(k) => {
                prop_assert_eq!(
                    id(map.load_and_delete(&k)),
                    model.remove(&k),
                    "step {}",
                    step
                );
            }
            Op::Delete(k) => {
                map.delete(&k);
                model.remove(&k);
            }
            Op::Swap(k, v) => {
                prop_assert_eq!(id(map.swap(k, t(v))), model.insert(k, v), "step {}", step);
            }
            Op::CompareAndSwap(k, matching, new) => {
                let old = match (matching, model.get(&k)) {
                    (true, Some(&w)) => w,
                    // Values are below 1000: this one is nobody's.
                    _ => 5000,
                };
                let swapped = map.compare_and_swap(&k, &t(old), t(new));
                let want = model.get(&k) == Some(&old);
                if want {
                    model.insert(k, new);
                }
                prop_assert_eq!(swapped, want, "step {}", step);
            }
            Op::CompareAndDelete(k, matching) => {
                let old = match (matching, model.get(&k)) {
                    (true, Some(&w)) => w,
                    _ => 5000,
                };
                let deleted = map.compare_and_delete(&k, &t(old));
                let want = model.get(&k) == Some(&old);
                if want {
                    model.remove(&k);
                }
                prop_assert_eq!(deleted, want, "step {}", step);
            }
            Op::Range(n) => {
                let mut seen = HashMap::new();
                map.range(|k, v| {
                    seen.insert(*k, v.id);
                    seen.len() < n as usize
                });
                prop_assert_eq!(
                    seen.len(),
                    model.len().min(n as usize).max(
                        // `range` visits one key before asking to stop.
                        usize::from(n == 0 && !model.is_empty())
                    ),
                    "step {}: keys visited",
                    step
                );
                for (k, v) in &seen {
                    prop_assert_eq!(model.get(k), Some(v), "step {}: range saw {}", step, k);
                }
            }
            Op::Len => prop_assert_eq!(map.len(), model.len(), "step {}", step),
            Op::Clear => {
                map.clear();
                model.clear();
            }
        }
        let extra = hashes.load(Relaxed) - before - u64::from(op.keyed());
        if extra > 0 {
            promotions += 1;
        }
        prop_assert!(
            alive.load(Relaxed) >= model.len() as isize,
            "step {} {:?}: fewer values alive ({}) than the map holds ({})",
            step,
            op,
            alive.load(Relaxed),
            model.len()
        );
    }
    let mut all = HashMap::new();
    map.range(|k, v| {
        all.insert(*k, v.id);
        true
    });
    prop_assert_eq!(all, model, "final contents");
    Ok(promotions)
}

#[test]
fn ops_match_the_model_through_promotions() {
    const CASES: u32 = 256;
    let config = Config {
        cases: CASES,
        rng_seed: RngSeed::Fixed(0x51AC_2023),
        failure_persistence: None,
        ..Config::default()
    };
    let cases_promoting = std::cell::Cell::new(0u32);
    let total = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(config);
    let r = runner.run(&proptest::collection::vec(op(), 50..400), |ops| {
        let p = run_sequence(&ops)?;
        total.set(total.get() + p);
        cases_promoting.set(cases_promoting.get() + u32::from(p > 0));
        Ok(())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
    println!(
        "{} of {CASES} cases promoted a non-empty snapshot; {} promotions in all",
        cases_promoting.get(),
        total.get()
    );
    assert!(
        cases_promoting.get() > CASES / 2,
        "the sequences must reach promotion: only {} of {CASES} cases did",
        cases_promoting.get()
    );
}
