//! G: a task, the stackless future gort runs where Go runs a goroutine.
//!
//! A task is one allocation (`raw.rs`) holding a header, its future and later
//! its output. The header's state word (`state.rs`) carries the lifecycle
//! bits and the reference count; every handle to a task owns one reference:
//!
//! - a `Notified` sits in a run queue (Go's `runq` entry);
//! - a `Task` is the runtime's entry in the owned list (`owned.rs`), which
//!   lets shutdown drop every future and lets the dump list every task;
//! - a [`JoinHandle`] is the user's;
//! - each `Waker` is one more; those that gort's own waiting structures
//!   keep are *parked* ([`park_waker`], `waker.rs`), for the deadlock
//!   detector.
//!
//! The files of this folder import each other through this one (its
//! shared types, `Id` and `WaitReason`, and its re-exports): one
//! subsystem, whose imports leave it only for the loom facade and
//! `time/clock.rs` (`tests/layers.rs`).
//!
//! Public here: [`park_waker`] and [`same_waker`], for gort-sync's waiting
//! structures (and any library's that wants the detector to count its
//! waiters as gort's), besides the types the crate root re-exports.
//!
//! Life of a task: spawn allocates it `NOTIFIED` with three references and
//! pushes the `Notified` to a run queue. A worker pops it and polls it
//! (`RUNNING`); `Pending` leaves it idle until a waker makes it `NOTIFIED`
//! again and pushes a new `Notified`; `Ready` (or a panic, or an abort) stores
//! the output, sets `COMPLETE`, wakes the join handle and removes the task
//! from the owned list. The last reference frees the cell.

mod cells;
mod current;
mod harness;
mod join;
mod local;
mod main;
mod owned;
mod raw;
mod refs;
mod state;
#[cfg(all(test, not(loom)))]
mod tests;
mod waker;

pub(crate) use cells::age as age_cells;
pub(crate) use current::enter as current_enter;
pub(crate) use current::polling_word;
pub use current::set_wait_reason;
pub use join::{AbortHandle, JoinError, JoinHandle};
pub(crate) use local::spawn_local_named;
pub use local::{spawn_local, LocalSet, RunUntil};
pub(crate) use main::MainTask;
pub(crate) use owned::OwnedTasks;
pub(crate) use raw::{new_task, new_task_unchecked, Header, Schedule};
pub(crate) use refs::{Notified, Task};
pub(crate) use waker::main_waker;
pub use waker::{park_waker, same_waker};

use std::fmt;

/// A task's identifier, unique within the process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub(crate) u64);

impl Id {
    /// The next id. Relaxed: uniqueness needs only atomicity.
    pub(crate) fn next() -> Id {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Id(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The id as a number, as Go prints goroutine ids.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a task is parked, as Go's `waitReason`; shown by the goroutine dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not parked on a gort primitive (or not recorded).
    None = 0,
    /// Parked in a channel send.
    ChanSend,
    /// Parked in a channel receive.
    ChanReceive,
    /// Parked in `select!`.
    Select,
    /// Parked in a timer.
    Sleep,
    /// Parked waiting for I/O readiness.
    IoWait,
    /// Parked in `WaitGroup::wait`.
    WaitGroupWait,
    /// Parked in a mutex.
    Mutex,
    /// Parked awaiting another task's `JoinHandle`.
    Join,
    /// Blocked in `gort::syscall` (running, but not on a P).
    Syscall,
    /// Parked in `gort::synctest::wait`.
    SynctestWait,
}

impl WaitReason {
    /// Go's spelling of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::Syscall => "syscall",
            WaitReason::WaitGroupWait => "WaitGroup wait",
            WaitReason::Mutex => "mutex",
            WaitReason::Join => "join",
            WaitReason::SynctestWait => "synctest.Wait",
        }
    }

    pub(crate) fn from_u32(v: u32) -> WaitReason {
        match v {
            1 => WaitReason::ChanSend,
            2 => WaitReason::ChanReceive,
            3 => WaitReason::Select,
            4 => WaitReason::Sleep,
            5 => WaitReason::IoWait,
            6 => WaitReason::WaitGroupWait,
            7 => WaitReason::Mutex,
            8 => WaitReason::Join,
            9 => WaitReason::Syscall,
            10 => WaitReason::SynctestWait,
            _ => WaitReason::None,
        }
    }
}

/// Formats the `block_on` futures of `mains` (as `goroutine 0`, marked
/// `main`, as Go lists goroutine 1 first) and every live task of `owned`,
/// as Go formats goroutines in a dump; a named task's name follows its
/// state (`goroutine 17 [IO wait, 3 ms] conn-42:`).
pub(crate) fn dump(owned: &OwnedTasks, mains: &[std::sync::Arc<MainTask>]) -> String {
    use std::fmt::Write;
    crate::time::clock::refresh_coarse(crate::time::clock::now_nanos());
    let now_ms = crate::time::clock::coarse_ms();
    let mut out = String::new();
    for m in mains {
        let (reason, since_ms) = m.wait_reason();
        let _ = write!(out, "goroutine 0 [");
        if reason == WaitReason::None {
            let _ = write!(out, "running");
        } else {
            let _ = write!(
                out,
                "{}, {} ms",
                reason.as_str(),
                now_ms.saturating_sub(since_ms)
            );
        }
        let _ = writeln!(
            out,
            "] main:\n\tblock_on at {}:{}\n",
            m.location.file(),
            m.location.line()
        );
    }
    owned.for_each(|h| write_task(&mut out, h, now_ms));
    out
}

/// The dump's blocks of just the live tasks of `owned` for which `keep`
/// is true (the leak check's report, `sched/leaks.rs`), and how many.
pub(crate) fn dump_tasks(
    owned: &OwnedTasks,
    mut keep: impl FnMut(&Header) -> bool,
) -> (String, usize) {
    crate::time::clock::refresh_coarse(crate::time::clock::now_nanos());
    let now_ms = crate::time::clock::coarse_ms();
    let (mut out, mut n) = (String::new(), 0);
    owned.for_each(|h| {
        if keep(h) {
            n += 1;
            write_task(&mut out, h, now_ms);
        }
    });
    (out, n)
}

/// One task's block of the dump: `goroutine N [state, age] name:` and its
/// spawn site.
fn write_task(out: &mut String, h: &Header, now_ms: u64) {
    use std::fmt::Write;
    let s = h.state.load();
    let state = if s.is_complete() {
        "done"
    } else if s.is_running() {
        "running"
    } else if s.is_notified() {
        "runnable"
    } else {
        "waiting"
    };
    let (reason, since_ms) = h.wait_reason();
    let shown = match (state, reason) {
        // Go shows a goroutine in a syscall as "[syscall]", not running.
        ("running", WaitReason::Syscall) => "syscall",
        ("waiting", r) if r != WaitReason::None => r.as_str(),
        _ => state,
    };
    let _ = write!(out, "goroutine {} [{}", h.id, shown);
    if shown != state || (state == "waiting" && reason != WaitReason::None) {
        let _ = write!(out, ", {} ms", now_ms.saturating_sub(since_ms));
    }
    let _ = write!(out, "]");
    if let Some(name) = &h.name {
        let _ = write!(out, " {name}");
    }
    let _ = writeln!(
        out,
        ":\n\tspawned at {}:{}\n",
        h.spawned_at.file(),
        h.spawned_at.line()
    );
}
