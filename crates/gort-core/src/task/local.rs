//! `LocalSet`: tasks whose futures are not `Send`, run on the one thread
//! that drives the set (tokio's `LocalSet`; Go has no such thing, since a
//! goroutine may always move).
//!
//! # Design
//!
//! A local task is an ordinary task cell (`raw.rs`) whose scheduler is the
//! set's [`LocalShared`] instead of the runtime: its wakers, join handle
//! and abort handles work as every task's do, from any thread, but
//! scheduling it only pushes it to the set's queue. Nothing but the set
//! polls that queue, and the set is `!Send`: the thread that made it is the
//! only one that polls a local future, and the only one that drops one.
//!
//! 1. `spawn_local` makes the cell (`new_task_unchecked`, whose contract
//!    this module keeps), adds it to the set's own owned list and queues it.
//! 2. [`RunUntil`] (and `LocalSet` awaited itself) polls the given future,
//!    then runs up to [`BUDGET`] queued local tasks, then returns; if tasks
//!    remain it wakes itself, so the future it runs beside is polled again
//!    between batches.
//! 3. A wake-up from any thread pushes the task under the queue's lock and,
//!    unless the set is in the middle of a batch (it will find the task),
//!    wakes the waker the set was last polled with. The check of "empty"
//!    that ends a batch and the end of the batch are one critical section,
//!    so a push cannot fall between them unseen.
//! 4. Dropping the set cancels every local task still alive on this thread
//!    (their futures are dropped here), then closes the queue: a later
//!    wake-up drops its reference to the finished task instead of queuing.
//!
//! The future that runs the set (`rt.block_on(local.run_until(f))`) is not
//! `Send` either, so it cannot be a gort task: it runs on a thread that
//! holds no P — the `block_on` thread, an offload thread, a plain thread.
//! Nothing the scheduler does to Ps (a hand-off at a syscall, sysmon
//! retaking a P from a long poll) can move a local task, since none runs
//! on an M. A local task that computes for long delays the other local
//! tasks of its set and the future beside them, as on any single-threaded
//! executor; the runtime's own tasks go on on the Ms.
//!
//! Local tasks are not in the runtime's owned list: `runtime::dump()` and
//! `num_goroutines` do not show them, and runtime shutdown leaves them to
//! the set's drop (it must run on the set's thread).

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{new_task_unchecked, Id, JoinHandle, Notified, OwnedTasks, Schedule, Task};
use crate::loom::{lock, Mutex};

/// How many local tasks one poll of the set runs before it lets the
/// future beside them (and its caller) have a turn.
const BUDGET: usize = 128;

/// A set of `!Send` tasks, run by whoever polls [`LocalSet::run_until`]
/// (or awaits the set itself), on that thread only.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use gort_core::task::{spawn_local, LocalSet};
///
/// let rt = gort_core::Runtime::new().unwrap();
/// let local = LocalSet::new();
/// let out = rt.block_on(local.run_until(async {
///     let shared = Rc::new(40); // not Send
///     let s = shared.clone();
///     let h = spawn_local(async move { *s + 2 });
///     h.await.unwrap()
/// }));
/// assert_eq!(out, 42);
/// ```
pub struct LocalSet {
    shared: Arc<LocalShared>,
    /// `!Send` and `!Sync`: the set's futures belong to this thread.
    _thread: PhantomData<*const ()>,
}

/// The scheduler of a set's tasks: the queue every waker pushes to, and
/// the set's owned list.
pub(crate) struct LocalShared {
    queue: Mutex<Queue>,
    owned: OwnedTasks,
}

struct Queue {
    tasks: VecDeque<Notified>,
    /// The waker the set was last polled with; taken by the push that
    /// wakes it.
    waker: Option<Waker>,
    /// The set is running a batch and will see new tasks by itself.
    ticking: bool,
    /// The set was dropped: pushes drop their reference.
    closed: bool,
}

impl Schedule for Arc<LocalShared> {
    unsafe fn schedule(this: *const Self, task: Notified, _yielded: bool) {
        // SAFETY: `this` is the handle in `task`'s cell, live until the
        // task is published below; we take our own handle first
        // (invariant 7), and act only through it afterwards.
        let shared = unsafe { (*this).clone() };
        shared.push(task);
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.release(task)
    }
}

impl LocalShared {
    /// Queues a task; wakes the set unless it is running a batch.
    fn push(&self, task: Notified) {
        let (waker, refused) = {
            let mut q = lock(&self.queue);
            if q.closed {
                (None, Some(task))
            } else {
                q.tasks.push_back(task);
                (if q.ticking { None } else { q.waker.take() }, None)
            }
        };
        // Both outside the lock: a wake-up may run code, and the refused
        // reference (to a task the set's drop finished) may be the last.
        drop(refused);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Stores the set's waker and starts a batch.
    fn begin(&self, waker: &Waker) {
        let mut q = lock(&self.queue);
        if !q.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            q.waker = Some(waker.clone());
        }
        q.ticking = true;
    }

    /// The next queued task, or `None` — which ends the batch, under the
    /// same lock (module doc, 3).
    fn next(&self) -> Option<Notified> {
        let mut q = lock(&self.queue);
        let t = q.tasks.pop_front();
        if t.is_none() {
            q.ticking = false;
        }
        t
    }

    /// Ends a batch that stopped for the budget or the future's output.
    fn end(&self) {
        lock(&self.queue).ticking = false;
    }

    /// Runs up to [`BUDGET`] queued tasks. Returns true if it stopped for
    /// the budget (tasks may remain) rather than finding the queue empty.
    fn tick(&self) -> bool {
        for _ in 0..BUDGET {
            let Some(task) = self.next() else {
                return false;
            };
            if let Some(again) = task.run() {
                lock(&self.queue).tasks.push_back(again);
            }
        }
        self.end();
        true
    }
}

