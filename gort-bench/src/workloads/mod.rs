//! The workloads, their table, and what they share.
//!
//! Every workload mirrors `bench/go/workloads.go` (and `idle.go`): the same
//! operation counts and the same definition of one operation; change both
//! sides together. The exceptions, with no Go twin, are listed in
//! [`NO_GO_TWIN`]. A round function builds nothing: it gets a runtime that
//! the harness built once for the workload and reuses across rounds, and it
//! starts its clock inside that runtime, on a driver task (see [`on_task`]),
//! so runtime start-up is never measured.
//!
//! Channels: the scheduler workloads that need one use
//! `tokio::sync::oneshot` on both runtimes (tokio's sync primitives work on
//! any executor), which keeps the channel cost identical on both sides.
//! The channel workloads (`chan.rs`) measure the channels themselves, so
//! there each system uses its own: gort's `gort::sync::chan`, tokio's
//! `tokio::sync::mpsc`, and further contenders ([`Other`]: flume,
//! async-channel, crossbeam-channel), each printed as its own field.
//!
//! smol (`system::Smol`: async-executor, async-io, blocking) is the third
//! Rust system: every workload generic over [`System`] runs on it
//! unchanged, with the same oneshot channels; the others run on it where
//! smol has the primitive (its channel is async-channel, its mutex
//! async-lock's, its sockets `async_io::Async`), and print `smol=NA`
//! where it has none, each workload's docs saying why.

mod blocking;
mod chan;
mod context;
mod http;
mod idle;
mod mutex;
mod net;
mod pool;
mod spawn;
mod switch;
mod syncmap;
mod syscall;
mod timers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::harness::RoundResult;
use crate::system::{Gort, Smol, System, Tokio};

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
    /// `None`: no figure, printed `gort=NA` (the workload's docs say why).
    pub(crate) gort: Option<fn(&<Gort as System>::Runtime) -> RoundResult>,
    /// `None`: no figure, printed `tokio=NA` (the workload's docs say why).
    pub(crate) tokio: Option<fn(&<Tokio as System>::Runtime) -> RoundResult>,
    /// `None`: no figure, printed `smol=NA` (the workload's docs say why:
    /// smol has no such primitive).
    pub(crate) smol: Option<fn(&<Smol as System>::Runtime) -> RoundResult>,
    /// Further contenders, each printed as its own field after `tokio=`, in
    /// this order. In-process workloads only.
    pub(crate) others: &'static [Other],
}

impl Workload {
    /// The number of measured rounds to run when `requested` were asked for.
    pub(crate) fn rounds(&self, requested: usize) -> usize {
        self.max_rounds.map_or(requested, |cap| requested.min(cap))
    }

    /// Every contender's field name, in output order: `gort`, `tokio`,
    /// `smol`, then
    /// the [`others`](Workload::others); those without a figure included.
    pub(crate) fn systems(&self) -> impl Iterator<Item = &'static str> {
        [Gort::NAME, Tokio::NAME, Smol::NAME]
            .into_iter()
            .chain(self.others.iter().map(|o| o.name))
    }
}

/// A contender other than gort and tokio: another channel library, or a
/// variant of gort's round.
#[derive(Debug)]
pub(crate) struct Other {
    /// The field name in the output (`flume=`).
    pub(crate) name: &'static str,
    pub(crate) round: OtherRound,
}

/// How an [`Other`] runs a round.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OtherRound {
    /// As a task on the workload's tokio runtime (the one `tokio=` uses).
    OnTokio(fn(&<Tokio as System>::Runtime) -> RoundResult),
    /// On the workload's gort runtime (the one `gort=` uses): a variant of
    /// gort's own round (`http_hello`'s `gort_io`).
    OnGort(fn(&<Gort as System>::Runtime) -> RoundResult),
    /// On plain OS threads of its own, no runtime (`--procs` does not apply).
    Threads(fn() -> RoundResult),
}

/// Workloads that Go has no equivalent for: the twin is not asked, and the
/// line says `go=NA`. `spawn_blocking`: Go has no offload pool.
pub(crate) const NO_GO_TWIN: &[&str] = &["spawn_blocking"];

/// Workloads that use sockets: their tokio runtime is built with its I/O
/// driver (`Tokio::build_with_io`); the rest keep the one without.
pub(crate) const NET: &[&str] = &["tcp_echo", "tcp_rtt", "http_hello"];

