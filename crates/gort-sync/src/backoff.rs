//! The crate's one back-off policy, for every wait that spins: the channel
//! lock's waiters (`chan/lock.rs`), the other primitives' lock before it
//! blocks (`loom::lock`), and a `select` that has to look at its cases
//! again while another select holds the claim word it needs
//! (`select/mod.rs`, step 8).
//!
//! # The policy
//!
//! Go's counts (`lock_futex.go`, and `sync.Mutex`'s `runtime_doSpin`):
//! [`ACTIVE_SPIN`] rounds of [`ACTIVE_SPIN_CNT`] `PAUSE`s
//! (`std::hint::spin_loop`), a look at the awaited condition after each
//! round; then the caller either blocks ([`Backoff::spin`] returns false:
//! `loom::lock` falls back to the mutex's futex wait) or yields its thread
//! to the OS on every further step ([`Backoff::snooze`]: the channel lock,
//! whose waiters never sleep in the kernel, and `select`).
//!
//! The rounds are long on purpose. When a lock is contended, its holder
//! is usually not in one critical section but in a run of them (a
//! producer filling a channel's buffer, a consumer draining it, one task
//! after another on its M), and every look a waiter takes pulls the
//! watched cache line, and the state beside it, away from the holder's
//! core: its next acquisition, a few instructions later, misses. A waiter
//! that looked every 1, 2, 4 … `PAUSE`s made most of a busy channel lock
//! holder's acquisitions misses; one that looks once a round lets the
//! holder run at cache speed meanwhile. Longer rounds still would serve
//! such a workload better (a waiter that never gets in leaves one core
//! doing all the work), but hold each waiter longer; Go's counts are the
//! bound. (The measurements: `docs/perf-log.md`, "figures moved out of
//! gort-sync's comments", the channel lock.) The yield is what lets a holder that the OS preempted
//! run again; nothing that gort-sync waits for this way stays held for
//! longer than that (no user code runs while it is held).
//!
//! Under `--cfg loom` every step is `loom::thread::yield_now()`: a spin
//! loop that never yields makes loom explore it forever, and the spin
//! counts mean nothing to a model.

/// Rounds of spinning before a waiter blocks or starts yielding (Go's
/// `active_spin`).
pub(crate) const ACTIVE_SPIN: u32 = 4;
/// `PAUSE`s per round (Go's `active_spin_cnt`).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const ACTIVE_SPIN_CNT: u32 = 30;

/// One waiter's progress through the policy (module doc). Start a fresh
/// one for each wait.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Spin rounds done so far, up to [`ACTIVE_SPIN`].
    step: u32,
}

impl Backoff {
    pub(crate) const fn new() -> Backoff {
        Backoff { step: 0 }
    }

    /// One round of [`ACTIVE_SPIN_CNT`] `PAUSE`s, if the waiter has any
    /// left: true if it spun (look again), false once the rounds are spent
    /// (block instead). Under loom: a yield, and true while rounds are left.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        if self.step >= ACTIVE_SPIN {
            return false;
        }
        self.step += 1;
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        for _ in 0..ACTIVE_SPIN_CNT {
            std::hint::spin_loop();
        }
        true
    }

    /// One step of a wait that never blocks: a spin round while any are
    /// left, then a yield of the thread to the OS.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        if !self.spin() {
            std::thread::yield_now();
        }
    }
}
