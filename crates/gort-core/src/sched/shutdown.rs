//! Runtime shutdown, and the count of the runtime's threads that decides
//! who drains the runtime last.
//!
//! Go has no runtime shutdown: a program exits. A gort `Runtime` is a value
//! that can be dropped, or shut down with a deadline (`shutdown_timeout`) or
//! none (`shutdown_background`), as tokio's can. When the caller stops
//! waiting, some of the runtime's threads may still be running (an M inside
//! a long poll, an offload thread inside a job): whatever they may still
//! touch must outlive them, and be cleaned up when the last of them is done.
//!
//! # The state machine
//!
//! ```text
//!   RUNNING ──(drop / shutdown_timeout / shutdown_background)──▶ STOPPING ──(live = 0)──▶ ENDED
//! ```
//!
//! - **RUNNING**: `live` is 1 (the runtime's own token, held by the
//!   `Runtime` value) plus the threads started and not yet exited.
//! - **STOPPING**, entered once by [`Shared::shutdown`] (`stopping` is
//!   swapped, so a second call, e.g. `Drop` after `shutdown_timeout`, does
//!   nothing):
//!   1. sets the scheduler's flag (`idle.shutdown`, SeqCst) and wakes every
//!      parked M, the timer sleeper, sysmon and the netpoller; each M's
//!      loop then exits at its next scheduling point;
//!   2. shuts the offload pool: idle threads exit, queued jobs are
//!      cancelled; a running job goes on, and its thread exits after it;
//!   3. cancels every task: the owned list is closed (later spawns are
//!      cancelled at once) and each task in it is shut down. A task nobody
//!      is polling has its future dropped right there, on the caller's
//!      thread; one an M is polling is marked `CANCELLED`, and that M drops
//!      its future when the poll returns (`after_pending`);
//!   4. waits for `live` to fall to 1 (drop: without limit; `shutdown_timeout`:
//!      until its deadline; `shutdown_background`: not at all), joins the
//!      Ms and sysmon if it did, and lets go of the token.
//! - **ENDED**: `live` reached 0. The one thread whose decrement took it
//!   there runs [`Shared::final_drain`]: the references still in the global
//!   queue and the Ps' queues, and the Ps' timers. That is the caller of
//!   step 4 when every thread exited in time, else the last runtime thread
//!   to exit, after its stop hook.
//!
//! # Invariants
//!
//! 1. `live` counts every runtime thread that may still run the runtime's
//!    code: a thread is counted ([`Ticket::register`], on the spawning
//!    thread) before it exists and uncounted as its last act, after its
//!    stop hook (`Running`'s drop). So `live == 0` means no M polls a task
//!    or touches a P's queue any more.
//! 2. `live` never rises from 0: `register` refuses it. A thread that loses
//!    that race is not started; its spawner treats it as a thread it could
//!    not start (an M's P goes back idle; an offload job racing shutdown was
//!    already cancelled by the pool's drain, `blocking::pool::Pool::submit`).
//! 3. Exactly one decrement takes `live` from 1 to 0, so the final drain
//!    runs once, after every other counted thread is done.
//! 4. A future is dropped by exactly one party: step 3 (which takes
//!    `RUNNING` with a CAS, never while an M polls it), the M whose poll
//!    returns into `CANCELLED`, or the M that completes it; never while an
//!    M could still poll it (task/state.rs, invariant 1).
//! 5. Each started thread's stop hook has run before its decrement; drop
//!    waits for `live == 1`, so every stop hook has run when drop returns.
//!
//! # Orderings
//!
//! - `live`'s decrements are AcqRel: each releases what its thread did, and
//!   the one that reaches 0 acquires all of it before draining. `register`'s
//!   CAS is Relaxed on success (a count; the spawn that follows orders the
//!   new thread after it) and refuses 0.
//! - The waiter reads `live` under `wait_lock`; a thread that takes `live`
//!   to 1 takes that lock before it notifies, so the waiter cannot sleep
//!   through it (the mutex orders the two).
//! - The scheduler flag's SeqCst store, and the SeqCst fence before the
//!   final drain, pair with `Shared::inject`'s: a wake-up from outside after
//!   the drain sees the flag and drains the global queue itself.
//!
//! # Rejected designs
//!
//! - Draining on the caller after a timed-out wait (what the old `drop`
//!   did after joining): an M still inside a poll could pop a reference the
//!   drain is dropping, or find its P's queue drained under it.
//! - Leaking the runtime when the wait times out: a program that builds
//!   runtimes in a loop (tests) would keep every one.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use super::context;
use super::handle::Handle;
use super::Shared;
use crate::loom::{fence, lock, AtomicBool, Ordering::*};

