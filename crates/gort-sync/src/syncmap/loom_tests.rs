//! Loom models of the map's read/dirty protocol. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-sync --release --lib loom_syncmap`.
//!
//! Under loom the map's atomics (the snapshot pointer, each entry's value
//! pointer) and its lock are loom's; retired boxes are kept until the map
//! drops (see `reclaim.rs`), so what is checked is the protocol: the
//! amended bit, promotion, and operations that meet a snapshot's entries
//! after a promotion moved them on (stale entries).

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use loom::thread;

use super::Map;

/// A map with a fixed hasher. Loom replays each execution's prefix and
/// needs the same atomic operations in the same order every time; with
/// `RandomState` the tables' iteration order (and so the order in which a
/// promotion touches the entries) would change from one execution to the
/// next.
fn new_map() -> Arc<Map<u8, u8, BuildHasherDefault<DefaultHasher>>> {
    Arc::new(Map::with_hasher(BuildHasherDefault::default()))
}

/// A load that misses and promotes the dirty map races a store of a new
/// key (which builds a new dirty map from the snapshot): both keys end up
/// readable.
#[test]
fn loom_syncmap_promotion_races_new_key() {
    loom::model(|| {
        let m = new_map();
        m.store(1, 10); // in the dirty map; the snapshot is amended
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || m2.load(&1));
        m.store(2, 20);
        assert_eq!(t.join().unwrap(), Some(10));
        assert_eq!(m.load(&1), Some(10));
        assert_eq!(m.load(&2), Some(20));
    });
}

/// Go's expunge race, here: key 1 is deleted in the snapshot; one thread
/// stores a new key (amending) while another stores 1 again (lock-free, in
/// place). Neither store is lost after a promotion (which would leave 1
/// out had it still been deleted).
#[test]
fn loom_syncmap_store_races_deleted() {
    loom::model(|| {
        let m = new_map();
        m.store(1, 10);
        assert_eq!(m.load(&9), None); // a miss: promotes, 1 is in the snapshot
        m.delete(&1);
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || m2.store(2, 20));
        m.store(1, 11);
        t.join().unwrap();
        assert_eq!(m.len(), 2); // promotes
        assert_eq!(m.load(&1), Some(11));
        assert_eq!(m.load(&2), Some(20));
    });
}

/// Two `load_or_store`s of one key: exactly one stores, both see its value.
#[test]
fn loom_syncmap_load_or_store_once() {
    loom::model(|| {
        let m = new_map();
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || m2.load_or_store(1, 1));
        let a = m.load_or_store(1, 2);
        let b = t.join().unwrap();
        assert_ne!(a.1, b.1, "exactly one stored: {a:?} {b:?}");
        assert_eq!(a.0, b.0);
        assert_eq!(m.load(&1), Some(a.0));
    });
}

/// A delete racing a swap of a key in the snapshot: the value is removed
/// at most once and the final state matches the order they took.
#[test]
fn loom_syncmap_delete_races_swap() {
    loom::model(|| {
        let m = new_map();
        m.store(1, 10);
        assert_eq!(m.load(&9), None); // promote
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || m2.load_and_delete(&1));
        let prev = m.swap(1, 11);
        let deleted = t.join().unwrap();
        match (prev, deleted, m.load(&1)) {
            (Some(10), Some(11), None) => {} // swap, then delete
            (None, Some(10), Some(11)) => {} // delete, then swap
            other => panic!("not linearizable: {other:?}"),
        }
    });
}

/// A store to a key of the snapshot races a promotion that moves the key
/// on: the store lands before the move (its box is moved) or meets the
/// stale entry and retries under the lock; it is never lost.
#[test]
fn loom_syncmap_store_races_promotion() {
    loom::model(|| {
        let m = new_map();
        m.store(1, 10);
        assert_eq!(m.load(&9), None); // promote: 1 is in the snapshot
        m.store(2, 20); // amended
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || m2.swap(1, 11));
        let mut seen = 0;
        m.range(|_, _| {
            seen += 1;
            true
        }); // promotes: moves 1 on
        assert_eq!(seen, 2);
        assert_eq!(t.join().unwrap(), Some(10));
        assert_eq!(m.load(&1), Some(11));
        assert_eq!(m.load(&2), Some(20));
    });
}

/// A delete and a load of a snapshot key race a promotion: the delete is
/// never undone by the move (the key is left out or moved deleted-free),
/// and the load sees the value or nothing, never a freed box.
#[test]
fn loom_syncmap_delete_races_promotion() {
    loom::model(|| {
        let m = new_map();
        m.store(1, 10);
        m.store(3, 30);
        assert_eq!(m.len(), 2); // promote: 1 and 3 are in the snapshot
        m.store(2, 20); // amended
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || (m2.load_and_delete(&1), m2.load(&3)));
        let n = m.len(); // promotes, counting 3, 2 and maybe 1
        assert!(n == 2 || n == 3, "{n} keys");
        let (deleted, loaded) = t.join().unwrap();
        assert_eq!(deleted, Some(10));
        assert_eq!(loaded, Some(30));
        assert_eq!(m.load(&1), None);
        assert_eq!(m.len(), 2);
    });
}
