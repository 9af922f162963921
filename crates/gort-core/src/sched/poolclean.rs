//! The process-wide registry of `sync.Pool` cleanups, ticked by sysmon:
//! Go's `runtime_registerPoolCleanup` / `clearpools`, without a GC.
//!
//! Go's runtime calls `poolCleanup` at the start of every GC, with the
//! world stopped: each pool's primary cache becomes its victim cache and
//! the old victim is dropped. gort has no GC, so a pool (gort-sync's
//! `Pool<T>`) ages on a clock instead, one period of its own length
//! (`Pool::with_idle`), and something must run those periods even if the
//! pool is never touched again. That is sysmon: every round of every
//! runtime's sysmon calls [`tick`].
//!
//! # Protocol
//!
//! - A pool registers a `Weak` of its [`PoolCleanup`] once, when built
//!   ([`register_pool_cleanup`]). The registry never keeps a pool alive; a
//!   dead entry is pruned by the next tick that finds it.
//! - [`tick`] costs one relaxed load of [`REGISTERED`] while no pool is
//!   registered. Otherwise it runs at most once per [`TICK_NANOS`] (a
//!   relaxed compare of the last tick's time, then a CAS that one of
//!   several concurrent sysmons wins), `try_lock`s the registry (a sysmon
//!   that finds it busy skips the round: another is ticking), upgrades the
//!   live entries, releases the lock, and only then calls each pool's
//!   [`PoolCleanup::cleanup`]. So objects that aging drops are dropped
//!   outside the registry lock, and a pool's own locks are the pool's
//!   business (gort-sync's pool drops them outside its locks too).
//! - Each pool decides for itself whether a period is due (it keeps its
//!   last-aged time), so concurrent ticks, and the pool's own aging from
//!   its get/put when no runtime is alive, age it once per period.
//!
//! The registry is plain `std` (never model-checked): it only moves `Weak`s.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, TryLockError, Weak};

/// What a registered pool offers the registry: one aging step.
#[doc(hidden)]
pub trait PoolCleanup: Send + Sync {
    /// Runs one aging period if one is due at `now` (nanoseconds of
    /// [`pool_clock_nanos`]); a no-op otherwise.
    fn cleanup(&self, now: u64);
}

/// Registered entries, live or not yet pruned. Relaxed: a gate for
/// [`tick`]'s fast path; a pool registered concurrently with a tick that
/// reads 0 is seen by the next round.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// The time of the last tick that ran (nanoseconds of the clock).
static LAST_TICK: AtomicU64 = AtomicU64::new(0);

/// The least time between two ticks that walk the registry: sysmon's
/// rounds can be 20 µs apart, far finer than any pool's period needs.
const TICK_NANOS: u64 = 1_000_000;

/// The registered pools.
static POOLS: Mutex<Vec<Weak<dyn PoolCleanup>>> = Mutex::new(Vec::new());

/// Registers a pool's cleanup (Go's `runtime_registerPoolCleanup`, but one
/// entry per pool). The registry holds only `pool`, a `Weak`.
#[doc(hidden)]
pub fn register_pool_cleanup(pool: Weak<dyn PoolCleanup>) {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    pools.push(pool);
    REGISTERED.store(pools.len(), Relaxed);
}

/// The clock pools age by: nanoseconds since the process-wide epoch of the
/// runtime's timers (the `now` that sysmon passes to [`tick`]).
#[doc(hidden)]
pub fn pool_clock_nanos() -> u64 {
    crate::time::clock::now_nanos()
}

/// One sysmon round's turn of the registry (Go's `clearpools`, on a
/// clock). `now` is sysmon's reading of [`pool_clock_nanos`]'s clock.
#[inline]
pub(crate) fn tick(now: u64) {
    if REGISTERED.load(Relaxed) == 0 {
        return;
    }
    tick_slow(now);
}

#[cold]
#[inline(never)]
fn tick_slow(now: u64) {
    let last = LAST_TICK.load(Relaxed);
    if now.saturating_sub(last) < TICK_NANOS {
        return;
    }
    // Relaxed: the CAS only elects one of several sysmons for this round;
    // the registry's own lock orders what it reads.
    if LAST_TICK
        .compare_exchange(last, now, Relaxed, Relaxed)
        .is_err()
    {
        return;
    }
    let live: Vec<Arc<dyn PoolCleanup>> = {
        let mut pools = match POOLS.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let mut live = Vec::with_capacity(pools.len());
        pools.retain(|w| match w.upgrade() {
            Some(p) => {
                live.push(p);
                true
            }
            None => false,
        });
        REGISTERED.store(pools.len(), Relaxed);
        live
    };
    for p in &live {
        p.cleanup(now);
    }
    // `live` may hold the last strong reference of a pool dropped since
    // the upgrade: it is dropped here, outside the registry lock.
    drop(live);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    struct Counting(AtomicU32);
    impl PoolCleanup for Counting {
        fn cleanup(&self, _now: u64) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn ticks_live_pools_and_prunes_dead_ones() {
        let live = Arc::new(Counting(AtomicU32::new(0)));
        let dead = Arc::new(Counting(AtomicU32::new(0)));
        register_pool_cleanup(Arc::downgrade(&live) as Weak<dyn PoolCleanup>);
        register_pool_cleanup(Arc::downgrade(&dead) as Weak<dyn PoolCleanup>);
        drop(dead);
        // Far enough apart that the rate limit lets each through.
        let base = LAST_TICK.load(Relaxed) + 10 * TICK_NANOS;
        tick(base);
        tick(base + 10); // within the rate limit: skipped
        assert_eq!(live.0.load(Relaxed), 1);
        tick(base + 2 * TICK_NANOS);
        assert_eq!(live.0.load(Relaxed), 2);
        let pools = POOLS.lock().unwrap();
        assert!(pools.iter().all(|w| w.upgrade().is_some()));
    }
}
