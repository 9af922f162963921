//! Unit tests of the map's protocol: a randomized model check against a
//! `HashMap`, the deleted-key and promotion paths, and small concurrent runs (all
//! small enough for Miri, which runs the real epoch reclamation: under
//! Tree Borrows, as crossbeam-epoch needs, `MIRIFLAGS="-Zmiri-tree-borrows
//! -Zmiri-ignore-leaks" cargo +nightly miri test -p gort-sync --lib
//! syncmap`; see `.ci/run`).

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;

use std::hash::BuildHasher;

use super::entry::LoadOrStore;
use super::{find, Map};

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
/// deleted, left out by promotions, stored again and moved many times), against a
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

/// A deleted key stays in the snapshot, deleted, and a store fills it
/// again without the lock; a promotion leaves a deleted key out of the next
/// snapshot (its old entry is stale), and storing it again then adds it to
/// the dirty map as a new key.
#[test]
fn deleted_key_left_out_and_comes_back() {
    let m: Map<u64, i32> = Map::new();
    m.store(1, 10);
    // A miss promotes the one-key dirty map: key 1 is now in the snapshot.
    assert_eq!(m.load(&2), None);
    assert!(!amended(&m));
    m.delete(&1);
    m.store(1, 11); // lock-free: the snapshot's entry is filled again
    assert!(!amended(&m), "a deleted snapshot key is stored in place");
    assert_eq!(m.load(&1), Some(11));
    m.delete(&1);
    m.store(2, 20); // a new key: dirty map, amended
    assert_eq!(dirty_keys(&m), [2]);
    assert_eq!(m.len(), 1); // promotes: 1 (deleted) is left out
    {
        let g = m.reclaim.pin();
        let snap = m.snapshot(&g);
        assert!(!snap.amended);
        let keys: Vec<u64> = snap.t.iter().map(|e| *e.key()).collect();
        assert_eq!(keys, [2], "the deleted key was left out");
    }
    m.store(1, 12);
    assert_eq!(dirty_keys(&m), [1], "1 is a new key again");
    assert_eq!(m.load(&1), Some(12));
    assert_eq!(m.load(&2), Some(20));
    assert_eq!(m.len(), 2);
}

/// Whether the snapshot is amended.
fn amended<K, V>(m: &Map<K, V>) -> bool
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let g = m.reclaim.pin();
    m.snapshot(&g).amended
}

/// The keys of the dirty map.
fn dirty_keys(m: &Map<u64, i32>) -> Vec<u64> {
    let d = crate::loom::lock(&m.dirty);
    let mut keys: Vec<u64> = d.m.iter().map(|de| *de.e.key()).collect();
    keys.sort_unstable();
    keys
}

/// A range whose callback promotes the dirty map (by ranging again) meets
/// stale entries of the snapshot it is iterating, and still visits every
/// key once, with its value.
#[test]
fn range_follows_moved_keys() {
    let m: Map<u64, String> = Map::new();
    for i in 0..8 {
        m.store(i, i.to_string());
    }
    assert_eq!(m.len(), 8); // promotes: the keys are in the snapshot
    let mut seen = Vec::new();
    m.range(|k, v| {
        if seen.is_empty() {
            m.store(100, "new".into()); // amends
            assert_eq!(m.len(), 9); // promotes: every old entry is stale
        }
        assert_eq!(*v, k.to_string());
        seen.push(*k);
        true
    });
    seen.sort_unstable();
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
    assert_eq!(m.len(), 9);
}

