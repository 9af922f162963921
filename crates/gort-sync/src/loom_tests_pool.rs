//! Loom models of `sync.Pool`'s private slot try-lock and of aging racing
//! `get`/`put` (`pool/local.rs`, `pool/mod.rs`). Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-sync
//! --release --lib loom_`.
//!
//! Every object is a distinct number; each model checks at the end that
//! every object is in exactly one place (held by a thread, in the pool, or
//! dropped by aging), so an object handed out twice, or lost, fails it.

use loom::sync::Arc;
use loom::thread;

use crate::pool::local::{Local, Slot};
use crate::Pool;

/// Two threads put an object into one private slot and take one out, as
/// two Ps sharing a local (or an M that lost its P mid-`get`) do. The
/// try-lock never lets both in: the objects taken plus what is left are
/// exactly the objects put, each once.
#[test]
fn loom_pool_slot_try_lock_hands_out_each_object_once() {
    loom::model(|| {
        let slot = Arc::new(Slot::new());
        let s2 = Arc::clone(&slot);
        let t = thread::spawn(move || {
            let mut mine = Vec::new();
            if let Err(v) = s2.try_put(1u32) {
                mine.push(v);
            }
            mine.extend(s2.try_take());
            mine
        });
        let mut mine = Vec::new();
        if let Err(v) = slot.try_put(2u32) {
            mine.push(v);
        }
        mine.extend(slot.try_take());
        let mut all = t.join().unwrap();
        all.extend(mine);
        all.extend(slot.take_for_drop());
        all.sort();
        assert_eq!(all, [1, 2]);
    });
}

/// A period (`Local::age`, run twice, as two sysmons' ticks or a tick and
/// the pool's own aging) races a put and a get on the same local: each
/// object ends in exactly one place, and one that was put before both
/// periods and never taken is dropped.
#[test]
fn loom_pool_aging_races_put_and_get() {
    loom::model(|| {
        let l = Arc::new(Local::new());
        l.push_head(10u32); // primary before the race
        let l2 = Arc::clone(&l);
        let ager = thread::spawn(move || {
            let mut dropped = Vec::new();
            l2.age(&mut dropped);
            l2.age(&mut dropped);
            dropped
        });
        let mut held = Vec::new();
        if let Err(v) = l.private.try_put(20u32) {
            l.push_head(v);
        }
        let got = l
            .private
            .try_take()
            .or_else(|| l.pop_head())
            .or_else(|| l.pop_victim());
        held.extend(got);
        let dropped = ager.join().unwrap();
        let mut rest = Vec::new();
        l.drain(&mut rest);
        let mut all: Vec<u32> = held.iter().chain(&dropped).chain(&rest).copied().collect();
        all.sort();
        assert_eq!(
            all,
            [10, 20],
            "held {held:?} dropped {dropped:?} rest {rest:?}"
        );
        if !held.contains(&10) {
            // Object 10 was primary at the first period and nobody took it:
            // the second period dropped it.
            assert!(dropped.contains(&10) || rest.contains(&10));
        }
    });
}

/// The whole pool off any runtime (both threads on the fallback local):
/// a get and the guard's drop (the held-slot path) on one thread race a
/// period (`age_now`) on another. One period never drops an object, so
/// every object pooled (the first, and New's if the get missed) comes out
/// again afterwards, each once.
#[test]
fn loom_pool_get_put_races_a_period() {
    loom::model(|| {
        let news = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let n2 = Arc::clone(&news);
        let pool = Arc::new(Pool::with_slots(
            Box::new(move || 100 + n2.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u32),
            1,
        ));
        pool.put(1u32);
        let p2 = Arc::clone(&pool);
        let t = thread::spawn(move || {
            p2.age_now();
        });
        let g = pool.get();
        let first = *g;
        drop(g);
        t.join().unwrap();
        let ordering = std::sync::atomic::Ordering::Relaxed;
        let made = news.load(ordering);
        match first {
            1 => assert_eq!(made, 0),
            100 => assert_eq!(made, 1, "a miss while the period held the slot"),
            other => panic!("object {other}"),
        }
        // Everything pooled comes out again, each once, before New runs.
        let mut out = Vec::new();
        loop {
            let v = crate::PoolGuard::take(pool.get());
            if news.load(ordering) > made {
                break;
            }
            out.push(v);
        }
        out.sort();
        let want: Vec<u32> = if made == 0 { vec![1] } else { vec![1, 100] };
        assert_eq!(out, want, "one period drops nothing");
    });
}

/// A guard holding the private slot races a period: the period skips the
/// held slot, and the guard's object goes back into it, to be aged by the
/// next period, not lost.
#[test]
fn loom_pool_held_slot_races_aging() {
    loom::model(|| {
        let l = Arc::new(Local::new());
        assert!(l.private.try_put(7u32).is_ok());
        let l2 = Arc::clone(&l);
        let ager = thread::spawn(move || {
            let mut dropped = Vec::new();
            l2.age(&mut dropped);
            dropped
        });
        let mut held = Vec::new();
        if let Some((v, hold)) = l.private.try_take_hold() {
            hold.fill_release(v);
        } else if let Some(v) = l.pop_victim() {
            held.push(v);
        }
        let dropped = ager.join().unwrap();
        assert!(dropped.is_empty(), "one period drops nothing");
        let mut rest = Vec::new();
        l.drain(&mut rest);
        rest.extend(held);
        assert_eq!(rest, [7]);
    });
}
