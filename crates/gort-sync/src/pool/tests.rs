//! Unit tests of the pool off any runtime (they run under Miri too); the
//! runtime side is in the facade's `tests/sync_pool.rs`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use super::local::Local;
use super::*;

/// An object that counts its drops; `id` tells objects apart.
struct Obj {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// A pool of [`Obj`]s numbered by its New calls; returns (pool, news, drops).
fn counted() -> (Pool<Obj>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let news = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (n, d) = (Arc::clone(&news), Arc::clone(&drops));
    let pool = Pool::new(move || Obj {
        id: n.fetch_add(1, SeqCst),
        drops: Arc::clone(&d),
    });
    (pool, news, drops)
}

#[test]
fn pool_get_after_put_returns_the_same_object() {
    let (pool, news, _) = counted();
    let a = pool.get();
    assert_eq!(a.id, 0);
    drop(a);
    assert_eq!(pool.get().id, 0);
    assert_eq!(news.load(SeqCst), 1);
}

#[test]
fn pool_second_put_goes_to_the_shared_part_and_comes_back() {
    let (pool, news, _) = counted();
    let a = PoolGuard::take(pool.get());
    let b = PoolGuard::take(pool.get());
    assert_eq!((a.id, b.id), (0, 1));
    pool.put(a);
    pool.put(b);
    let x = pool.get();
    let y = pool.get();
    let mut ids = [x.id, y.id];
    ids.sort();
    assert_eq!(ids, [0, 1]);
    assert_eq!(news.load(SeqCst), 2);
}

#[test]
fn pool_object_survives_one_period_and_dies_at_the_second() {
    let (pool, news, drops) = counted();
    drop(pool.get());
    pool.age_now();
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(pool.get().id, 0, "the victim hands the object back");
    pool.age_now();
    pool.age_now();
    assert_eq!(drops.load(SeqCst), 1, "two periods unused drop it");
    assert_eq!(pool.get().id, 1);
    assert_eq!(news.load(SeqCst), 2);
}

#[test]
fn pool_drop_drops_every_object() {
    let (pool, _, drops) = counted();
    let objs: Vec<_> = (0..5).map(|_| PoolGuard::take(pool.get())).collect();
    for o in objs {
        pool.put(o);
    }
    pool.age_now(); // some in the victim
    drop(pool.get());
    drop(pool.get());
    drop(pool.get()); // and some primary again
    drop(pool);
    assert_eq!(drops.load(SeqCst), 5);
}

#[test]
fn pool_take_keeps_the_value() {
    let (pool, news, drops) = counted();
    let kept = PoolGuard::take(pool.get());
    assert_eq!(pool.get().id, 1, "the taken object was not returned");
    assert_eq!(news.load(SeqCst), 2);
    drop(kept);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn pool_panic_in_new_propagates_and_leaves_the_pool_usable() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let pool = Pool::new(move || {
        if c.fetch_add(1, SeqCst) == 0 {
            panic!("first New fails");
        }
        7u32
    });
    let r = catch_unwind(AssertUnwindSafe(|| *pool.get()));
    assert!(r.is_err());
    assert_eq!(*pool.get(), 7);
    drop(pool.get());
    assert_eq!(calls.load(SeqCst), 2, "the second New's object is reused");
}

#[test]
fn pool_ages_itself_from_its_operations() {
    let (pool, _, drops) = counted();
    let pool = pool.with_idle(Duration::from_nanos(1));
    drop(pool.get()); // object 0, in the private slot
                      // With a 1 ns period every clock read finds a period due; the clock is
                      // read once per OPS_PER_CLOCK operations on a local, with no sysmon
                      // here. Puts of other objects never take object 0 back, so after two
                      // periods it must have been dropped.
    let extra = Arc::new(AtomicUsize::new(0));
    for i in 0..3 * OPS_PER_CLOCK {
        pool.put(Obj {
            id: 1000 + i,
            drops: Arc::clone(&extra),
        });
    }
    assert_eq!(drops.load(SeqCst), 1, "the pool never aged itself");
}

#[test]
fn pool_local_thieves_take_the_other_end() {
    let l = Local::new();
    for i in 0..3 {
        l.push_head(i);
    }
    assert_eq!(l.pop_tail(), Some(0));
    assert_eq!(l.pop_head(), Some(2));
    assert_eq!(l.pop_tail(), Some(1));
    assert_eq!(l.pop_tail(), None);
    assert_eq!(l.pop_head(), None);
}

#[test]
fn pool_held_private_slot_falls_through() {
    let l: Local<u32> = Local::new();
    assert!(l.private.try_put(1).is_ok());
    assert_eq!(l.private.try_put(2), Err(2), "full");
    assert_eq!(l.private.try_take(), Some(1));
    assert_eq!(l.private.try_take(), None);
}

#[test]
fn pool_is_send_and_sync() {
    fn check<S: Send + Sync>() {}
    check::<Pool<Vec<u8>>>();
    check::<Pool<std::cell::Cell<u8>>>();
}

#[test]
#[cfg_attr(miri, ignore = "forgets a guard on purpose: a leak")]
fn pool_drop_after_a_forgotten_guard_does_not_hang() {
    let (pool, _, drops) = counted();
    drop(pool.get()); // into the private slot
    std::mem::forget(pool.get()); // holds the slot forever, object leaked
    drop(pool.get()); // a New object: the slot is held, so the shared part
    drop(pool);
    assert_eq!(drops.load(SeqCst), 1, "the pooled object is dropped");
}
