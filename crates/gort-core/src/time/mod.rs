//! Time: `sleep`, `sleep_until`, `timeout`, and Go's `Ticker` and `Timer`.
//!
//! Timers live in the P of the task that arms them (see `queue.rs`); the M
//! holding that P fires them from its scheduling loop, a spinning M fires the
//! due timers of other Ps before it parks, and the last M to park sleeps
//! until the earliest timer of all (see `sched::worker`). A timer armed from
//! a thread with no P (a `block_on` future) goes to a P chosen by the
//! runtime, which wakes the sleeping M if the new deadline is earlier than
//! the one it sleeps until.
//!
//! Time is read through [`now`]: inside a synctest bubble
//! (`gort::synctest`) every deadline here is on the bubble's virtual clock.
//!
//! All futures here must be polled inside a gort runtime (an M, or a thread
//! inside `block_on`); polling one elsewhere panics with a message saying so.
//!
//! Two layers live here. `clock.rs`, `entry.rs` and `queue.rs` are below the
//! scheduler (each P owns a `TimerQueue`; `sched` imports them by their own
//! paths); the futures (`sleep.rs`, `timeout.rs`, `ticker.rs`, `timer.rs`,
//! `alarm.rs`) and `now.rs` are above it, arming timers through `sched::add_timer`.

mod alarm;
pub(crate) mod clock;
pub(crate) mod entry;
mod heap4;
mod now;
pub(crate) mod queue;
mod sleep;
mod ticker;
mod timeout;
mod timer;

pub use now::now;
pub use sleep::{sleep, sleep_until, Sleep};
pub use ticker::Ticker;
pub use timeout::{timeout, Elapsed, Timeout};
pub use timer::Timer;

pub use std::time::{Duration, Instant};