/// The runtime's threads and its shutdown's progress (module doc).
pub(crate) struct Lifecycle {
    /// 1 (the runtime's token) + the threads counted and not yet done; 0
    /// once ENDED.
    ///
    /// `live`, `wait_lock` and `wait_cv` are `std`'s even under loom: they
    /// count and wait for OS threads, with a wall-clock deadline
    /// (`Wait::Until`), which a model cannot replay deterministically (a
    /// model that drops a `Runtime` runs `wait_threads`).
    live: AtomicUsize,
    /// Set once, by the first [`Shared::shutdown`]. Through the loom
    /// facade: spawns and wake-ups read it (`shutdown_begun`).
    stopping: AtomicBool,
    /// Guards the waiter's check of `live` against a missed notification.
    wait_lock: std::sync::Mutex<()>,
    wait_cv: std::sync::Condvar,
}

impl Lifecycle {
    pub(crate) fn new() -> Lifecycle {
        Lifecycle {
            live: AtomicUsize::new(1),
            stopping: AtomicBool::new(false),
            wait_lock: std::sync::Mutex::new(()),
            wait_cv: std::sync::Condvar::new(),
        }
    }

    /// Runtime threads counted and not yet done (a gauge: it may change
    /// as soon as it is read).
    pub(crate) fn threads(&self) -> usize {
        self.live.load(Relaxed).saturating_sub(1)
    }
}

/// How long [`Shared::shutdown`] waits for the runtime's threads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Until every thread is done (`Drop for Runtime`).
    Forever,
    /// Until the deadline (`shutdown_timeout`; `shutdown_background` passes
    /// a deadline already past).
    Until(Instant),
}

/// A runtime thread counted in `live`, from before it is spawned until it
/// is done. Dropping it uncounts the thread (and, if it was the last, runs
/// the final drain): on the thread's way out, or on the spawner's if the
/// spawn failed.
pub(crate) struct Ticket(Arc<Shared>);

impl Ticket {
    /// Counts a thread about to be spawned. `None` once the runtime has
    /// ENDED: no thread may start (invariant 2).
    pub(crate) fn register(shared: &Arc<Shared>) -> Option<Ticket> {
        let live = &shared.lifecycle.live;
        let mut n = live.load(Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            // Relaxed: a count. Ordering for the new thread comes from the
            // spawn; for the drain, from the decrements (module doc).
            match live.compare_exchange_weak(n, n + 1, Relaxed, Relaxed) {
                Ok(_) => return Some(Ticket(shared.clone())),
                Err(actual) => n = actual,
            }
        }
    }

    /// On the new thread, first: enters the runtime and runs the start
    /// hook. The returned guard runs the stop hook when dropped, leaves the
    /// runtime, then uncounts the thread.
    pub(crate) fn start(self) -> Running {
        let enter = context::enter(Handle::internal(self.0.clone()));
        run_hook("on_thread_start", || self.0.config.hooks.on_start());
        Running {
            enter: Some(enter),
            ticket: Some(self),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.release_one();
    }
}

/// A started runtime thread (see [`Ticket::start`]).
pub(crate) struct Running {
    enter: Option<context::EnterGuard>,
    ticket: Option<Ticket>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = &self.ticket {
            run_hook("on_thread_stop", || t.0.config.hooks.on_stop());
        }
        drop(self.enter.take());
        // Last: uncount this thread (invariant 5).
        drop(self.ticket.take());
    }
}

/// Runs a user hook; a panic in it is reported and swallowed, so that a
/// runtime thread neither dies half-started nor skips its count.
fn run_hook(what: &str, f: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        tracing::error!(hook = what, "a gort thread hook panicked");
        eprintln!("gort: the {what} hook panicked");
    }
}

