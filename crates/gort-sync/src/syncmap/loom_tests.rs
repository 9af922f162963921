//! Loom models of the map's read/dirty protocol. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-sync --release --lib loom_syncmap`.
//!
//! Under loom the map's atomics (the snapshot pointer, each entry's value
//! pointer) and its lock are loom's; retired boxes are kept until the map
//! drops (see `reclaim.rs`), so what is checked is the protocol: the
//! amended bit, promotion, expunging.

use std::sync::Arc;

use loom::thread;

use super::Map;

/// A load that misses and promotes the dirty map races a store of a new
/// key (which builds a new dirty map from the snapshot): both keys end up
/// readable.
#[test]
fn loom_syncmap_promotion_races_new_key() {
    loom::model(|| {
        let m = Arc::new(Map::<u8, u8>::new());
        m.store(1, 10); // in the dirty map; the snapshot is amended
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || m2.load(&1));
        m.store(2, 20);
        assert_eq!(t.join().unwrap(), Some(10));
        assert_eq!(m.load(&1), Some(10));
        assert_eq!(m.load(&2), Some(20));
    });
}

/// Go's expunge race: key 1 is deleted from the snapshot; one thread stores
/// a new key (building a dirty map, which expunges 1) while another stores
/// 1 again (lock-free CAS, or un-expunge under the lock). Neither store is
/// lost, even after a promotion.
#[test]
fn loom_syncmap_store_races_expunge() {
    loom::model(|| {
        let m = Arc::new(Map::<u8, u8>::new());
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
        let m = Arc::new(Map::<u8, u8>::new());
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
        let m = Arc::new(Map::<u8, u8>::new());
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
