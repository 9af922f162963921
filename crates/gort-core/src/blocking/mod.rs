//! Offload threads: `gort::spawn_blocking`.
//!
//! Go has no such pool: a goroutine that blocks in a syscall keeps its M and
//! hands its P away. gort offers that too (`gort::syscall`), and, as tokio
//! does, a pool of plain threads for closures that block or compute for a
//! long time, whose result a task awaits through an ordinary `JoinHandle`.
//!
//! # Concepts
//!
//! - A **job** is a task cell ([`crate::task`]) whose future is a
//!   [`BlockingTask`]: it calls the closure on its first poll and is ready
//!   at once. Reusing the cell gives the same `JoinHandle<R>`, the same
//!   panic capture (`JoinError::is_panic`) and the same abort bits as
//!   tasks. A job is not in the runtime's owned list: it is not a goroutine
//!   (`num_goroutines`, the dump) and shutdown reaches it through the pool.
//! - The **pool** ([`pool::Pool`]): a lock-free FIFO of jobs (crossbeam's
//!   `Injector`), threads started on demand up to `max_blocking_threads`,
//!   each retiring after `blocking_keep_alive` without work. These threads
//!   are not Ms: they hold no P and do not count against `max_threads`.
//! - A task awaiting a job's `JoinHandle` parks like any task: its P runs
//!   other tasks meanwhile.
//!
//! # The handshake (no lost wake-up, no lock per submission)
//!
//! `state` packs live threads and *idle* threads (registered and not yet
//! claimed) in one word; `queued` counts jobs pushed and not yet taken.
//!
//! A submitter:
//!
//! - **S1** increments `queued` (SeqCst), pushes the job, `fence(SeqCst)`;
//! - **S2** reads `state`: if a thread is idle it *claims* it (CAS idle − 1)
//!   and posts a token (the only lock on this path); else, below the cap,
//!   it counts a new thread (CAS threads + 1) and starts it;
//! - **S3** otherwise does nothing: every thread is running a job, and each
//!   one re-checks the queue before it registers idle.
//!
//! A pool thread:
//!
//! - **R** pops and runs jobs until the queue is empty;
//! - **I1** registers idle (SeqCst increment of `state`);
//! - **I2** `fence(SeqCst)`, re-reads `queued`: if a job is there it leaves
//!   idle (uncounts itself, or, if it was claimed meanwhile, takes the token)
//!   and goes back to R;
//! - **I3** sleeps until a token, the keep-alive, or shutdown;
//! - **I4** on timeout retires with one CAS (threads − 1, idle − 1) unless
//!   every idle thread was claimed, in which case a token is on its way.
//!
//! S1→S2 and I1→I2 are Dekker's pattern: each side writes its flag, fences,
//! reads the other's. The two SeqCst fences are totally ordered; whichever
//! comes second sees the other side's write. So either the submitter sees
//! the idle thread and claims it, or the thread sees the job: never
//! neither. A retiring thread's CAS (I4) and a claim (S2) are on the same
//! word, so one of them fails and re-decides; a submitter that sees the
//! retirement starts a new thread. The tokens keep claims and wake-ups
//! exact: `idle + tokens` equals the threads between I1 and leaving idle,
//! so a claimed thread always finds its token. The model checks are in
//! `loom_tests/loom_blocking.rs`.
//!
//! # Shutdown
//!
//! Shutting the runtime down sets the pool's flag, wakes every idle thread
//! (they exit), and cancels every queued job (its `JoinHandle` reports
//! cancellation). A job already running cannot be interrupted: it finishes
//! on its thread, which then exits. Every pool thread is counted among the
//! runtime's threads (`Entry::register`, before it is spawned), so the
//! runtime's drop waits for running jobs, as tokio's does, and
//! `shutdown_timeout` waits for them up to its deadline
//! (`sched/shutdown.rs`; Go has no pool to wait for). A submission racing
//! shutdown pushes, fences and re-reads the flag, and `shutdown` sets the
//! flag, fences and drains: one of the two cancels the job.
//!
//! # Rejected designs
//!
//! - A `Mutex<VecDeque>` + `Condvar` (tokio's pool): every submission and
//!   every pop take one lock. Here the lock is taken only to hand a token
//!   to a sleeping thread.
//! - Waking a thread per submission unconditionally: a futex call even when
//!   every thread is busy and will find the job anyway.
//! - Running jobs on Ms handed off as in a syscall: an M carries a P's
//!   worth of state, and `max_threads` caps Ms; offload work must not eat
//!   into it.

pub(crate) mod pool;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::sched::handle::Handle;
use crate::sched::shutdown;
use crate::task::{new_task, Id, JoinHandle, Notified, Schedule, Task};
pub(crate) use pool::Job;

/// A pool thread's way into the runtime: a handle the runtime keeps for
/// itself (not counted as a user's: the thread's job, while in flight,
/// already keeps the deadlock detector quiet).
struct RuntimeEntry(Handle);

impl Clone for RuntimeEntry {
    fn clone(&self) -> RuntimeEntry {
        RuntimeEntry(self.0.to_internal())
    }
}

impl pool::Entry for RuntimeEntry {
    type Ticket = shutdown::Ticket;
    type Guard = shutdown::Running;

    fn register(&self) -> Option<shutdown::Ticket> {
        shutdown::Ticket::register(&self.0.shared)
    }

    fn thread_name(&self, default: String) -> String {
        self.0.shared.config.hooks.thread_name(|| default)
    }

    /// Enters the runtime and runs the start hook; the guard runs the stop
    /// hook and uncounts the thread when it drops.
    fn enter(self, ticket: shutdown::Ticket) -> shutdown::Running {
        ticket.start()
    }
}

/// The future of a job: runs the closure on its first poll.
pub(crate) struct BlockingTask<F> {
    f: Option<F>,
}

// The closure is never pinned (it is moved out before it is called).
impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .f
            .take()
            .expect("a blocking task is polled once: it is ready on its first poll");
        Poll::Ready(f())
    }
}

/// The scheduler handle stored in a job's cell.
pub(crate) struct BlockingSchedule;

impl Schedule for BlockingSchedule {
    unsafe fn schedule(_this: *const Self, task: Notified, _yielded: bool) {
        // A job is NOTIFIED from birth until a pool thread polls it, then
        // RUNNING until complete: it is never idle, so neither a waker (the
        // future never registers one) nor `abort` (which reschedules only
        // idle tasks) gets here. Should it ever, run it here rather than
        // leave its JoinHandle hanging.
        debug_assert!(false, "a blocking task was rescheduled");
        task.run_to_rest();
    }

    fn release(&self, _task: &Task) -> Option<Task> {
        // Jobs are not in the owned list.
        None
    }
}

impl Job for Notified {
    fn run(self) {
        // A job is ready on its first poll; should one ever be handed back,
        // it runs again here rather than leave its JoinHandle hanging.
        self.run_to_rest();
    }

    fn cancel(self) {
        self.shutdown();
    }
}

/// Spawns `f` on `handle`'s offload pool.
pub(crate) fn spawn_blocking_at<F, R>(
    handle: &Handle,
    f: F,
    at: &'static Location<'static>,
) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let id = Id::next();
    let future = BlockingTask { f: Some(f) };
    let (task, notified, raw) = new_task(future, BlockingSchedule, id, at);
    // The owned-list reference: a job is not in that list (see above).
    drop(task);
    let join = JoinHandle::new(raw);
    tracing::trace!(task.id = id.as_u64(), "spawn_blocking");
    let entry = RuntimeEntry(handle.to_internal());
    handle.shared.blocking.submit(notified, Some(&entry));
    join
}