impl Shared {
    /// Whether shutdown has begun (STOPPING or ENDED).
    pub(crate) fn shutdown_begun(&self) -> bool {
        self.lifecycle.stopping.load(Acquire)
    }

    /// Shutdown (module doc, STOPPING): stops the Ms, cancels every task
    /// and queued job, waits as `wait` says, then lets go of the runtime's
    /// token. Only the first call does anything.
    pub(crate) fn shutdown(self: &Arc<Self>, wait: Wait) {
        // AcqRel: pairs with `shutdown_begun`'s Acquire (nothing is
        // published through it but the decision itself).
        if self.lifecycle.stopping.swap(true, AcqRel) {
            return;
        }
        tracing::debug!(?wait, "runtime shutdown");
        // Step 1: the Ms.
        self.idle.exit_all();
        {
            let mut ts = lock(&self.timer_sleep);
            ts.kicked = true;
        }
        self.timer_cv.notify_all();
        self.sysmon.wake();
        // Every task waiting on a socket wakes to an error, and a sleeper in
        // the netpoller wakes up.
        #[cfg(not(loom))]
        self.poller.shutdown();
        // Step 2: the offload pool.
        self.blocking.shutdown();
        // Step 3: every task (invariant 4).
        let tasks = self.owned.close_and_drain();
        tracing::debug!(tasks = tasks.len(), "shutdown: cancelling tasks");
        for task in tasks {
            task.shutdown();
        }
        // Step 4.
        let all_done = self.wait_threads(wait);
        if all_done {
            // Every counted thread is past its last act: the joins are
            // short. (A thread counted after the wait saw 1 joins as
            // quickly: it sees the flag and exits.)
            let threads = std::mem::take(&mut *lock(&self.threads));
            for t in threads {
                let _ = t.join();
            }
        } else {
            tracing::debug!(
                threads = self.lifecycle.threads(),
                "shutdown: not waiting for the threads still running; the last one drains"
            );
        }
        self.release_one();
    }

    /// Waits until only the runtime's token is counted, or the deadline.
    /// Returns whether it got there.
    fn wait_threads(&self, wait: Wait) -> bool {
        let lc = &self.lifecycle;
        let mut g = lc.wait_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            // Acquire: pairs with the AcqRel decrements, so what the threads
            // did before exiting happens before the joins and the drain.
            if lc.live.load(Acquire) <= 1 {
                return true;
            }
            g = match wait {
                Wait::Forever => lc.wait_cv.wait(g).unwrap_or_else(|e| e.into_inner()),
                Wait::Until(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    lc.wait_cv
                        .wait_timeout(g, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Uncounts one thread or the token; the one that reaches 0 drains.
    fn release_one(self: &Arc<Self>) {
        let lc = &self.lifecycle;
        // AcqRel: see the module doc, "Orderings".
        match lc.live.fetch_sub(1, AcqRel) {
            1 => self.final_drain(),
            2 => {
                // Only the token (or one last thread) is left: wake the
                // waiter, under its lock so it cannot miss it.
                drop(lc.wait_lock.lock().unwrap_or_else(|e| e.into_inner()));
                lc.wait_cv.notify_all();
            }
            _ => {}
        }
    }

    /// ENDED: no runtime thread runs (invariant 1). Drops every reference
    /// left in the queues, and every timer.
    fn final_drain(&self) {
        tracing::debug!("runtime ended: final drain");
        // SeqCst fence: pairs with the one in `inject` (see there).
        fence(SeqCst);
        // The list was closed in step 3; a task spawned since was cancelled
        // at once. Nothing is left, but draining again costs nothing.
        for task in self.owned.close_and_drain() {
            task.shutdown();
        }
        self.drain_inject();
        for p in self.allp.iter() {
            // SAFETY: `live` reached 0: every M has finished its loop and
            // released its P, and no M can start again (invariants 1, 2),
            // so no M holds or will hold any P.
            unsafe { p.drain() };
            p.timers.clear();
        }
        self.drain_inject();
        // `GORT_DEBUG=trace=PATH`: the file is complete once the runtime
        // has ended (unless `trace::stop` ended it first).
        if let Some(id) = self.exectrace {
            if let Err(e) = crate::exectrace::stop_session(id) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("gort: GORT_DEBUG=trace=: {e}");
                }
            }
        }
    }
}
