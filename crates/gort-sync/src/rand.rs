//! The crate's one random source: a per-thread xorshift64* generator
//! (Marsaglia's xorshift with Vigna's multiplicative scrambler), for the
//! decisions that only need to be fair, not unpredictable. Its one user
//! today is `select`'s case order (`select/mod.rs`, step 3), Go's
//! `cheaprand` in `selectgo`.
//!
//! # Seeding
//!
//! Outside loom each thread's state is seeded, on its first draw, from a
//! global counter mixed with a stack address: no clock, so that Miri,
//! which runs isolated from the host, runs it too. A seed is odd, and
//! xorshift never reaches 0 from a non-zero state, so 0 means "not seeded
//! yet": the state is a `const`-initialised thread-local, which needs no
//! lazy-initialisation check on every access (a lazily initialised
//! `thread_local!` checks its init state on each one, which cost more than
//! the rest of a two-case shuffle).
//!
//! A test can restart the calling thread's sequence from a fixed seed
//! with `seed_thread_rand` (re-exported, hidden, as
//! `gort_sync::select::seed_thread_rand`).
//!
//! Under loom the sequence must be the same in every execution of a model
//! (see `LOOM_SEED`), so each model thread's generator starts from a seed
//! the model sets.

use std::cell::Cell;

// This thread's generator state; 0 until its first draw (module doc).
#[cfg(not(loom))]
thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// The next 64 random bits of this thread's generator.
#[cfg(not(loom))]
#[inline]
pub(crate) fn fastrand() -> u64 {
    STATE.with(|s| {
        if s.get() == 0 {
            s.set(seed());
        }
        xorshift(s)
    })
}

/// Restarts the calling thread's generator from `seed` (made odd), so a
/// test can replay one sequence of `select!` case orders: every select
/// polled on this thread afterwards draws from it. Tests only (the
/// fairness test's chi-square runs on a fixed seed, so it cannot flake);
/// not public API.
#[cfg(not(loom))]
#[doc(hidden)]
pub fn seed_thread_rand(seed: u64) {
    STATE.with(|s| s.set(seed | 1));
}

/// A fresh odd seed for this thread's generator.
#[cfg(not(loom))]
#[cold]
fn seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static SEED: AtomicU64 = AtomicU64::new(0x853C_49E6_748F_EA9B);
    let local = 0u8;
    let addr = std::ptr::addr_of!(local) as u64;
    // Relaxed: the counter only has to hand out distinct values; nothing
    // is published through it.
    (SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed) ^ addr.rotate_left(29)) | 1
}

// The seed of every model thread's generator under loom (set by a model
// before `loom::model`; per OS thread, so that loom models running in
// parallel tests do not disturb each other: loom runs a model's threads
// as coroutines on the test's own thread). Loom replays a schedule by
// re-running the model and must see the same operations each time: a
// random case order that differs between runs makes it replay a schedule
// that no longer exists (it then reports impossible states, such as a
// mutex held by nobody that cannot be acquired). So under loom each
// thread's sequence restarts from this seed in every execution, and a
// model runs once per seed to cover both case orders.
#[cfg(loom)]
std::thread_local! {
    pub(crate) static LOOM_SEED: Cell<u64> = const { Cell::new(1) };
}

/// The next 64 random bits of this model thread's generator (module doc).
#[cfg(loom)]
pub(crate) fn fastrand() -> u64 {
    loom::thread_local! {
        static STATE: Cell<u64> = Cell::new(LOOM_SEED.with(Cell::get) | 1);
    }
    STATE.with(xorshift)
}

/// One step of xorshift64*.
#[inline]
fn xorshift(s: &Cell<u64>) -> u64 {
    let mut x = s.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.set(x);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}