thread_local! {
    /// The set whose `run_until` (or poll) is running on this thread, for
    /// [`spawn_local`].
    static CURRENT: Cell<Option<NonNull<LocalSet>>> = const { Cell::new(None) };
}

/// Makes `set` current on this thread until dropped (restoring the outer
/// one: sets may nest).
struct Enter(Option<NonNull<LocalSet>>);

impl Enter {
    fn new(set: &LocalSet) -> Enter {
        Enter(CURRENT.with(|c| c.replace(Some(NonNull::from(set)))))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            shared: Arc::new(LocalShared {
                queue: Mutex::new(Queue {
                    tasks: VecDeque::new(),
                    waker: None,
                    ticking: false,
                    closed: false,
                }),
                owned: OwnedTasks::new(1),
            }),
            _thread: PhantomData,
        }
    }

    /// Spawns a `!Send` future on this set. It runs when the set is polled
    /// (inside [`LocalSet::run_until`], or the set awaited), on that thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use gort_core::task::LocalSet;
    ///
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let local = LocalSet::new();
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// for i in 0..3 {
    ///     let log = log.clone();
    ///     local.spawn_local(async move { log.borrow_mut().push(i) });
    /// }
    /// rt.block_on(local); // until every local task has finished
    /// assert_eq!(*log.borrow(), [0, 1, 2]);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_named(future, None, Location::caller())
    }

    pub(crate) fn spawn_named<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: `new_task_unchecked`'s contract for a !Send future: the
        // task's scheduler is this set, which polls it only in `tick`, on
        // the set's own thread (the set is !Send and !Sync), and drops it
        // there (in `Drop`, or when it completes in a poll); the output
        // leaves this thread only through the JoinHandle, Send only when
        // the output is.
        let (task, notified, raw) =
            unsafe { new_task_unchecked(future, self.shared.clone(), Id::next(), at, name) };
        let join = JoinHandle::new(raw);
        if let Err(task) = self.shared.owned.insert(task) {
            // Only a dropped set is closed, and this one is borrowed.
            drop(notified);
            task.shutdown();
            return join;
        }
        tracing::trace!(task.id = join.id().as_u64(), "spawn_local");
        crate::exectrace::spawn(notified.header().id.0);
        self.shared.push(notified);
        join
    }

    /// Runs `future` to completion, and the set's tasks beside it, on the
    /// thread that polls the returned future; inside it,
    /// [`spawn_local`] spawns on this set. Local tasks still running when
    /// `future` finishes stay in the set, for the next `run_until`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_core::task::{spawn_local, LocalSet};
    ///
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let local = LocalSet::new();
    /// let n = rt.block_on(local.run_until(async {
    ///     let hs: Vec<_> = (0..10).map(|i| spawn_local(async move { i })).collect();
    ///     let mut n = 0;
    ///     for h in hs {
    ///         n += h.await.unwrap();
    ///     }
    ///     n
    /// }));
    /// assert_eq!(n, 45);
    /// ```
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { set: self, future }
    }

    /// Local tasks not finished yet.
    pub fn len(&self) -> usize {
        self.shared.owned.len()
    }

    /// Whether every local task has finished.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("len", &self.len())
            .finish()
    }
}

/// Awaiting the set runs its tasks until every one has finished.
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let set = &*self;
        let _enter = Enter::new(set);
        set.shared.begin(cx.waker());
        if set.shared.tick() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if set.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for LocalSet {
    /// Cancels every local task still alive, dropping their futures on this
    /// thread, then closes the queue.
    fn drop(&mut self) {
        for task in self.shared.owned.close_and_drain() {
            task.shutdown();
        }
        let queued = {
            let mut q = lock(&self.shared.queue);
            q.closed = true;
            (std::mem::take(&mut q.tasks), q.waker.take())
        };
        drop(queued);
    }
}

pin_project_lite::pin_project! {
    /// The future of [`LocalSet::run_until`].
    pub struct RunUntil<'a, F> {
        set: &'a LocalSet,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let set: &LocalSet = this.set;
        let _enter = Enter::new(set);
        set.shared.begin(cx.waker());
        if let Poll::Ready(out) = this.future.poll(cx) {
            set.shared.end();
            return Poll::Ready(out);
        }
        if set.shared.tick() {
            // Tasks may remain: come back after the caller's turn.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntil").finish_non_exhaustive()
    }
}

/// Spawns a `!Send` future on the [`LocalSet`] being run on this thread
/// (from inside [`LocalSet::run_until`], or a local task).
///
/// # Panics
///
/// Outside a `LocalSet`'s run, saying so.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use gort_core::task::{spawn_local, LocalSet};
///
/// let rt = gort_core::Runtime::new().unwrap();
/// let local = LocalSet::new();
/// rt.block_on(local.run_until(async {
///     let rc = Rc::new("not Send");
///     let h = spawn_local(async move { rc.len() });
///     assert_eq!(h.await.unwrap(), 8);
/// }));
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_named(future, None, Location::caller())
}

/// [`spawn_local`] with a name (`task::Builder`).
pub(crate) fn spawn_local_named<F>(
    future: F,
    name: Option<Box<str>>,
    at: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match CURRENT.with(Cell::get) {
        // SAFETY: CURRENT is set only while `Enter` lives, inside a poll
        // that borrows the set; this call runs inside that poll, on the
        // same thread.
        Some(set) => unsafe { set.as_ref() }.spawn_named(future, name, at),
        None => panic!(
            "gort::task::spawn_local called outside a LocalSet: call it inside \
             LocalSet::run_until (or a local task), or use LocalSet::spawn_local"
        ),
    }
}
