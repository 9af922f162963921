//! The workloads, their table, and what they share.
//!
//! Every workload mirrors `bench/go/workloads.go` (and `idle.go`): the same
//! operation counts and the same definition of one operation; change both
//! sides together. A round function builds nothing: it gets a runtime that
//! the harness built once for the workload and reuses across rounds, and it
//! starts its clock inside that runtime, on a driver task (see [`on_task`]),
//! so runtime start-up is never measured.
//!
//! Channels: gort has no channels of its own yet, so the workloads that
//! need one use `tokio::sync::oneshot` on both runtimes (tokio's sync
//! primitives work on any executor), which keeps the channel cost identical
//! on both sides. gort's own channels will replace it when gort-sync lands.

mod idle;
mod spawn;
mod switch;
mod timers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::harness::RoundResult;
use crate::system::{Gort, System, Tokio};

/// Where a workload's rounds run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// In this process, on one runtime per system built for the workload.
    InProcess,
    /// Each round in a fresh child process (allocator and runtime free
    /// lists would make every round after the first meaningless).
    ChildPerRound,
}

/// One row of the workload table.
#[derive(Debug)]
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    /// The unit of a round's value, for the diagnostics on stderr.
    pub(crate) unit: &'static str,
    /// A cap on measured rounds (the warm-up round is extra).
    pub(crate) max_rounds: Option<usize>,
    pub(crate) isolation: Isolation,
    pub(crate) gort: fn(&<Gort as System>::Runtime) -> RoundResult,
    pub(crate) tokio: fn(&<Tokio as System>::Runtime) -> RoundResult,
}

impl Workload {
    /// The number of measured rounds to run when `requested` were asked for.
    pub(crate) fn rounds(&self, requested: usize) -> usize {
        self.max_rounds.map_or(requested, |cap| requested.min(cap))
    }
}

/// Every workload, in the Go twin's order.
pub(crate) const ALL: &[Workload] = &[
    Workload {
        name: "spawn_many_local",
        unit: "ns/spawn",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: spawn::spawn_many_local::<Gort>,
        tokio: spawn::spawn_many_local::<Tokio>,
    },
    Workload {
        name: "spawn_many_remote",
        unit: "ns/spawn",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: spawn::spawn_many_remote::<Gort>,
        tokio: spawn::spawn_many_remote::<Tokio>,
    },
    Workload {
        name: "yield_many",
        unit: "ns/yield",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: switch::yield_many::<Gort>,
        tokio: switch::yield_many::<Tokio>,
    },
    Workload {
        name: "ping_pong",
        unit: "ns/pair",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: switch::ping_pong::<Gort>,
        tokio: switch::ping_pong::<Tokio>,
    },
    Workload {
        name: "chained_spawn",
        unit: "ns/spawn",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: spawn::chained_spawn::<Gort>,
        tokio: spawn::chained_spawn::<Tokio>,
    },
    Workload {
        name: "timers",
        unit: "ns/timer",
        max_rounds: Some(3),
        isolation: Isolation::InProcess,
        gort: timers::timers::<Gort>,
        tokio: timers::timers::<Tokio>,
    },
    Workload {
        name: "idle_task_bytes",
        unit: "bytes/task",
        max_rounds: None,
        isolation: Isolation::ChildPerRound,
        gort: idle::idle_task_bytes::<Gort>,
        tokio: idle::idle_task_bytes::<Tokio>,
    },
];

/// The workload called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Workload> {
    ALL.iter().find(|w| w.name == name)
}

/// Runs `driver` as a task on `rt` and returns its output: the analogue of
/// the Go twin's `onGoroutine`. Spawns made by the driver are spawns from
/// inside the runtime (onto a P's or worker's local queue), and its clock
/// does not include starting the driver.
pub(crate) fn on_task<S, F>(rt: &S::Runtime, driver: F) -> F::Output
where
    S: System,
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = S::handle(rt);
    S::block_on(rt, S::spawn_on(&handle, driver))
}

/// Go's `sync.WaitGroup` with a fixed count: each task calls
/// [`count_down`](Latch::count_down) once; the last one completes the
/// receiver returned by [`Latch::new`]. Runtime-agnostic, and the same on
/// both sides.
#[derive(Debug)]
pub(crate) struct Latch {
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Latch {
    pub(crate) fn new(count: usize) -> (Latch, oneshot::Receiver<()>) {
        assert!(count > 0, "a latch needs a positive count");
        let (tx, rx) = oneshot::channel();
        (
            Latch {
                remaining: AtomicUsize::new(count),
                done: Mutex::new(Some(tx)),
            },
            rx,
        )
    }

    pub(crate) fn count_down(&self) {
        // AcqRel: the Release half publishes this task's writes; the last
        // task's Acquire half sees every other task's, and hands them on to
        // the waiter through the oneshot (which synchronises itself).
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(tx) = tx {
                // The waiter may have given up (a panicking driver): ignore.
                let _ = tx.send(());
            }
        }
    }
}

/// Awaits a latch's receiver; the sender is only dropped unsent if a task
/// was lost, which is a bug in the runtime under test.
pub(crate) async fn wait(done: oneshot::Receiver<()>) {
    done.await
        .expect("a latch's sender was dropped before every task counted down");
}
