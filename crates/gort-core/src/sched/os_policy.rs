//! sysmon's OS scheduling policy on Linux: `SCHED_BATCH` while no P is in
//! a syscall, so that its wake-ups do not preempt the thread running on a
//! CPU; `SCHED_OTHER` while Ps enter syscalls, so that it retakes them on
//! time.
//!
//! # Why `SCHED_BATCH`
//!
//! While Ps are busy, sysmon wakes every 10 ms (Go's schedule, `sysmon.rs`).
//! A `SCHED_OTHER` thread that wakes up preempts the thread running on
//! the CPU it lands on, and when it goes back to sleep the OS picks the next
//! thread afresh: an M, or, on `http_hello`, one of wrk's threads, which
//! may keep the CPU for a whole slice while the preempted M waits with the
//! requests in its queue. That is a preemption a hundred times a second
//! that tokio, which has no sysmon, never pays. On `http_hello` (wrk
//! sharing the CPUs) `SCHED_BATCH` brought wrk's p99 level with tokio's
//! (docs/perf-log.md); a 50 ms sysmon period did as well, but would slow
//! sysmon's rescues fivefold.
//!
//! A `SCHED_BATCH` thread has the same weight (CPU share) as a
//! `SCHED_OTHER` one; only its wake-ups do not preempt: it runs when a CPU
//! goes idle or at the running thread's next scheduling point (a scheduler
//! tick or the end of its slice: a few ms). sysmon's thresholds for long
//! polls and the forced netpoll are 10 ms, so that delay matters little
//! there.
//!
//! # Why `SCHED_OTHER` around syscalls
//!
//! A P in `gort::syscall` is retaken after one sysmon period (20 µs while
//! sysmon finds work). With every CPU busy, a `SCHED_BATCH` sysmon comes a
//! tick late each time, and a syscall of a few ms ends before sysmon has
//! seen it twice: with two CPU hogs running beside
//! `never_more_than_procs_running` (16 tasks making 2 ms syscalls),
//! sysmon handed off no P at all in one run of eight. So in a round that
//! sees a P in a syscall sysmon goes back to `SCHED_OTHER`, and once it has
//! seen none for 10 ms, to `SCHED_BATCH` again ([`SysmonPolicy`]): a
//! program that makes syscalls gets Go's sysmon, one that does not gets a
//! quiet one. The first syscall after a quiet spell can still be seen a
//! tick late.
//!
//! # Inheritance
//!
//! A thread inherits its creator's policy, and sysmon starts Ms (a P
//! retaken from a long poll goes to an idle M or a new one). An M started
//! by sysmon switches itself back to `SCHED_OTHER` ([`unbatch_m`]), but
//! only if sysmon made itself `SCHED_BATCH`: a program run under `chrt -b`
//! keeps its policy everywhere, and sysmon never changes it.
//!
//! Elsewhere than Linux (and under Miri or loom) this does nothing.

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    /// Set once sysmon has made itself `SCHED_BATCH` (any runtime's).
    static SYSMON_BATCH: AtomicBool = AtomicBool::new(false);

    fn set_policy(policy: libc::c_int) -> bool {
        // SAFETY: `sched_param` is plain data (zero is a valid value, and
        // priority 0 is the one SCHED_OTHER and SCHED_BATCH require);
        // pid 0 names the calling thread, so no other thread is touched.
        unsafe {
            let param: libc::sched_param = std::mem::zeroed();
            libc::sched_setscheduler(0, policy, &param) == 0
        }
    }

    fn policy() -> libc::c_int {
        // SAFETY: pid 0 names the calling thread; no memory is passed.
        unsafe { libc::sched_getscheduler(0) }
    }

    /// Whether the calling thread runs `SCHED_OTHER`, the only policy
    /// sysmon starts from.
    pub(super) fn is_other() -> bool {
        policy() == libc::SCHED_OTHER
    }

    /// Sets the calling thread (sysmon) to `SCHED_BATCH` or back to
    /// `SCHED_OTHER`. Returns whether it took.
    pub(super) fn set_batch(batch: bool) -> bool {
        let ok = set_policy(if batch {
            libc::SCHED_BATCH
        } else {
            libc::SCHED_OTHER
        });
        if ok && batch {
            SYSMON_BATCH.store(true, Relaxed);
        }
        ok
    }

    pub(super) fn unbatch_m() {
        // Relaxed: a thread sysmon started was started after sysmon set the
        // flag (thread creation orders the two).
        if SYSMON_BATCH.load(Relaxed) && policy() == libc::SCHED_BATCH {
            set_policy(libc::SCHED_OTHER);
        }
    }
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
mod imp {
    pub(super) fn is_other() -> bool {
        false
    }
    pub(super) fn set_batch(_batch: bool) -> bool {
        false
    }
    pub(super) fn unbatch_m() {}
}

/// No P seen in a syscall for this long: sysmon goes back to `SCHED_BATCH`.
const CALM_NANOS: u64 = 10_000_000;

/// sysmon's side: its current policy and when it last saw a P in a
/// syscall (module doc).
pub(crate) struct SysmonPolicy {
    /// False when the program runs under another policy than
    /// `SCHED_OTHER` (`chrt`), off Linux, or if the OS refused: then
    /// nothing changes.
    enabled: bool,
    batch: bool,
    /// `now_nanos` of the last round that saw a P in a syscall.
    last_syscall: Option<u64>,
}

impl SysmonPolicy {
    /// For the calling thread, sysmon: `SCHED_BATCH` from the start.
    pub(crate) fn start() -> SysmonPolicy {
        let batch = imp::is_other() && imp::set_batch(true);
        SysmonPolicy {
            enabled: batch,
            batch,
            last_syscall: None,
        }
    }

    /// After a round at `now`: `SCHED_OTHER` if the round saw a P in a
    /// syscall (`syscall_seen`), `SCHED_BATCH` once none has been seen for
    /// `CALM_NANOS`.
    pub(crate) fn round(&mut self, now: u64, syscall_seen: bool) {
        if !self.enabled {
            return;
        }
        if syscall_seen {
            self.last_syscall = Some(now);
        }
        let want = match self.last_syscall {
            Some(t) => now.saturating_sub(t) >= CALM_NANOS,
            None => true,
        };
        if want != self.batch && imp::set_batch(want) {
            tracing::trace!(batch = want, "sysmon: scheduling policy");
            self.batch = want;
        }
    }
}

/// At the start of an M: back to `SCHED_OTHER` if the M inherited
/// sysmon's `SCHED_BATCH` (module doc, "Inheritance").
pub(crate) fn unbatch_m() {
    imp::unbatch_m();
}