/// Misses promote the dirty map: after as many locked loads as it has keys,
/// loads are served from the snapshot.
#[test]
fn misses_promote_dirty() {
    let m = Map::new();
    for i in 0..4 {
        m.store(i, i);
    }
    assert!(amended(&m));
    for _ in 0..4 {
        assert_eq!(m.load(&99), None);
    }
    assert!(!amended(&m), "four misses promote a four-key dirty map");
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

/// The racing side of a promotion, made deterministic: operations that
/// loaded the snapshot before a promotion meet its stale entries and go
/// through the public path (which retries under the lock) afterwards.
#[test]
fn stale_entries_refuse_lock_free_ops() {
    let m: Map<u64, String> = Map::new();
    m.store(1, "a".into());
    m.store(3, "c".into());
    assert_eq!(m.len(), 2); // promotes: 1 and 3 in the snapshot
    m.delete(&3); // deleted in place: the next promotion leaves it out
    let g = m.reclaim.pin();
    let old = m.snapshot(&g).t;
    m.store(2, "b".into()); // amends
    assert_eq!(m.len(), 2); // promotes: `old` is stale
    let h = |k: u64| m.hasher.hash_one(k);
    let e1 = find(old, h(1), &1).expect("1 was in the old snapshot");
    let e3 = find(old, h(3), &3).expect("3 was in the old snapshot");
    assert!(e1.load(&g).is_err());
    assert!(e3.load(&g).is_err());
    assert!(e1.delete(&g).is_err());
    assert!(e1.try_swap(Box::new("x".into()), &g).is_err());
    assert!(e3.try_swap(Box::new("x".into()), &g).is_err());
    assert!(matches!(
        e3.try_load_or_store("x".into(), &g),
        LoadOrStore::Stale(_)
    ));
    assert!(e1
        .try_compare_and_swap(&"a".into(), "x".into(), &g)
        .is_err());
    assert!(e1.compare_and_delete(&"a".into(), &g).is_err());
    assert_eq!(*e1.key(), 1, "a moved key's old copy stays readable");
    assert_eq!(m.load(&1).as_deref(), Some("a"));
    assert_eq!(m.swap(1, "a2".into()).as_deref(), Some("a"));
    assert_eq!(m.load(&3), None);
    assert_eq!(m.load_or_store(3, "c2".into()), ("c2".into(), false));
    drop(g);
    let mut all = Vec::new();
    m.range(|k, v| {
        all.push((*k, v.clone()));
        true
    });
    all.sort();
    assert_eq!(all, [(1, "a2".into()), (2, "b".into()), (3, "c2".into())]);
}

/// Promotions under fire, with real epoch reclamation: one thread adds and
/// deletes fresh keys (each new key amends, each range or run of misses
/// promotes, moving every entry) while another keeps swapping the values
/// of keys that are never deleted. Those keys are always found, by loads
/// and by ranges, with a value their writer stored, and the last stores
/// survive.
#[test]
fn stable_keys_survive_promotions() {
    let n: u64 = if cfg!(miri) { 40 } else { 5_000 };
    let m = Arc::new(Map::<u64, Arc<u64>>::new());
    for k in 0..4 {
        m.store(k, Arc::new(k));
    }
    let churn = {
        let m = Arc::clone(&m);
        thread::spawn(move || {
            for i in 0..n {
                let k = 1_000 + i;
                m.store(k, Arc::new(k));
                assert_eq!(m.load(&k).as_deref(), Some(&k));
                if i % 3 == 0 {
                    m.range(|_, _| true); // promotes
                }
                m.delete(&k);
            }
        })
    };
    let swapper = {
        let m = Arc::clone(&m);
        thread::spawn(move || {
            for i in 1..=n {
                for k in 0..4 {
                    let prev = m.swap(k, Arc::new(k + 4 * i)).expect("a stable key");
                    assert_eq!(*prev % 4, k);
                }
            }
        })
    };
    // Check for as long as the writers run (at least a few times).
    let mut rounds = 0;
    while rounds < 4 || !(churn.is_finished() && swapper.is_finished()) {
        rounds += 1;
        for k in 0..4 {
            let v = m.load(&k).expect("a stable key is never missing");
            assert_eq!(*v % 4, k);
        }
        let mut seen = [false; 4];
        m.range(|k, v| {
            if *k < 4 {
                assert_eq!(**v % 4, *k);
                seen[*k as usize] = true;
            }
            true
        });
        assert_eq!(seen, [true; 4], "a range missed a stable key");
    }
    churn.join().unwrap();
    swapper.join().unwrap();
    for k in 0..4 {
        assert_eq!(m.load(&k).as_deref(), Some(&(k + 4 * n)));
    }
    assert_eq!(m.len(), 4);
}

/// A recycled block serves the next box of the same layout, whatever its
/// type, and a `Box` made from it frees as any other (Miri checks the
/// layouts).
#[test]
fn recycled_block_serves_the_same_layout() {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    let p = Box::into_raw(super::recycle::boxed([1u64, 2]));
    let block = (
        NonNull::new(p.cast::<u8>()).unwrap(),
        Layout::new::<[u64; 2]>(),
    );
    // SAFETY: `p` is a live box of `[u64; 2]` (no drop needed), given once.
    unsafe { super::recycle::give(std::iter::once(block)) };
    let b = super::recycle::boxed((3u64, 4u64));
    assert_eq!(
        std::ptr::from_ref(&*b).cast::<u8>(),
        p.cast::<u8>().cast_const(),
        "LIFO reuse"
    );
    assert_eq!(*b, (3, 4));
    drop(b);
    // Layouts that are not recycled (alignment 4, zero-sized) are freed.
    let q = Box::into_raw(Box::new([5u32, 6]));
    let z = Box::into_raw(Box::new(()));
    // SAFETY: live boxes, given once, never used again.
    unsafe {
        super::recycle::give(
            [
                (
                    NonNull::new(q.cast::<u8>()).unwrap(),
                    Layout::new::<[u32; 2]>(),
                ),
                (NonNull::new(z.cast::<u8>()).unwrap(), Layout::new::<()>()),
            ]
            .into_iter(),
        )
    };
}

/// Every value stored, replaced or cloned is dropped exactly once, though
/// replaced boxes are recycled. The stores run on a thread of their own,
/// whose exit defers its limbo; then the epochs are driven (pin and flush)
/// until every deferred batch has run, so the count is exact, under Miri
/// too (which runs the real crossbeam-epoch path: `.ci/run`'s Tree Borrows
/// step).
#[test]
fn recycled_values_are_dropped_once() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static MADE: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Counted(u64);
    impl Counted {
        fn new(v: u64) -> Counted {
            MADE.fetch_add(1, Relaxed);
            Counted(v)
        }
    }
    impl Clone for Counted {
        fn clone(&self) -> Counted {
            Counted::new(self.0)
        }
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Relaxed);
        }
    }
    let n = if cfg!(miri) { 60 } else { 20_000 };
    thread::spawn(move || {
        for round in 0..2 {
            let m = Map::<u64, Counted>::new();
            for i in 0..n {
                m.store(i % 8, Counted::new(round * n + i));
                assert_eq!(m.load(&(i % 8)).map(|c| c.0), Some(round * n + i));
                if i % 5 == 0 {
                    m.delete(&((i + 3) % 8));
                }
            }
        }
    })
    .join()
    .unwrap();
    // A thread pinned by another test can hold an epoch back for a while:
    // generous, bounded, and it only ends early once the count is exact.
    for _ in 0..100_000 {
        if DROPPED.load(Relaxed) == MADE.load(Relaxed) {
            break;
        }
        crossbeam_epoch::pin().flush();
        thread::yield_now();
    }
    let (made, dropped) = (MADE.load(Relaxed), DROPPED.load(Relaxed));
    assert_eq!(dropped, made, "{dropped} drops of {made} values");
}

