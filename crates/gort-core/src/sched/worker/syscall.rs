//! `gort::syscall`: Go's `entersyscall`/`exitsyscall` around a blocking
//! call made inside a poll. The P stays the M's unless sysmon retakes it
//! while the call blocks (`p.rs`, "Hand-off"); then the M, back from the
//! call, takes any idle P or waits for one on `exitq` (Go's
//! `exitsyscall0`), so that at most `procs` Ms run tasks.

use super::Worker;
use crate::loom::Ordering::*;
use crate::task::WaitReason;

/// `f` on this thread, under [`Worker::syscall`] if the thread is an M:
/// `gort::syscall`'s body, and the leak check's wait (`sched/leaks.rs`).
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    // Decide with the worker borrowed, then run `f` outside the closure so
    // `f` may use the runtime freely.
    let w = crate::sched::context::with_worker(|w| w.map(|w| w as *const Worker));
    match w {
        // SAFETY: the pointer is this thread's own M record, live for the
        // whole M loop, which is running this call.
        Some(w) => unsafe { &*w }.syscall(f),
        None => f(),
    }
}

impl Worker {
    /// Go's `entersyscall`/`exitsyscall` around `f`, which blocks this M:
    /// the P stays ours unless sysmon retakes it while `f` runs; then we
    /// take any idle P, or wait for one, before the poll goes on.
    pub(crate) fn syscall<R>(&self, f: impl FnOnce() -> R) -> R {
        let (Some(pid), true, false) = (self.p.get(), self.in_poll.get(), self.in_syscall.get())
        else {
            return f();
        };
        let p = &self.shared.allp[pid];
        let Some(sys) = p.enter_syscall(self.pword.get()) else {
            // Retaken already (a long poll): nothing of ours to lend.
            return f();
        };
        // Without a P, wake-ups made by `f` go to the global queue. The
        // M lends its P for the call, as Go's `entersyscall` clears `m.p`:
        // `scheddetail` and `Metrics::ms` show it in the syscall, no P.
        self.set_p(None);
        self.info.blocked.store(true, Relaxed);
        self.in_syscall.set(true);
        crate::task::set_wait_reason(WaitReason::Syscall);
        struct Exit<'a> {
            w: &'a Worker,
            pid: usize,
            sys: u64,
        }
        impl Drop for Exit<'_> {
            // Runs on unwinding too: the M must hold a P again (or know it
            // lost it) before the poll goes on.
            fn drop(&mut self) {
                self.w.exit_syscall(self.pid, self.sys);
            }
        }
        let _exit = Exit { w: self, pid, sys };
        f()
    }

    pub(super) fn exit_syscall(&self, pid: usize, sys: u64) {
        self.in_syscall.set(false);
        crate::task::set_wait_reason(WaitReason::None);
        let p = &self.shared.allp[pid];
        if let Some(word) = p.exit_syscall(sys) {
            // Fast path: the syscall was short, or nobody needed the P.
            self.set_p(Some(pid));
            self.info.blocked.store(false, Relaxed);
            self.pword.set(word);
            return;
        }
        // Slow path (Go's `exitsyscall0`): the P went to another M. Take
        // any idle P, or wait for one: at most `procs` Ms run tasks.
        tracing::debug!(p = pid, "exitsyscall: P was handed off");
        self.set_p(None);
        self.info.blocked.store(true, Relaxed);
        let shared = &self.shared;
        if let Some(np) = shared.idle.wait_for_p(&self.park, || shared.kick_holder()) {
            let pp = &self.shared.allp[np];
            pp.acquire();
            self.set_p(Some(np));
            self.pword.set(pp.resume_poll());
            pp.in_poll.store(true, Relaxed);
            self.shared.sysmon.wake_if_deep();
        }
        // `None`: shutdown; the poll finishes without a P.
        self.info.blocked.store(false, Relaxed);
        self.shared.detached_ms.fetch_sub(1, Relaxed);
    }

    /// After a poll during which this M lost its P: get one back, or park
    /// until handed one. False at shutdown.
    pub(super) fn reacquire_after_handoff(&self) -> bool {
        // The poll is over: this M runs no task now.
        self.shared.detached_ms.fetch_sub(1, Relaxed);
        if self.try_idle_p(false) {
            return true;
        }
        self.stopm()
    }
}
