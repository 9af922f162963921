//! Loom models of gort-core's lock-free protocols. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-core --release --lib loom_`.
//!
//! - `loom_task`: the task state word (wake racing poll, abort racing wake,
//!   join-handle drop racing completion, join waker hand-shake).
//! - `loom_runnext`: `runnext` put/take by the owner racing a thief.
//! - `loom_park`: an M parking racing a submitter's `wakep` (no lost
//!   wake-up), and the M blocked in the netpoller holding its P racing a
//!   submitter's `wakep` or an M back from a syscall.
//! - `loom_handoff`: an owner's guarded queue access, end of poll and
//!   syscall exit racing sysmon's retake and the next owner.
//! - `loom_io`: a readiness event racing a task's registration, and a
//!   clear racing a newer event.
//! - `loom_local`: a `LocalSet`'s queue (a foreign wake-up racing the end
//!   of a batch; a foreign abort racing a wake-up of a local task).
//! - `loom_bubble`: a synctest bubble's kick to its monitor (never lost)
//!   and the `synctest::wait` slot (released or cancelled, exactly once).
//! - `loom_blocking`: the offload pool's idle handshake (a submission racing
//!   a thread going idle, retiring, or shutdown).
//! - `loom_memory`: Go's memory model for tasks (a task's completion before
//!   its awaited `JoinHandle` returns; the spawn before the first poll).
//! - `loom_timers`: the timer queue (cancel racing fire, an arm and a
//!   sleep's re-registration racing `run`, `move_into` racing a `run` on the
//!   destination and a cancel).

mod loom_blocking;
mod loom_bubble;
mod loom_handoff;
mod loom_io;
mod loom_local;
mod loom_memory;
mod loom_park;
mod loom_procresize;
mod loom_runnext;
mod loom_sched;
mod loom_task;
mod loom_timers;
mod loom_trace_stop;
mod support;
