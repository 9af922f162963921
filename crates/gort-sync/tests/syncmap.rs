//! `gort_sync::Map` (Go's `sync.Map`) on real threads: the behaviours of
//! Go's `sync/map_test.go`, in our own words. Every test runs a fixed
//! number of operations (no wall-clock bounds), so a failure reproduces.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use gort_sync::Map;

/// Go's `TestConcurrentRange`: keys 1..=N always present while writers
/// overwrite them (value a multiple of the key) and store and delete other
/// keys; each range sees every stable key exactly once with a valid value.
#[test]
fn range_while_others_store_and_delete() {
    const N: u64 = 512;
    const RANGES: usize = 200;
    const WRITERS: u64 = 2;
    let m = Arc::new(Map::<u64, u64>::new());
    for k in 1..=N {
        m.store(k, k);
    }
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (1..=WRITERS)
        .map(|w| {
            let (m, done) = (Arc::clone(&m), Arc::clone(&done));
            thread::spawn(move || {
                let mut ops = 0u64;
                // Bounded: at most this many passes even if the ranger is slow.
                for pass in 1..=2_000u64 {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    for k in 1..=N {
                        m.store(k, k * (pass * WRITERS + w));
                        // Keys above N come and go.
                        let extra = N + 1 + (k + pass) % 64;
                        if pass % 2 == 0 {
                            m.store(extra, extra);
                        } else {
                            m.delete(&extra);
                        }
                        ops += 2;
                    }
                }
                ops
            })
        })
        .collect();
    for _ in 0..RANGES {
        let mut seen = HashSet::new();
        let mut stable = 0;
        m.range(|&k, &v| {
            assert!(seen.insert(k), "key {k} visited twice");
            assert_eq!(v % k, 0, "value {v} of key {k} is not a multiple of it");
            if k <= N {
                stable += 1;
            }
            true
        });
        assert_eq!(stable, N, "a stable key was missed");
        assert!(seen.len() as u64 <= N + 64);
    }
    done.store(true, Ordering::Relaxed);
    for w in writers {
        assert!(w.join().unwrap() > 0);
    }
}

/// Go's `TestCompareAndSwap_NonExistingKey` and friends.
#[test]
fn compare_ops_on_missing_keys_fail() {
    let m: Map<u32, u32> = Map::new();
    assert!(!m.compare_and_swap(&1, &0, 5), "CAS on a missing key");
    assert_eq!(m.load(&1), None, "a failed CAS stores nothing");
    assert!(!m.compare_and_delete(&1, &0));
    // Also when the key is only in the dirty map, and after a delete.
    m.store(2, 2);
    assert!(!m.compare_and_swap(&1, &0, 5));
    assert!(m.compare_and_swap(&2, &2, 3));
    m.delete(&2);
    assert!(!m.compare_and_swap(&2, &3, 4));
    assert_eq!(m.load(&2), None);
}

/// Go's `TestMapRangeNestedCall`: a range whose callback loads, stores,
/// deletes and ranges on the same map neither deadlocks nor misbehaves.
#[test]
fn nested_range_may_use_the_map() {
    let m = Map::new();
    for (k, v) in [(1, "a"), (2, "b"), (3, "c")] {
        m.store(k, v.to_string());
    }
    m.range(|k, v| {
        m.range(|k2, v2| {
            assert_eq!(m.load(k2).as_ref(), Some(v2));
            // Storing a value a key already has does not change what Range sees.
            m.store(*k2, v2.clone());
            true
        });
        assert_eq!(m.load(k).as_ref(), Some(v));
        // A new key while ranging: may or may not be visited (Go's rule).
        m.store(k + 100, format!("{v}!"));
        m.delete(&(k + 100));
        true
    });
    // Deleting every key from inside the range.
    let mut visited = 0;
    m.range(|k, v| {
        assert_eq!(m.load_and_delete(k).as_ref(), Some(v));
        visited += 1;
        true
    });
    assert_eq!(visited, 3);
    assert_eq!(m.len(), 0);
}

