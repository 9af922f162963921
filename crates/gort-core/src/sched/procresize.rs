//! `set_gomaxprocs`: changing the number of Ps while tasks run (Go's
//! `GOMAXPROCS(n)` and `procresize`).
//!
//! Go stops the world, resizes `allp`, and starts it again: every P is
//! idle during the change. gort has no way to stop a poll, so the change
//! is made under the scheduler lock and each M carries it out at its next
//! scheduling point, a round of the scheduler at most:
//!
//! - `nprocs` (Go's `gomaxprocs`) says which Ps run tasks: `0..nprocs`.
//!   It is written under the scheduler lock, after `allp` holds that many
//!   Ps (`allp.rs`: Ps are made, never moved or freed, so a P id held
//!   anywhere stays valid).
//! - **Shrinking** to `n`: the idle Ps past `n` leave `pidle` and go
//!   *off* (`Sched::off`: on neither list, held by no M), and whatever
//!   they held moves to the others ([`Shared::move_work_off`]). A P past
//!   `n` that an M holds is *retiring*: the M sees it at the top of
//!   `find_runnable` (one relaxed load of `nprocs` a pass), moves the P's
//!   queue, `runnext`, timer-ready tasks and timers to the Ps that stay,
//!   lets the P go off and looks for another P as an idle M does
//!   (`Worker::retire_p`). The M blocked in the netpoller is kicked, so it
//!   gets there too. A P that sysmon retakes from a syscall or a long poll
//!   while retiring goes off in `handoffp`. Every path that would make a
//!   P idle sends one past `nprocs` off instead (`Sched::put_idle`), so
//!   `pidle` only ever holds Ps below `nprocs`.
//! - **Growing** to `n`: Ps `old..n` that are off go back on `pidle` (new
//!   ones are made first), and an M is woken if work waits. A retiring P
//!   that is back below `n` before its M let it go simply stays with it:
//!   both sides decide under the scheduler lock.
//!
//! Leftovers are harmless by construction: a task or timer that lands on a
//! P after its work was moved (a timer armed from outside a runtime M just
//! before the shrink) is still seen by every thief and every M that sleeps
//! on the timers, which look at all the Ps made (`allp.iter()`), as they
//! do for an idle P. Moving the work is what makes it run soon, not what
//! makes it run at all.
//!
//! The default (no `procs(n)`, no `GORT_MAXPROCS`) follows the process's
//! cgroup CPU limit (`cgroup.rs`); sysmon re-reads it every second and
//! resizes when it changes, until the program sets a value of its own, as
//! Go 1.25 does.

use std::sync::Arc;

use super::p::OwnedP;
use super::Shared;
use crate::loom::{lock, Ordering::*};
use crate::time::queue::NO_TIMER;

/// Who chose the current `gomaxprocs`: a running program's own choice
/// stops sysmon's updates from the cgroup limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chosen {
    /// `set_gomaxprocs`, `procs(n)` or `GORT_MAXPROCS`.
    ByUser,
    /// The default, from the CPU count and the cgroup limit.
    ByDefault,
}

impl Shared {
    /// `gomaxprocs` (a snapshot).
    #[inline]
    pub(crate) fn procs(&self) -> usize {
        self.idle.nprocs()
    }

    /// Sets `gomaxprocs` to `n` (at least 1); returns the previous value.
    /// `by` records who chose it: the user's choice turns off sysmon's
    /// updates from the cgroup limit, `Chosen::ByDefault` turns them on.
    pub(crate) fn set_gomaxprocs(self: &Arc<Self>, n: usize, by: Chosen) -> usize {
        let resize = lock(&self.resize);
        self.procs_by_default
            .store(by == Chosen::ByDefault, Relaxed);
        self.resize_locked(resize, n)
    }

    /// [`Shared::set_gomaxprocs`]'s work, with the resize lock held (one
    /// resize at a time, and `allp.ensure`'s single maker).
    fn resize_locked(
        self: &Arc<Self>,
        _resize: crate::loom::MutexGuard<'_, ()>,
        n: usize,
    ) -> usize {
        // A P needs an M to run on.
        let n = n.clamp(1, self.config.max_threads);
        let old = self.idle.nprocs();
        if n == old {
            return old;
        }
        self.allp.ensure(n);
        let off_now = self.idle.resize(n, self.allp.len());
        tracing::debug!(old, new = n, "set_gomaxprocs");
        let mut moved = false;
        for p in off_now {
            // SAFETY: P `p` was idle (on `pidle`: no M held it) and is off
            // now: no M can take it until a grow puts it back on `pidle`,
            // which needs the resize lock we hold. So we stand in for its
            // owner, as shutdown's final drain does.
            let owned = unsafe { self.allp[p].owned() };
            moved |= self.move_work_off(&owned);
        }
        if n < old {
            // The netpoll holder may hold a P past `n`: it must wake to
            // let it go. Ms spinning or running notice at their next pass.
            if self.idle.holder_asleep() {
                self.kick_holder();
            }
        }
        if moved || self.any_work() {
            self.wakep();
        }
        old
    }

    /// Moves everything a P past `gomaxprocs` holds to the Ps that stay:
    /// its queues and `runnext` to the global queue, its timers to P
    /// `id % nprocs`. Returns whether anything moved. The caller wakes an
    /// M for the tasks (`wakep`); the timers' watcher is told here.
    pub(crate) fn move_work_off(self: &Arc<Self>, p: &OwnedP<'_>) -> bool {
        let mut moved = false;
        while let Some(t) = p.timer_ready_get() {
            self.inject.push(t);
            moved = true;
        }
        while let Some((t, _)) = p.runqget() {
            self.inject.push(t);
            moved = true;
        }
        let to = &self.allp[p.id % self.procs()];
        let earliest = p.timers.move_into(&to.timers);
        if earliest != NO_TIMER {
            self.kick_timer_sleeper(earliest);
        }
        if moved {
            tracing::trace!(p = p.id, "retired P: tasks moved to the global queue");
        }
        moved
    }

    /// sysmon, every second while the default is in force: follows the
    /// cgroup CPU limit and the CPU count as they change (Go 1.25's
    /// `sysmonUpdateGOMAXPROCS`).
    pub(crate) fn update_default_gomaxprocs(self: &Arc<Self>) {
        if !self.procs_by_default.load(Relaxed) {
            return;
        }
        let want = crate::cgroup::default_procs();
        // Decided under the resize lock, so a `set_gomaxprocs` made
        // meanwhile is not overridden.
        let resize = lock(&self.resize);
        if self.procs_by_default.load(Relaxed) && want != self.procs() {
            tracing::debug!(want, "the CPU limit changed: gomaxprocs follows");
            self.resize_locked(resize, want);
        }
    }
}
