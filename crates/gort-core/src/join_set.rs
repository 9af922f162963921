//! `JoinSet`: a group of tasks owned together, joined in the order they
//! finish (tokio's `JoinSet`; in Go, a `WaitGroup` plus a results channel,
//! or errgroup).
//!
//! # Design
//!
//! The set keeps each task's `JoinHandle` in a slab slot, and a queue of
//! the slots whose task has finished. Joining never scans the slab:
//!
//! 1. `spawn` puts the handle in a free slot and registers the slot's own
//!    waker as the task's join waker (the join handshake, without reading
//!    the output). If the task has already finished, the slot goes straight
//!    to the ready queue.
//! 2. When the task completes, its completer wakes the join waker once
//!    (`task/harness.rs`); that waker pushes its slot (index and
//!    generation) to the ready queue and wakes the task awaiting
//!    `join_next`, if any.
//! 3. `join_next` pops the queue and polls that slot's handle, which is
//!    ready: each task costs one registration, one push and one pop, so a
//!    set of n tasks joins in O(n) total.
//!
//! The queue and the joiner's waker share one mutex, so a push cannot slip
//! between `join_next` finding the queue empty and storing its waker (the
//! check / store / re-check of a lost wake-up is one critical section).
//! A slot's generation changes when its task is joined or detached, so a
//! late wake of a slot that was reused since is recognised and skipped.
//!
//! The joiner's waker is parked (`task::park_waker`): only the completion
//! of a task of the set wakes it, and those are gort's tasks, so the
//! deadlock detector may count a task waiting in `join_next` as asleep.

use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::loom::{lock, Mutex};
use crate::rt::Handle;
use crate::task::{park_waker, same_waker, AbortHandle, JoinError, JoinHandle};

