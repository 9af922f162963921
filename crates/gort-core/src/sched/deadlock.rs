//! Go's `checkdead`: is there anything left that could ever wake the
//! `block_on` future or a task?
//!
//! Asked by a `block_on` thread that has been parked for [`CHECK`] with the
//! detector on (`Builder::detect_deadlock`, on in `#[gort::test]`).
//!
//! # The claim
//!
//! The detector reports a deadlock only if no party that can run will ever
//! wake the `block_on` future or any task. Go can count the parties: every
//! one is a goroutine, and all are asleep when every M is idle. Here the
//! futures are ordinary Rust values, and whoever holds one of their
//! `Waker`s can wake them: a foreign reactor (async-io's thread), a timer
//! thread (futures-timer's), a std thread holding a `oneshot::Sender`. So
//! the runtime is *quiescent* (nothing can wake anything) when all of these
//! hold:
//!
//! 1. No gort party runs or is about to: every P is idle, no M spins, no M
//!    runs a task without a P, no queue holds a task, no task is `RUNNING`
//!    or `NOTIFIED`, and no `spawn_blocking` job is queued or running.
//! 2. No gort event source is armed: no timer is pending, no I/O source is
//!    registered with the netpoller (a signal subscription counts: a
//!    signal may come; the runtime's internal SIGQUIT watcher does not).
//! 3. No party outside could reach the runtime: no `Handle` (or
//!    `Handle::enter` guard) is held by user code, and this is the only
//!    thread in `block_on`.
//! 4. **Every waker reference is gort's own.** Each task counts its
//!    references in its state word, and the ones that are parked wakers in
//!    gort's waiting structures apart (`task::park_waker`: channel queues,
//!    select, timers, WaitGroup, the locks, context done, the join slot).
//!    A task's references must be exactly its owned-list entry's, its
//!    `JoinHandle`'s (while `JOIN_INTEREST` is set) and its parked wakers';
//!    the `block_on` future's (an `Arc<MainTask>`) exactly `block_on`'s
//!    two and its parked wakers'. Any other reference is a waker held by
//!    somebody gort does not know, who may wake its owner: not a deadlock.
//!
//! Why that suffices: by 4, every waker that exists sits in a gort waiting
//! structure; such a structure wakes its wakers only when a gort party acts
//! on it (a send, a `done`, an unlock, a timer firing, an I/O event), and by
//! 1–3 none can: no task or M runs, no event source is armed, and no thread
//! outside has a way in. A gort primitive moved to a thread outside the
//! runtime (a `Sender` in a `std::thread`) is such a way in that gort cannot
//! see; that thread must hold a `Handle` (semantics.md says so).
//!
//! The converse is not claimed: a task waiting on a foreign future that
//! will never complete (a waker held by a lock in another library, whose
//! holder is itself asleep) is not reported. An unaccounted reference is
//! taken as a way out.
//!
//! # Races
//!
//! The checks read many words one by one while foreign threads may act.
//! Each party's action is seen: a foreign wake-up makes its task `NOTIFIED`
//! and pushes it to the global queue (1), and wakes the runtime, which moves
//! the activity counters; a foreign clone adds a reference (4). The answer
//! comes with a snapshot of the scheduler's activity (polls, parks,
//! unparks), and `block_on` reports a deadlock only when two checks a
//! [`CHECK`] apart both say quiescent with the same snapshot, so a state
//! caught in passing (an M between two steps of parking, a reference in
//! transit between a queue and a poller) never counts.
//!
//! Costs: nothing on the hot paths. A parked waker is made with the same
//! one `fetch_add` a plain clone is; the scan below runs only in a
//! `block_on` that has been parked for a `CHECK` with the detector on.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::Shared;
use crate::loom::{lock, Ordering::SeqCst};
use crate::task::MainTask;
use crate::time::queue::NO_TIMER;

/// How long `block_on` stays parked between two checks.
pub(crate) const CHECK: Duration = Duration::from_millis(20);

/// The strong references to a `block_on` future's `MainTask` that are not
/// wakers: `block_on`'s own `Arc` and its registration in `Shared::mains`.
/// (The waker `block_on` polls with is one more, plain.)
const MAIN_OWN_REFS: usize = 2;

/// `Some(activity)` if nothing could wake anything (module doc), where
/// `main` is the asking `block_on`'s future.
pub(crate) fn quiescent(s: &Shared, main: &std::sync::Arc<MainTask>) -> Option<u64> {
    quiescent_but(s, Some(main), Except::Nothing)
}

/// What a synctest bubble's check leaves out of [`quiescent`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Except {
    /// The deadlock detector's check: everything counts.
    Nothing,
    /// A bubble's "durably blocked": pending timers are the bubble's to
    /// fire (its clock jumps to them), and a registered I/O source wakes
    /// only a task whose waker it holds, which condition 4 sees as not
    /// gort's.
    TimersAndIdleSources,
}

/// [`quiescent`], leaving out what `except` says; `main` is `None` once
/// the `block_on` future has returned (a bubble waiting for its tasks).
pub(crate) fn quiescent_but(
    s: &Shared,
    main: Option<&std::sync::Arc<MainTask>>,
    except: Except,
) -> Option<u64> {
    let all = except == Except::Nothing;
    // 1. and 2.
    // An M blocked in the netpoller holding its P (with only internal
    // hooks registered, e.g. `#[gort::main]`'s SIGQUIT watcher) leaves
    // that P idle in all but name; Ps `set_gomaxprocs` removed and no M
    // holds count as idle (`Idle::all_idle`).
    if !s.idle.all_idle(s.allp.len()) || s.idle.nmspinning.load(SeqCst) != 0 {
        return None;
    }
    if s.detached_ms.load(Relaxed) != 0 || s.any_work() {
        return None;
    }
    if all && s.earliest_timer() != NO_TIMER {
        return None;
    }
    #[cfg(not(loom))]
    if all && s.poller.has_user_sources() {
        return None;
    }
    if s.blocking.in_flight() != 0 {
        return None;
    }
    // 3.
    if s.user_handles.load(Relaxed) != 0 || lock(&s.mains).len() != 1 {
        return None;
    }
    // 4.
    if !main.is_none_or(main_wakers_parked) || !s.owned.all_asleep_in_gort() {
        return None;
    }
    Some(activity(s))
}

/// The scheduler's activity counter: polls, parks and unparks, summed. Two
/// equal readings around a check mean no M polled, parked or woke in
/// between.
pub(crate) fn activity(s: &Shared) -> u64 {
    let polls: u64 = s.allp.iter().map(|p| p.stats.polls.load(Relaxed)).sum();
    polls
        .wrapping_add(s.stats.parks.load(Relaxed))
        .wrapping_add(s.stats.unparks.load(Relaxed))
}

/// Whether every waker of the `block_on` future is parked in gort: its
/// strong count is `block_on`'s own references, the plain waker it polls
/// with, and the parked ones.
fn main_wakers_parked(main: &std::sync::Arc<MainTask>) -> bool {
    let parked = main.parked.load(Relaxed);
    std::sync::Arc::strong_count(main) == MAIN_OWN_REFS + 1 + parked
}
