//! [`ErrGroup`]: tasks that share a context, where the first error cancels
//! the rest (Go's `golang.org/x/sync/errgroup`).
//!
//! A [`WaitGroup`] counts the tasks; the first error (or panic) is kept
//! under a mutex and cancels the group's context; [`ErrGroup::wait`] waits
//! for the count to reach zero, cancels the context (as Go's `Wait` does,
//! so the context's resources are released), and returns the first error —
//! or resumes the first panic, as x/sync's errgroup does since 2024. A
//! limit ([`ErrGroup::set_limit`]) is a buffered channel used as a
//! semaphore, the way x/sync builds it.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use gort_core::JoinHandle;

use crate::chan::{chan, Receiver, Sender};
use crate::context::{self, CancelFunc, Context};
use crate::WaitGroup;

/// A group of tasks working on one job under a shared context: the first
/// task to fail cancels the context for the others, and
/// [`wait`](ErrGroup::wait) returns that first error.
///
/// Cloning gives another handle to the same group (a task may add more
/// tasks to its own group).
///
/// # Examples
///
/// ```
/// use gort_sync::{context, ErrGroup};
///
/// let rt = gort_core::Runtime::new().unwrap();
/// let result = rt.block_on(async {
///     let (group, ctx) = ErrGroup::with_context(&context::background());
///     for i in 0..4 {
///         let ctx = ctx.clone();
///         group.go(async move {
///             if i == 2 {
///                 return Err(format!("task {i} failed"));
///             }
///             ctx.done().await; // the others run until the failure cancels them
///             Ok(())
///         });
///     }
///     group.wait().await
/// });
/// assert_eq!(result, Err("task 2 failed".to_string()));
/// ```
pub struct ErrGroup<E> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    tasks: WaitGroup,
    first: Mutex<Outcome<E>>,
    cancel: Option<CancelFunc>,
    /// Present after `set_limit`: one token per running task.
    limit: Mutex<Option<(Sender<()>, Receiver<()>)>>,
}

enum Outcome<E> {
    Ok,
    Err(E),
    Panic(Box<dyn Any + Send>),
}

impl<E: Send + 'static> ErrGroup<E> {
    /// A group with no context (Go's zero `errgroup.Group`): a failure is
    /// only reported by [`wait`](ErrGroup::wait).
    pub fn new() -> ErrGroup<E> {
        ErrGroup::with_cancel(None)
    }

    /// A group and the context its tasks should watch: a child of `parent`
    /// that is cancelled by the first failure, or when
    /// [`wait`](ErrGroup::wait) returns (Go's `errgroup.WithContext`).
    pub fn with_context(parent: &Context) -> (ErrGroup<E>, Context) {
        let (ctx, cancel) = context::with_cancel(parent);
        (ErrGroup::with_cancel(Some(cancel)), ctx)
    }

    fn with_cancel(cancel: Option<CancelFunc>) -> ErrGroup<E> {
        ErrGroup {
            inner: Arc::new(Inner {
                tasks: WaitGroup::new(),
                first: Mutex::new(Outcome::Ok),
                cancel,
                limit: Mutex::new(None),
            }),
        }
    }

    /// Runs at most `n` of the group's tasks at once (Go's `SetLimit`);
    /// the others wait for a slot before they start. Only before any task
    /// was added.
    ///
    /// # Panics
    ///
    /// If tasks were added already (Go: "errgroup: modify limit while
    /// goroutines in the group are still active"), or if `n` is 0.
    pub fn set_limit(&self, n: usize) {
        assert!(n > 0, "errgroup: limit must be at least 1");
        let mut limit = self.inner.limit.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            self.inner.tasks.count() == 0,
            "errgroup: modify limit while goroutines in the group are still active"
        );
        *limit = Some(chan(n));
    }

    /// Spawns `task` in the group (Go's `g.Go`). With a
    /// [limit](ErrGroup::set_limit), the task waits for a free slot before
    /// it runs; the caller never waits.
    ///
    /// # Panics
    ///
    /// Outside a gort runtime.
    pub fn go<F>(&self, task: F) -> JoinHandle<()>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let slot = self.slot();
        self.spawn(task, slot.map(Slot::Wait))
    }

    /// Spawns `task` only if the [limit](ErrGroup::set_limit) has a free
    /// slot now; `None` (and `task` is dropped) if not (Go's `TryGo`).
    ///
    /// # Panics
    ///
    /// Outside a gort runtime.
    pub fn try_go<F>(&self, task: F) -> Option<JoinHandle<()>>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let slot = match self.slot() {
            None => None,
            Some((tx, rx)) => match tx.try_send(()) {
                Ok(()) => Some(Slot::Held(rx)),
                Err(_) => return None,
            },
        };
        Some(self.spawn(task, slot))
    }

    fn slot(&self) -> Option<(Sender<()>, Receiver<()>)> {
        self.inner
            .limit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn spawn<F>(&self, task: F, slot: Option<Slot>) -> JoinHandle<()>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.inner.tasks.add(1);
        let inner = self.inner.clone();
        gort_core::spawn(async move {
            // Marks the task done however it ends (even if dropped at
            // shutdown), so `wait` cannot hang on it.
            let _done = DoneGuard(&inner.tasks);
            let _token = match slot {
                None => None,
                Some(Slot::Held(rx)) => Some(Token(rx)),
                Some(Slot::Wait((tx, rx))) => {
                    if tx.send(()).await.is_err() {
                        unreachable!("the group holds the limit channel open");
                    }
                    Some(Token(rx))
                }
            };
            let outcome = match AssertUnwindSafe(task).catch_unwind().await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => Outcome::Err(e),
                Err(panic) => Outcome::Panic(panic),
            };
            inner.fail(outcome);
        })
    }

    /// Waits for every task of the group, cancels the group's context, and
    /// returns the first error (Go's `g.Wait`). If a task panicked first,
    /// resumes that panic here. Later calls return `Ok(())` unless new
    /// tasks failed meanwhile.
    pub async fn wait(&self) -> Result<(), E> {
        self.inner.tasks.wait().await;
        if let Some(c) = &self.inner.cancel {
            c.cancel();
        }
        let first = std::mem::replace(
            &mut *self.inner.first.lock().unwrap_or_else(|e| e.into_inner()),
            Outcome::Ok,
        );
        match first {
            Outcome::Ok => Ok(()),
            Outcome::Err(e) => Err(e),
            Outcome::Panic(p) => panic::resume_unwind(p),
        }
    }
}

impl<E> Inner<E> {
    /// Keeps `outcome` if it is the first failure, and cancels the context.
    fn fail(&self, outcome: Outcome<E>) {
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*first, Outcome::Ok) {
            *first = outcome;
            drop(first);
            if let Some(c) = &self.cancel {
                c.cancel();
            }
        }
    }
}

enum Slot {
    /// `try_go` took a slot already.
    Held(Receiver<()>),
    /// `go`: the task takes one before it runs.
    Wait((Sender<()>, Receiver<()>)),
}

/// A slot of the limit, given back on drop.
struct Token(Receiver<()>);

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.0.try_recv();
    }
}

struct DoneGuard<'a>(&'a WaitGroup);

impl Drop for DoneGuard<'_> {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> ErrGroup<E> {
        ErrGroup::new()
    }
}

impl<E> Clone for ErrGroup<E> {
    fn clone(&self) -> ErrGroup<E> {
        ErrGroup {
            inner: self.inner.clone(),
        }
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("tasks", &self.inner.tasks.count())
            .field("has_context", &self.inner.cancel.is_some())
            .finish()
    }
}