/// A set of tasks, joined in the order they finish.
///
/// Tasks are spawned into the set with [`JoinSet::spawn`] (or added with
/// [`JoinSet::insert`]); [`JoinSet::join_next`] gives the output of one that
/// has finished, in completion order. Dropping the set aborts every task
/// still in it, as tokio's does; [`JoinSet::detach_all`] lets them run on.
///
/// # Examples
///
/// ```
/// use gort_core::JoinSet;
///
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(res) = set.join_next().await {
///         sum += res.unwrap();
///     }
///     assert_eq!(sum, 285);
///     assert!(set.is_empty());
/// });
/// ```
pub struct JoinSet<T> {
    slots: Vec<Slot<T>>,
    /// Vacant slot indices, reused last-in first-out.
    free: Vec<usize>,
    len: usize,
    ready: Arc<Ready>,
}

struct Slot<T> {
    /// Bumped each time the slot is vacated, so a stale queue entry for
    /// an earlier occupant is skipped.
    generation: u64,
    entry: Option<Entry<T>>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    /// The slot's join waker (a [`Notify`]), kept to poll the handle with
    /// the same waker it registered.
    waker: Waker,
}

/// The finished slots and the joiner's waker, under one lock.
struct Ready {
    inner: Mutex<ReadyInner>,
}

struct ReadyInner {
    queue: std::collections::VecDeque<(usize, u64)>,
    waker: Option<Waker>,
}

/// A slot's join waker: wakes once, when the slot's task completes.
struct Notify {
    ready: Arc<Ready>,
    index: usize,
    generation: u64,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = {
            let mut inner = lock(&self.ready.inner);
            inner.queue.push_back((self.index, self.generation));
            inner.waker.take()
        };
        // Woken outside the lock: the joiner takes it at once.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Arc::new(Ready {
                inner: Mutex::new(ReadyInner {
                    queue: std::collections::VecDeque::new(),
                    waker: None,
                }),
            }),
        }
    }

    /// The number of tasks in the set that have not been joined, finished
    /// or not.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a task spawned elsewhere (by `gort::spawn`, `spawn_blocking`,
    /// `task::Builder` or a `LocalSet`) to the set, which then owns it.
    pub fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                self.slots.len() - 1
            }
        };
        let generation = self.slots[index].generation;
        let waker = Waker::from(Arc::new(Notify {
            ready: self.ready.clone(),
            index,
            generation,
        }));
        if handle.register(&waker) {
            // Finished already: the completer will not wake this waker.
            lock(&self.ready.inner).queue.push_back((index, generation));
        }
        self.slots[index].entry = Some(Entry { handle, waker });
        self.len += 1;
        abort
    }

    /// Removes slot `index`'s entry and frees the slot.
    fn vacate(&mut self, index: usize) -> Entry<T> {
        let slot = &mut self.slots[index];
        let entry = slot.entry.take().expect("vacating an empty JoinSet slot");
        slot.generation += 1;
        self.free.push(index);
        self.len -= 1;
        entry
    }

    /// One step of joining: the output of a finished task, if the ready
    /// queue names one; with `cx`, registers the joiner when it does not.
    fn poll_join(&mut self, cx: Option<&mut Context<'_>>) -> Poll<Option<Result<T, JoinError>>> {
        loop {
            let next = {
                let mut inner = lock(&self.ready.inner);
                match inner.queue.pop_front() {
                    Some(n) => n,
                    None if self.len == 0 => return Poll::Ready(None),
                    None => {
                        if let Some(cx) = cx {
                            let keep = inner
                                .waker
                                .as_ref()
                                .is_some_and(|w| same_waker(w, cx.waker()));
                            if !keep {
                                inner.waker = Some(park_waker(cx.waker()));
                            }
                            crate::task::set_wait_reason(crate::task::WaitReason::Join);
                        }
                        return Poll::Pending;
                    }
                }
            };
            let (index, generation) = next;
            let Some(slot) = self.slots.get_mut(index) else {
                continue;
            };
            if slot.generation != generation {
                continue;
            }
            let Some(entry) = slot.entry.as_mut() else {
                continue;
            };
            let mut ecx = Context::from_waker(&entry.waker);
            if let Poll::Ready(out) = std::pin::Pin::new(&mut entry.handle).poll(&mut ecx) {
                drop(self.vacate(index));
                return Poll::Ready(Some(out));
            }
            // Not finished after all (a wake that was not a completion):
            // the handle keeps the slot's waker registered.
        }
    }

    /// Waits for one of the tasks to finish and returns its output, in the
    /// order they finish; `None` when the set is empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a task's output is taken only when this returns it, so
    /// dropping the future before then loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use gort_core::JoinSet;
    ///
    /// let rt = gort_core::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     set.spawn(async {
    ///         gort_core::time::sleep(Duration::from_millis(20)).await;
    ///         "slow"
    ///     });
    ///     set.spawn(async { "fast" });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), "slow");
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join(Some(cx))).await
    }

    /// The output of a task that has finished, without waiting; `None` if
    /// none has (or the set is empty).
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        match self.poll_join(None) {
            Poll::Ready(out) => out,
            Poll::Pending => None,
        }
    }

    /// Aborts every task in the set. They stay in it: `join_next` then
    /// gives each one's result (a cancelled [`JoinError`] for those that
    /// had not finished).
    pub fn abort_all(&mut self) {
        for slot in &self.slots {
            if let Some(e) = &slot.entry {
                e.handle.abort();
            }
        }
    }

    /// Removes every task from the set without aborting it: they run on,
    /// detached, as if their `JoinHandle`s had been dropped.
    pub fn detach_all(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].entry.is_some() {
                drop(self.vacate(i));
            }
        }
        lock(&self.ready.inner).queue.clear();
    }

    /// Aborts every task, then waits until all of them have finished
    /// (their futures are dropped); the set is empty afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_core::JoinSet;
    ///
    /// let rt = gort_core::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending::<()>());
    ///     }
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs, in the order they
    /// finished.
    ///
    /// # Panics
    ///
    /// If a task panicked, its panic is resumed here, as tokio's
    /// `join_all` does; if one was cancelled, this panics saying so. The
    /// tasks still in the set are aborted (the set is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_core::JoinSet;
    ///
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let mut out = rt.block_on(async {
    ///     let mut set = JoinSet::new();
    ///     for i in 0..5 {
    ///         set.spawn(async move { i });
    ///     }
    ///     set.join_all().await
    /// });
    /// out.sort();
    /// assert_eq!(out, [0, 1, 2, 3, 4]);
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("JoinSet::join_all: {e}"),
            }
        }
        out
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `future` on the current runtime into the set (as
    /// `gort::spawn`) and returns a handle that can abort it.
    ///
    /// # Panics
    ///
    /// Outside a gort runtime, saying so.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let at = Location::caller();
        let handle = crate::sched::context::with_current(|h| match h {
            Some(h) => h.spawn_at(future, at),
            None => panic!(
                "JoinSet::spawn called outside a gort runtime: call it from a task, \
                 from inside Runtime::block_on, or use JoinSet::spawn_on"
            ),
        });
        self.insert(handle)
    }

    /// Spawns `future` on the runtime of `handle` into the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let h = handle.spawn_at(future, Location::caller());
        self.insert(h)
    }

    /// Runs the blocking closure `f` on the current runtime's offload pool
    /// (as `gort::spawn_blocking`), in the set.
    ///
    /// # Panics
    ///
    /// Outside a gort runtime, saying so.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let h = crate::rt::spawn_blocking(f);
        self.insert(h)
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a `!Send` future on the current `LocalSet` into the set (see
    /// [`crate::task::spawn_local`]).
    ///
    /// # Panics
    ///
    /// Outside `LocalSet::run_until`, saying so.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let h = crate::task::spawn_local(future);
        self.insert(h)
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}

impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    /// Spawns every future of the iterator into a new set, on the current
    /// runtime.
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        for f in iter {
            set.spawn(f);
        }
        set
    }
}
