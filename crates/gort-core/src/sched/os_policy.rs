//! sysmon's OS scheduling policy: `SCHED_BATCH` on Linux, so that its
//! wake-ups do not preempt the thread running on a CPU.
//!
//! # Why
//!
//! While Ps are busy, sysmon wakes every 10 ms (Go's schedule, `sysmon.rs`).
//! A `SCHED_OTHER` thread that wakes up preempts the thread running on
//! the CPU it lands on, and when it goes back to sleep the OS picks the next
//! thread afresh: an M, or, on `http_hello`, one of wrk's threads, which
//! may keep the CPU for a whole slice while the preempted M waits with the
//! requests in its queue. That is a preemption a hundred times a second
//! that tokio, which has no sysmon, never pays. On `http_hello` (2 procs,
//! wrk sharing the CPUs; `gort-bench --child`, 8 rounds alternating) wrk's
//! p99 was 4.40 ms with sysmon `SCHED_OTHER` and 4.19 ms with
//! `SCHED_BATCH` (tokio 4.18); a 50 ms sysmon period did as well, but
//! would slow sysmon's rescues fivefold.
//!
//! A `SCHED_BATCH` thread has the same weight (CPU share) as a
//! `SCHED_OTHER` one; only its wake-ups do not preempt: it runs when a CPU
//! goes idle or at the running thread's next scheduling point (a scheduler
//! tick or the end of its slice: a few ms). sysmon's thresholds for long
//! polls and the forced netpoll are 10 ms, so that delay matters little
//! there. It matters most for a P in `gort::syscall`, which sysmon retakes
//! after one period: while the other Ms keep every CPU busy, the retake
//! can come a tick later. `syscall_long` (two tasks making 1 ms syscalls,
//! 200 yielding) could not tell: four alternating runs per build gave
//! gort/tokio 0.85-1.28 without `SCHED_BATCH` and 0.85-1.47 with it. A
//! sysmon that went back to `SCHED_OTHER` while Ps were in syscalls was
//! tried and measured no better (1.03-1.28), so it was not kept.
//!
//! # Inheritance
//!
//! A thread inherits its creator's policy, and sysmon starts Ms (a P
//! handed off from a syscall goes to an idle M or a new one). An M started
//! by sysmon switches itself back to `SCHED_OTHER` ([`unbatch_m`]), but
//! only if sysmon made itself `SCHED_BATCH`: a program run under `chrt -b`
//! keeps its policy everywhere.
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

    pub(crate) fn batch_sysmon() {
        if policy() != libc::SCHED_OTHER {
            // The program chose a policy (`chrt`): leave it.
            return;
        }
        if set_policy(libc::SCHED_BATCH) {
            SYSMON_BATCH.store(true, Relaxed);
        } else {
            tracing::debug!("sysmon: SCHED_BATCH refused; staying SCHED_OTHER");
        }
    }

    pub(crate) fn unbatch_m() {
        // Relaxed: a thread sysmon started was started after sysmon set the
        // flag (thread creation orders the two).
        if SYSMON_BATCH.load(Relaxed) && policy() == libc::SCHED_BATCH {
            set_policy(libc::SCHED_OTHER);
        }
    }
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
mod imp {
    pub(crate) fn batch_sysmon() {}
    pub(crate) fn unbatch_m() {}
}

/// Makes the calling thread, sysmon, `SCHED_BATCH` (module doc), unless
/// the program runs under another policy than `SCHED_OTHER`.
pub(crate) fn batch_sysmon() {
    imp::batch_sysmon();
}

/// At the start of an M: back to `SCHED_OTHER` if the M inherited
/// sysmon's `SCHED_BATCH` (module doc, "Inheritance").
pub(crate) fn unbatch_m() {
    imp::unbatch_m();
}
