//! Go's `checkdead`: is there anything left that could ever wake the
//! `block_on` future or a task?
//!
//! Asked by a `block_on` thread that has been parked for [`CHECK`] with the
//! detector on (`Builder::detect_deadlock`, on in `#[gort::test]`). The
//! runtime is *quiescent* when:
//!
//! - every P is idle and no M spins (no task is running or about to);
//! - no M runs a task without a P (one whose P was retaken in a syscall or
//!   a long poll);
//! - no queue holds a task;
//! - no timer is pending (a timer can wake anything);
//! - no I/O source is registered with the netpoller;
//! - no `spawn_blocking` job is queued or running;
//! - no `Handle` (or `Handle::enter` guard) is held by user code, and no
//!   other thread is in `block_on`: a thread outside the runtime could
//!   spawn or wake through them.
//!
//! The answer comes with a snapshot of the scheduler's activity (polls,
//! parks, unparks); `block_on` reports a deadlock only when two checks a
//! [`CHECK`] apart both say quiescent with the same snapshot, so a state
//! caught in passing (an M between two steps of parking) never counts.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::Shared;
use crate::loom::Ordering::SeqCst;
use crate::time::NO_TIMER;

/// How long `block_on` stays parked between two checks.
pub(crate) const CHECK: Duration = Duration::from_millis(20);

/// `Some(activity)` if nothing could wake anything (module doc).
pub(crate) fn quiescent(s: &Shared) -> Option<u64> {
    let procs = s.procs();
    if s.idle.npidle.load(SeqCst) != procs || s.idle.nmspinning.load(SeqCst) != 0 {
        return None;
    }
    if s.detached_ms.load(Relaxed) != 0 || s.any_work() {
        return None;
    }
    if s.earliest_timer() != NO_TIMER {
        return None;
    }
    #[cfg(not(loom))]
    if s.poller.has_sources() {
        return None;
    }
    if s.blocking.in_flight() != 0 {
        return None;
    }
    if s.user_handles.load(Relaxed) != 0 || s.block_ons.load(Relaxed) != 1 {
        return None;
    }
    let polls: u64 = s.allp.iter().map(|p| p.stats.polls.load(Relaxed)).sum();
    Some(
        polls
            .wrapping_add(s.stats.parks.load(Relaxed))
            .wrapping_add(s.stats.unparks.load(Relaxed)),
    )
}