/// The depot ages: blocks that sat in it for a whole aging period, never
/// drawn on, are freed by the next aging, so a burst of retired values
/// does not pin its memory for the life of the process (the soak's
/// creeping heap). The blocks are of a layout no other test uses (31
/// words), given on a thread of their own whose exit moves its free list
/// to the depot. Other tests' runtimes may age the depot too (sysmon);
/// an extra aging only frees sooner, never adds blocks of this class.
#[test]
fn the_depot_frees_blocks_unused_for_a_period() {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    type Odd = [u64; 31];
    let n = 3 * super::recycle::MAG;
    std::thread::spawn(move || {
        for _ in 0..n {
            let p = Box::into_raw(Box::new([0u64; 31]));
            let block = (NonNull::new(p.cast::<u8>()).unwrap(), Layout::new::<Odd>());
            // SAFETY: a live box of `Odd` (no drop needed), given once.
            unsafe { super::recycle::give(std::iter::once(block)) };
        }
    })
    .join()
    .unwrap();
    let size = std::mem::size_of::<Odd>();
    assert!(
        super::recycle::depot_len(size) > 0,
        "the exiting thread's blocks reach the depot"
    );
    // The first aging records what sat there; the second frees it.
    super::recycle::age();
    super::recycle::age();
    assert_eq!(super::recycle::depot_len(size), 0);
}