/// Workloads driven by `wrk`: without it on `PATH` they are skipped and
/// their line says `NA` everywhere.
pub(crate) const NEEDS_WRK: &[&str] = &["http_hello"];

pub(crate) use http::wrk_available;

/// Every workload, in the Go twin's order (those in [`NO_GO_TWIN`] last).
pub(crate) const ALL: &[Workload] = &[
    Workload {
        name: "spawn_many_local",
        unit: "ns/spawn",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(spawn::spawn_many_local::<Gort>),
        tokio: Some(spawn::spawn_many_local::<Tokio>),
        smol: Some(spawn::spawn_many_local::<Smol>),
        others: &[],
    },
    Workload {
        name: "spawn_many_remote",
        unit: "ns/spawn",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(spawn::spawn_many_remote::<Gort>),
        tokio: Some(spawn::spawn_many_remote::<Tokio>),
        smol: Some(spawn::spawn_many_remote::<Smol>),
        others: &[],
    },
    Workload {
        name: "yield_many",
        unit: "ns/yield",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(switch::yield_many::<Gort>),
        tokio: Some(switch::yield_many::<Tokio>),
        smol: Some(switch::yield_many::<Smol>),
        others: &[],
    },
    Workload {
        name: "ping_pong",
        unit: "ns/pair",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(switch::ping_pong::<Gort>),
        tokio: Some(switch::ping_pong::<Tokio>),
        smol: Some(switch::ping_pong::<Smol>),
        others: &[],
    },
    Workload {
        name: "chained_spawn",
        unit: "ns/spawn",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(spawn::chained_spawn::<Gort>),
        tokio: Some(spawn::chained_spawn::<Tokio>),
        smol: Some(spawn::chained_spawn::<Smol>),
        others: &[],
    },
    Workload {
        name: "joinset_join",
        unit: "ns/task",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(spawn::joinset_join_gort),
        tokio: Some(spawn::joinset_join_tokio),
        // smol has no task group (JoinSet): see `spawn`.
        smol: None,
        others: &[],
    },
    Workload {
        name: "timers",
        unit: "ns/timer",
        max_rounds: Some(3),
        isolation: Isolation::InProcess,
        gort: Some(timers::timers::<Gort>),
        tokio: Some(timers::timers::<Tokio>),
        smol: Some(timers::timers::<Smol>),
        others: &[],
    },
    Workload {
        name: "timer_stop",
        unit: "ns/stop",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(timers::timer_stop::<Gort>),
        tokio: Some(timers::timer_stop::<Tokio>),
        smol: Some(timers::timer_stop::<Smol>),
        others: &[],
    },
    Workload {
        name: "timer_burst_hog",
        unit: "ns late (p99 of the tasks not computing)",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(timers::timer_burst_hog::<Gort>),
        tokio: Some(timers::timer_burst_hog::<Tokio>),
        smol: Some(timers::timer_burst_hog::<Smol>),
        others: &[],
    },
    Workload {
        name: "idle_task_bytes",
        unit: "bytes/task",
        max_rounds: None,
        isolation: Isolation::ChildPerRound,
        gort: Some(idle::idle_task_bytes::<Gort>),
        tokio: Some(idle::idle_task_bytes::<Tokio>),
        smol: Some(idle::idle_task_bytes::<Smol>),
        others: &[],
    },
    Workload {
        name: "chan_pingpong",
        unit: "ns/round-trip",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(chan::chan_pingpong::<Gort, chan::GortChan>),
        tokio: Some(chan::chan_pingpong::<Tokio, chan::TokioMpsc>),
        smol: Some(chan::chan_pingpong::<Smol, chan::AsyncChannel>),
        others: &[
            Other {
                name: "flume",
                round: OtherRound::OnTokio(chan::chan_pingpong::<Tokio, chan::Flume>),
            },
            Other {
                name: "async_channel",
                round: OtherRound::OnTokio(chan::chan_pingpong::<Tokio, chan::AsyncChannel>),
            },
            Other {
                name: "crossbeam",
                round: OtherRound::Threads(chan::chan_pingpong_crossbeam),
            },
        ],
    },
    Workload {
        name: "chan_mpmc",
        unit: "ns/msg",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(chan::chan_mpmc::<Gort, chan::GortChan>),
        // tokio's mpsc has one receiver: see `chan::chan_mpmc`.
        tokio: None,
        smol: Some(chan::chan_mpmc::<Smol, chan::AsyncChannel>),
        others: &[
            Other {
                name: "flume",
                round: OtherRound::OnTokio(chan::chan_mpmc::<Tokio, chan::Flume>),
            },
            Other {
                name: "async_channel",
                round: OtherRound::OnTokio(chan::chan_mpmc::<Tokio, chan::AsyncChannel>),
            },
            Other {
                name: "crossbeam",
                round: OtherRound::Threads(chan::chan_mpmc_crossbeam),
            },
        ],
    },
    Workload {
        name: "chan_spsc_buffered",
        unit: "ns/msg",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(chan::chan_spsc_buffered::<Gort, chan::GortChan>),
        tokio: Some(chan::chan_spsc_buffered::<Tokio, chan::TokioMpsc>),
        smol: Some(chan::chan_spsc_buffered::<Smol, chan::AsyncChannel>),
        others: &[
            Other {
                name: "flume",
                round: OtherRound::OnTokio(chan::chan_spsc_buffered::<Tokio, chan::Flume>),
            },
            Other {
                name: "async_channel",
                round: OtherRound::OnTokio(chan::chan_spsc_buffered::<Tokio, chan::AsyncChannel>),
            },
            Other {
                name: "crossbeam",
                round: OtherRound::Threads(chan::chan_spsc_buffered_crossbeam),
            },
        ],
    },
    Workload {
        name: "select2",
        unit: "ns/msg",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: chan::SELECT2_GORT,
        tokio: Some(chan::select2_tokio),
        // smol has no select over channels: see `chan`.
        smol: None,
        others: &[Other {
            name: "flume",
            round: OtherRound::Threads(chan::select2_flume),
        }],
    },
    Workload {
        name: "select_uncontended",
        unit: "ns/select",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(chan::select_uncontended_gort),
        tokio: Some(chan::select_uncontended_tokio),
        // smol has no select over channels: see `chan`.
        smol: None,
        others: &[],
    },
    Workload {
        name: "chan_idle_bytes",
        unit: "bytes/task",
        max_rounds: None,
        isolation: Isolation::ChildPerRound,
        gort: Some(chan::chan_idle_bytes),
        // tokio has no rendezvous channel: its figure is `idle_task_bytes`'
        // (a task parked on a `tokio::sync::oneshot`), measured again.
        tokio: Some(idle::idle_task_bytes::<Tokio>),
        smol: Some(idle::idle_task_bytes::<Smol>),
        others: &[],
    },
    Workload {
        name: "ctx_with_cancel",
        unit: "ns/child",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(context::ctx_with_cancel_gort),
        tokio: Some(context::ctx_with_cancel_tokio),
        // smol has no cancellation token: see `context`.
        smol: None,
        others: &[],
    },
    Workload {
        name: "ctx_cancel_tree",
        unit: "ns/context",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(context::ctx_cancel_tree_gort),
        tokio: Some(context::ctx_cancel_tree_tokio),
        // smol has no cancellation token: see `context`.
        smol: None,
        others: &[],
    },
    Workload {
        name: "syncmap_read90",
        unit: "ns/op",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(syncmap::read90::<Gort>),
        // tokio has no concurrent map: see `syncmap`.
        tokio: None,
        // smol has no concurrent map: see `syncmap`.
        smol: None,
        others: syncmap::READ90_OTHERS,
    },
    Workload {
        name: "syncmap_mixed50",
        unit: "ns/op",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(syncmap::mixed50::<Gort>),
        // tokio has no concurrent map: see `syncmap`.
        tokio: None,
        // smol has no concurrent map: see `syncmap`.
        smol: None,
        others: syncmap::MIXED50_OTHERS,
    },
    Workload {
        name: "syncmap_range",
        unit: "ns/entry",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(syncmap::range::<Gort>),
        // tokio has no concurrent map: see `syncmap`.
        tokio: None,
        // smol has no concurrent map: see `syncmap`.
        smol: None,
        others: syncmap::RANGE_OTHERS,
    },
    Workload {
        name: "pool_get_put",
        unit: "ns/op",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(pool::get_put::<Gort>),
        // tokio has no object pool: see `pool`.
        tokio: None,
        // smol has no object pool: see `pool`.
        smol: None,
        others: pool::GET_PUT_OTHERS,
    },
    Workload {
        name: "pool_get_put_contended",
        unit: "ns/op",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(pool::get_put_contended::<Gort>),
        // tokio has no object pool: see `pool`.
        tokio: None,
        // smol has no object pool: see `pool`.
        smol: None,
        others: pool::CONTENDED_OTHERS,
    },
    Workload {
        name: "mutex_contended",
        unit: "ns/lock",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(mutex::mutex_contended::<Gort, gort::sync::Mutex<u64>>),
        tokio: Some(mutex::mutex_contended::<Tokio, tokio::sync::Mutex<u64>>),
        smol: Some(mutex::mutex_contended::<Smol, async_lock::Mutex<u64>>),
        others: &[Other {
            name: "std_mutex",
            round: OtherRound::OnTokio(mutex::mutex_contended::<Tokio, std::sync::Mutex<u64>>),
        }],
    },
    Workload {
        name: "syscall_short",
        unit: "ns/call",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(syscall::syscall_short_gort),
        tokio: Some(syscall::syscall_short_tokio),
        // smol has no block_in_place: see `syscall`.
        smol: None,
        others: &[Other {
            name: "bare",
            round: OtherRound::Threads(syscall::syscall_short_bare),
        }],
    },
    Workload {
        name: "syscall_long",
        unit: "ns/yield",
        max_rounds: Some(5),
        isolation: Isolation::InProcess,
        gort: Some(syscall::syscall_long_gort),
        tokio: Some(syscall::syscall_long_tokio),
        // smol has no block_in_place: see `syscall`.
        smol: None,
        others: &[],
    },
    Workload {
        name: "blocked_poll_latency",
        unit: "us worst tick gap",
        max_rounds: Some(3),
        isolation: Isolation::InProcess,
        gort: Some(syscall::blocked_poll_latency::<Gort>),
        tokio: Some(syscall::blocked_poll_latency::<Tokio>),
        smol: Some(syscall::blocked_poll_latency::<Smol>),
        others: &[],
    },
    Workload {
        name: "tcp_echo",
        unit: "ns/round-trip",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(net::tcp_echo_gort),
        tokio: Some(net::tcp_echo_tokio),
        smol: Some(net::tcp_echo_smol),
        others: &[],
    },
    Workload {
        name: "tcp_rtt",
        unit: "ns/round-trip",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(net::tcp_rtt_gort),
        tokio: Some(net::tcp_rtt_tokio),
        smol: Some(net::tcp_rtt_smol),
        others: &[],
    },
    Workload {
        name: "http_hello",
        unit: "ns/request",
        max_rounds: Some(5),
        isolation: Isolation::InProcess,
        gort: Some(http::http_hello_gort),
        tokio: Some(http::http_hello_tokio),
        // hyper has no smol executor/timer in hyper-util: see `http`.
        smol: None,
        others: &[Other {
            name: "gort_io",
            round: OtherRound::OnGort(http::http_hello_gort_io),
        }],
    },
    Workload {
        name: "spawn_blocking",
        unit: "ns/job",
        max_rounds: None,
        isolation: Isolation::InProcess,
        gort: Some(blocking::spawn_blocking::<Gort>),
        tokio: Some(blocking::spawn_blocking::<Tokio>),
        smol: Some(blocking::spawn_blocking::<Smol>),
        others: &[],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_child_rounds_have_no_others() {
        for (i, w) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|o| o.name != w.name),
                "{} twice",
                w.name
            );
            if w.isolation == Isolation::ChildPerRound {
                assert!(w.others.is_empty(), "{}: others in a child", w.name);
            }
            let systems: Vec<_> = w.systems().collect();
            assert_eq!(systems[..3], [Gort::NAME, Tokio::NAME, Smol::NAME]);
            assert!(
                systems[2..].iter().all(|s| *s != "go"),
                "{}: `go` is the twin's field",
                w.name
            );
        }
    }

    #[test]
    fn chan_pingpong_lists_every_contender_in_order() {
        let w = find("chan_pingpong").unwrap();
        let systems: Vec<_> = w.systems().collect();
        assert_eq!(
            systems,
            [
                "gort",
                "tokio",
                "smol",
                "flume",
                "async_channel",
                "crossbeam"
            ]
        );
    }
}