/// `range` stops at the first `false`.
#[test]
fn range_stops_when_told() {
    let m = Map::new();
    for k in 0..100 {
        m.store(k, k);
    }
    let mut n = 0;
    m.range(|_, _| {
        n += 1;
        n < 10
    });
    assert_eq!(n, 10);
}

/// `clear` empties the map; it can be refilled, and clearing an empty map
/// is a no-op. Also Go's `TestConcurrentClear`: clear racing stores and
/// loads stays consistent.
#[test]
fn clear_empties_and_races_safely() {
    let m = Map::new();
    m.clear();
    for k in 0..50 {
        m.store(k, k);
    }
    m.load(&1000); // promote part of the way
    for k in 50..100 {
        m.store(k, k);
    }
    assert_eq!(m.len(), 100);
    m.clear();
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    assert_eq!(m.load(&7), None);
    m.store(7, 70);
    assert_eq!(m.load(&7), Some(70));
    assert_eq!(m.len(), 1);

    let m = Arc::new(Map::<u32, u32>::new());
    let threads: Vec<_> = (0..3u32)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..2_000u32 {
                    match t {
                        0 => m.store(i % 128, i),
                        1 => {
                            if let Some(v) = m.load(&(i % 128)) {
                                assert!(v < 2_000);
                            }
                        }
                        _ => {
                            if i % 100 == 0 {
                                m.clear();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(m.len() <= 128);
}

/// `len` counts keys with a value, across the snapshot and the dirty map.
#[test]
fn len_counts_present_keys() {
    let m = Map::new();
    assert_eq!(m.len(), 0);
    for k in 0..10 {
        m.store(k, ());
        assert_eq!(m.len(), k + 1);
    }
    m.delete(&3);
    m.delete(&3);
    assert_eq!(m.len(), 9);
    m.store(3, ());
    assert_eq!(m.len(), 10);
}

/// N threads race `load_or_store` on each key: exactly one stores it, and
/// every thread gets that thread's value back.
#[test]
fn load_or_store_race_has_one_winner() {
    const THREADS: usize = 4;
    const KEYS: usize = 2_000;
    let m = Arc::new(Map::<usize, usize>::new());
    let start = Arc::new(Barrier::new(THREADS));
    let stored = Arc::new(AtomicUsize::new(0));
    let results: Vec<Vec<usize>> = (0..THREADS)
        .map(|t| {
            let (m, start, stored) = (Arc::clone(&m), Arc::clone(&start), Arc::clone(&stored));
            thread::spawn(move || {
                start.wait();
                (0..KEYS)
                    .map(|k| {
                        let (v, loaded) = m.load_or_store(k, t);
                        if !loaded {
                            assert_eq!(v, t);
                            stored.fetch_add(1, Ordering::Relaxed);
                        }
                        v
                    })
                    .collect()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        stored.load(Ordering::Relaxed),
        KEYS,
        "exactly one store per key"
    );
    for k in 0..KEYS {
        let winner = m.load(&k).unwrap();
        for r in &results {
            assert_eq!(r[k], winner, "key {k}: every thread sees the winner");
        }
    }
}

/// Values are dropped: every value ever stored is freed once (eventually,
/// by epoch reclamation) and no value is freed while still readable.
#[test]
fn values_are_shared_handles() {
    let m = Map::new();
    let v = Arc::new(5);
    m.store(1, Arc::clone(&v));
    assert!(
        Arc::ptr_eq(&m.load(&1).unwrap(), &v),
        "load clones the handle"
    );
    drop(m);
    // The map's own handle was freed with the map (it was current).
    assert_eq!(Arc::strong_count(&v), 1);
}

/// The facade re-exports the same type.
#[test]
fn reexported_as_gort_sync_map() {
    let m: gort_sync::Map<&str, i32> = Default::default();
    m.store("x", 1);
    assert_eq!(format!("{m:?}"), r#"{"x": 1}"#);
}
