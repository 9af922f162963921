//! Unit tests of the map's protocol: a randomized model check against a
//! `HashMap`, the expunge/promotion paths, and small concurrent runs (all
//! small enough for Miri: `cargo +nightly miri test -p gort-sync --lib
//! syncmap`).

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;

use super::Map;

/// Marsaglia's xorshift64: a fixed seed gives the same run every time.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every operation, chosen at random on a few keys (so that keys are
/// deleted, expunged, stored again and promoted many times), against a
/// `HashMap` doing the same.
#[test]
fn model_matches_hashmap() {
    let ops = if cfg!(miri) { 600 } else { 50_000 };
    let keys = if cfg!(miri) { 8 } else { 64 };
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let m: Map<u64, String> = Map::new();
    let mut model: HashMap<u64, String> = HashMap::new();
    for i in 0..ops {
        let k = rng.below(keys);
        let v = format!("v{}", rng.below(4));
        match rng.below(12) {
            0 | 1 => assert_eq!(m.load(&k), model.get(&k).cloned(), "op {i}: load {k}"),
            2 => {
                m.store(k, v.clone());
                model.insert(k, v);
            }
            3 => {
                let want = match model.get(&k) {
                    Some(cur) => (cur.clone(), true),
                    None => {
                        model.insert(k, v.clone());
                        (v.clone(), false)
                    }
                };
                assert_eq!(m.load_or_store(k, v), want, "op {i}: load_or_store {k}");
            }
            4 => assert_eq!(m.load_and_delete(&k), model.remove(&k), "op {i}"),
            5 => {
                m.delete(&k);
                model.remove(&k);
            }
            6 => assert_eq!(m.swap(k, v.clone()), model.insert(k, v), "op {i}: swap"),
            7 => {
                let old = format!("v{}", rng.below(4));
                let want = model.get(&k) == Some(&old);
                if want {
                    model.insert(k, v.clone());
                }
                assert_eq!(m.compare_and_swap(&k, &old, v), want, "op {i}: cas {k}");
            }
            8 => {
                let old = format!("v{}", rng.below(4));
                let want = model.get(&k) == Some(&old);
                if want {
                    model.remove(&k);
                }
                assert_eq!(m.compare_and_delete(&k, &old), want, "op {i}: cad {k}");
            }
            9 => {
                let mut seen = HashMap::new();
                m.range(|k, v| {
                    assert!(seen.insert(*k, v.clone()).is_none(), "{k} visited twice");
                    true
                });
                assert_eq!(seen, model, "op {i}: range");
            }
            10 => assert_eq!(m.len(), model.len(), "op {i}: len"),
            _ => {
                if rng.below(50) == 0 {
                    m.clear();
                    model.clear();
                } else {
                    assert_eq!(m.is_empty(), model.is_empty(), "op {i}: is_empty");
                }
            }
        }
    }
}

/// The expunge path: a key deleted before a dirty map is built is left out
/// of it (expunged), and storing it again puts it back.
#[test]
fn expunged_key_comes_back() {
    let m: Map<u64, i32> = Map::new();
    m.store(1, 10);
    // A miss promotes the one-key dirty map: key 1 is now in the snapshot.
    assert_eq!(m.load(&2), None);
    m.delete(&1);
    // A new key builds the dirty map from the snapshot: 1 is expunged.
    m.store(2, 20);
    {
        let g = m.reclaim.pin();
        let snap = m.snapshot(&g);
        assert!(snap.amended);
        assert!(snap.set.get(&1).unwrap().0.load(&g).is_none());
        assert_eq!(dirty_keys(&m), [2], "1 was expunged");
    }
    m.store(1, 11);
    assert_eq!(dirty_keys(&m), [1, 2], "1 is back in the dirty map");
    assert_eq!(m.load(&1), Some(11));
    assert_eq!(m.load(&2), Some(20));
    assert_eq!(m.len(), 2);
}

/// The keys of the dirty map (which must exist).
fn dirty_keys(m: &Map<u64, i32>) -> Vec<u64> {
    let d = crate::loom::lock(&m.dirty);
    let mut keys: Vec<u64> =
        d.m.as_ref()
            .expect("a dirty map")
            .iter()
            .map(|s| s.0.key)
            .collect();
    keys.sort_unstable();
    keys
}

/// Misses promote the dirty map: after as many locked loads as it has keys,
/// loads are served from the snapshot.
#[test]
fn misses_promote_dirty() {
    let m = Map::new();
    for i in 0..4 {
        m.store(i, i);
    }
    let amended = || {
        let g = m.reclaim.pin();
        m.snapshot(&g).amended
    };
    assert!(amended());
    for _ in 0..4 {
        assert_eq!(m.load(&99), None);
    }
    assert!(!amended(), "four misses promote a four-key dirty map");
    assert_eq!(m.load(&3), Some(3));
}

/// Two threads store, swap and delete the same few keys while a third
/// loads and ranges: no torn or freed values (Miri checks the memory).
#[test]
fn small_concurrent_mix() {
    let n = if cfg!(miri) { 30 } else { 3_000 };
    let m = Arc::new(Map::<u32, Arc<String>>::new());
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..n {
                    let k = i % 4;
                    match i % 3 {
                        0 => m.store(k, Arc::new(format!("{t}:{i}"))),
                        1 => drop(m.swap(k + 4, Arc::new(format!("{t}:{i}")))),
                        _ => m.delete(&k),
                    }
                }
            })
        })
        .collect();
    for _ in 0..n {
        for k in 0..8 {
            if let Some(v) = m.load(&k) {
                assert!(v.contains(':'));
            }
        }
        m.range(|_, v| v.contains(':'));
    }
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn map_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Map<String, Arc<Vec<u8>>>>();
}
