//! `gort::sync::Pool` (Go's `sync.Pool`) on gort's runtime and off it:
//! same-P reuse, exactly-once hand-out under contention, aging by sysmon
//! (an object put and never taken is dropped; one survives a single
//! period), dropping the pool, `PoolGuard::take`, and a panicking New.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::{Pool, PoolGuard};

/// How long a liveness check waits before it fails: generous, since it
/// returns as soon as the condition holds.
const WATCHDOG: Duration = Duration::from_secs(10);

/// A pooled object: numbered by its New call, with an "in use" flag that
/// catches an object handed out to two holders at once, and a shared drop
/// counter.
struct Obj {
    id: usize,
    in_use: AtomicBool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

struct Counted {
    pool: Pool<Obj>,
    news: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

fn counted(idle: Option<Duration>) -> Counted {
    let news = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (n, d) = (Arc::clone(&news), Arc::clone(&drops));
    let pool = Pool::new(move || Obj {
        id: n.fetch_add(1, SeqCst),
        in_use: AtomicBool::new(false),
        drops: Arc::clone(&d),
    });
    let pool = match idle {
        Some(d) => pool.with_idle(d),
        None => pool,
    };
    Counted { pool, news, drops }
}

#[test]
fn same_p_get_after_put_returns_the_same_object() {
    let rt = gort::Builder::new().procs(1).build().unwrap();
    let c = Arc::new(counted(None));
    let c2 = Arc::clone(&c);
    rt.block_on(async move {
        gort::spawn(async move {
            let first = c2.pool.get();
            let id = first.id;
            drop(first);
            let again = c2.pool.get();
            assert_eq!(again.id, id, "the same object");
            assert_eq!(c2.news.load(SeqCst), 1, "one New call");
            // The same allocation, too: a buffer's heap pointer survives.
            let bufs = Pool::new(|| Vec::<u8>::with_capacity(4096));
            let mut b = bufs.get();
            b.push(1);
            let ptr = b.as_ptr();
            drop(b);
            let b = bufs.get();
            assert_eq!(b.as_ptr(), ptr, "the same buffer");
            assert_eq!(b[..], [1], "as it was put back");
        })
        .await
        .unwrap();
    });
}

#[test]
fn off_runtime_threads_share_the_fallback() {
    let c = Arc::new(counted(None));
    drop(c.pool.get());
    assert_eq!(c.pool.get().id, 0);
    let c2 = Arc::clone(&c);
    std::thread::spawn(move || {
        // Another plain thread: the same fallback local, so the same object.
        assert_eq!(c2.pool.get().id, 0);
    })
    .join()
    .unwrap();
    assert_eq!(c.news.load(SeqCst), 1);
}

#[test]
fn each_object_is_handed_to_one_holder_at_a_time_under_contention() {
    const TASKS: usize = 8;
    const OPS: usize = 2_000;
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let c = Arc::new(counted(None));
    let gets = Arc::new(AtomicUsize::new(0));
    let (c2, g2) = (Arc::clone(&c), Arc::clone(&gets));
    rt.block_on(async move {
        let handles: Vec<_> = (0..TASKS)
            .map(|t| {
                let (c, gets) = (Arc::clone(&c2), Arc::clone(&g2));
                gort::spawn(async move {
                    for i in 0..OPS {
                        let o = c.pool.get();
                        gets.fetch_add(1, SeqCst);
                        assert!(!o.in_use.swap(true, SeqCst), "object {} twice", o.id);
                        if i % 7 == t % 7 {
                            // Hold it across a yield: other tasks must miss it.
                            gort::yield_now().await;
                        }
                        o.in_use.store(false, SeqCst);
                        if i % 5 == 0 {
                            // Through take + put: the shared parts and steals.
                            let v = PoolGuard::take(o);
                            let w = PoolGuard::take(c.pool.get());
                            gets.fetch_add(1, SeqCst);
                            assert!(!w.in_use.load(SeqCst), "object {} twice", w.id);
                            c.pool.put(v);
                            c.pool.put(w);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let news = c.news.load(SeqCst);
    assert!(news >= 1 && news <= gets.load(SeqCst), "{news} New calls");
    // Every object is either still pooled or was dropped by aging; dropping
    // the pool accounts for all of them, each exactly once.
    let c = Arc::try_unwrap(c).ok().expect("the tasks are done");
    let drops = Arc::clone(&c.drops);
    drop(c.pool);
    assert_eq!(drops.load(SeqCst), news);
}

/// Polls `cond` on the runtime's clock until it holds or [`WATCHDOG`]
/// passes.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < WATCHDOG {
        if cond() {
            return true;
        }
        gort::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

#[test]
fn sysmon_drops_an_object_put_and_never_taken() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let c = Arc::new(counted(Some(Duration::from_millis(20))));
    let c2 = Arc::clone(&c);
    rt.block_on(async move {
        drop(c2.pool.get());
        assert_eq!(c2.drops.load(SeqCst), 0);
        // Nothing touches the pool from here: only sysmon's ticks age it.
        let dropped = eventually(|| c2.drops.load(SeqCst) == 1).await;
        assert!(dropped, "the object was not dropped within {WATCHDOG:?}");
    });
    assert_eq!(c.news.load(SeqCst), 1);
}

#[test]
fn an_object_survives_one_period() {
    let rt = gort::Builder::new().procs(1).build().unwrap();
    let c = Arc::new(counted(None)); // 2 s: sysmon does not age it here
    let c2 = Arc::clone(&c);
    rt.block_on(async move {
        drop(c2.pool.get());
        c2.pool.age_now(); // one period: the object is now in the victim
        assert_eq!(c2.pool.get().id, 0, "the victim hands it back");
        assert_eq!(c2.news.load(SeqCst), 1);
        c2.pool.age_now();
        c2.pool.age_now();
        assert_eq!(c2.drops.load(SeqCst), 1, "two periods unused drop it");
    });
}

#[test]
fn dropping_the_pool_drops_all_its_objects() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let c = counted(None);
    let drops = Arc::clone(&c.drops);
    let pool = Arc::new(c.pool);
    let p2 = Arc::clone(&pool);
    rt.block_on(async move {
        let held: Vec<_> = (0..10).map(|_| PoolGuard::take(p2.get())).collect();
        for o in held {
            p2.put(o);
        }
        p2.age_now();
        drop(p2.get()); // one back in a primary cache, nine in victims
    });
    drop(rt);
    assert_eq!(drops.load(SeqCst), 0);
    drop(Arc::try_unwrap(pool).expect("only owner"));
    assert_eq!(drops.load(SeqCst), 10);
}

#[test]
fn take_keeps_the_value() {
    let rt = gort::Builder::new().procs(1).build().unwrap();
    let c = Arc::new(counted(None));
    let c2 = Arc::clone(&c);
    rt.block_on(async move {
        let kept = PoolGuard::take(c2.pool.get());
        assert_eq!(c2.pool.get().id, 1, "the taken object is not in the pool");
        assert_eq!(kept.id, 0);
        assert_eq!(c2.drops.load(SeqCst), 0);
        drop(kept);
        assert_eq!(c2.drops.load(SeqCst), 1);
    });
}

#[test]
fn a_panic_in_new_propagates_and_the_pool_stays_usable() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let pool = Arc::new(Pool::new(move || {
        if c.fetch_add(1, SeqCst) == 0 {
            panic!("New failed");
        }
        vec![0u8; 16]
    }));
    let p2 = Arc::clone(&pool);
    rt.block_on(async move {
        let p3 = Arc::clone(&p2);
        let err = gort::spawn(async move { p3.get().len() })
            .await
            .unwrap_err();
        assert!(err.is_panic());
        let p4 = Arc::clone(&p2);
        let len = gort::spawn(async move { p4.get().len() }).await.unwrap();
        assert_eq!(len, 16);
    });
    assert_eq!(calls.load(SeqCst), 2);
}
