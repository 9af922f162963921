//! Go's `context` package: cancellation, deadlines and request-scoped
//! values that flow down a tree.
//!
//! # The tree
//!
//! A [`Context`] is a shared pointer to one immutable node of a tree that
//! grows from [`background`] (or [`todo()`]) towards the leaves:
//!
//! ```text
//! Background ── Cancel(deadline?) ── Value(k, v) ── Cancel ── ...
//!                     │                  └── WithoutCancel ── Cancel ...
//!                     └── Cancel ...
//! ```
//!
//! Only `Cancel` nodes ([`with_cancel`], [`with_deadline`], ...) can become
//! done. Every other node answers `done`/`err`/[`cause`] from its nearest
//! `Cancel` ancestor, its *anchor*; `WithoutCancel` and the roots have none
//! and are never done. Values are looked up by walking towards the root.
//!
//! # Cancellation
//!
//! A `Cancel` node holds, under one mutex, its cause, a slab of weak
//! pointers to the `Cancel` nodes anchored on it, the wakers of tasks
//! waiting in [`Context::done`], its [`after_func`] callbacks and its
//! deadline timer. Creating a child locks the anchor: if the anchor is
//! already done, the child is born done with the anchor's error and cause;
//! otherwise the child is inserted. Cancelling a node locks it once, sets
//! its error (an atomic, so [`Context::err`] needs no lock) before anything
//! is woken, takes everything out of the slabs, unlocks, and then wakes the
//! waiters, starts the callbacks and cancels the children — iteratively
//! (an explicit stack), so a deep tree cannot overflow the stack. Because
//! children are only weakly held, a child that is dropped together with its
//! [`CancelFunc`] removes its slab entry on drop, and a child cancelled
//! through its own function removes it at once: a long-lived parent keeps
//! nothing of a million short-lived children.
//!
//! # Deadlines
//!
//! [`with_deadline`] arms one runtime timer whose waker holds only a weak
//! pointer to the node; cancelling or dropping the node disarms it (no task
//! is spawned, and nothing outlives the context). A child's deadline is the
//! earlier of its own and its parent's: when the parent's comes first, no
//! timer is armed at all and the parent's cancellation reaches the child.
//!
//! See `docs/semantics.md` for how Go's `defer cancel()` idiom maps onto
//! Rust ownership here.

mod after;
mod cancel;
mod error;
mod slab;
mod timer;
mod value;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

pub use after::{after_func, AfterFuncStop};
pub use error::{Cause, Error};

use cancel::CancelCtx;
use value::{ValueLayer, ValueNode};

/// A cancellation signal, a deadline and a set of values, passed down a call
/// tree (Go's `context.Context`). Cheap to clone: clones share the node.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gort_sync::context;
///
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
///     let worker = gort_core::spawn({
///         let ctx = ctx.clone();
///         async move {
///             ctx.done().await;
///             ctx.err()
///         }
///     });
///     assert_eq!(worker.await.unwrap(), Some(context::Error::DeadlineExceeded));
///     cancel.cancel(); // releases the timer early in real code; a no-op here
/// });
/// ```
#[derive(Clone)]
pub struct Context {
    repr: Repr,
}

/// A node of the tree (see the module doc), each kind behind its own
/// pointer so that a value layer does not pay for a cancel node's state.
#[derive(Clone)]
enum Repr {
    Background,
    Todo,
    Cancel(Arc<CancelCtx>),
    Value(Arc<dyn ValueLayer>),
    WithoutCancel(Arc<Context>),
}

/// The root context: never cancelled, no deadline, no values (Go's
/// `context.Background()`).
pub fn background() -> Context {
    Context {
        repr: Repr::Background,
    }
}

/// Like [`background`], marking code that has not decided which context to
/// use yet (Go's `context.TODO()`).
pub fn todo() -> Context {
    Context { repr: Repr::Todo }
}

/// Cancels a context made by [`with_cancel`], [`with_deadline`] or
/// [`with_timeout`] (Go's `CancelFunc`).
///
/// Idempotent; cancels every descendant too, never the parent. Dropping it
/// does not cancel: a context dropped together with its `CancelFunc`
/// simply disappears from its parent.
#[derive(Clone)]
pub struct CancelFunc {
    node: Arc<CancelCtx>,
}

impl CancelFunc {
    /// Cancels the context with [`Error::Canceled`] (if it was not done
    /// already), releasing its timer and its entry in the parent.
    pub fn cancel(&self) {
        self.node.cancel(true, Error::Canceled, None);
    }
}

/// Cancels a context made by [`with_cancel_cause`] with a cause (Go's
/// `CancelCauseFunc`).
#[derive(Clone)]
pub struct CancelCauseFunc {
    node: Arc<CancelCtx>,
}

impl CancelCauseFunc {
    /// Cancels the context with [`Error::Canceled`] and `cause`, which
    /// [`cause`] reports for it and for its descendants. Only the first
    /// cancellation's cause counts.
    pub fn cancel(&self, cause: impl std::error::Error + Send + Sync + 'static) {
        self.cancel_with(Arc::new(cause));
    }

    /// [`cancel`](Self::cancel) with a cause that is already shared.
    pub fn cancel_with(&self, cause: Cause) {
        self.node.cancel(true, Error::Canceled, Some(cause));
    }

    /// Cancels without a cause (Go's `cancel(nil)`): the cause is
    /// [`Error::Canceled`].
    pub fn cancel_without_cause(&self) {
        self.node.cancel(true, Error::Canceled, None);
    }
}

/// A child of `parent` that is cancelled when `cancel` is called or when
/// `parent` is (Go's `context.WithCancel`).
///
/// # Examples
///
/// ```
/// use gort_sync::context;
/// let (parent, cancel_parent) = context::with_cancel(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent.cancel();
/// assert_eq!(child.err(), Some(context::Error::Canceled));
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    let node = cancel::new_child(parent, None);
    (
        Context {
            repr: Repr::Cancel(node.clone()),
        },
        CancelFunc { node },
    )
}

/// Like [`with_cancel`], with a function that records why (Go's
/// `context.WithCancelCause`).
///
/// # Examples
///
/// ```
/// use gort_sync::context;
/// #[derive(Debug)]
/// struct Shutdown;
/// impl std::fmt::Display for Shutdown {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("shutting down")
///     }
/// }
/// impl std::error::Error for Shutdown {}
///
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel(Shutdown);
/// assert_eq!(ctx.err(), Some(context::Error::Canceled));
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "shutting down");
/// ```
pub fn with_cancel_cause(parent: &Context) -> (Context, CancelCauseFunc) {
    let node = cancel::new_child(parent, None);
    (
        Context {
            repr: Repr::Cancel(node.clone()),
        },
        CancelCauseFunc { node },
    )
}

/// A child of `parent` that is cancelled with [`Error::DeadlineExceeded`]
/// at `deadline` (or earlier, with the parent or through the returned
/// function) (Go's `context.WithDeadline`). Its [`deadline`](Context::deadline)
/// is the earlier of `deadline` and the parent's.
///
/// # Panics
///
/// If `deadline` is in the future, it needs a gort runtime's timers: called
/// outside one, it panics. (A deadline already past needs none: the child
/// is born done.)
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    with_deadline_inner(parent, deadline, None)
}

/// [`with_deadline`] that reports `cause` from [`cause`] when the deadline
/// is what cancels it (Go's `context.WithDeadlineCause`).
///
/// # Panics
///
/// As [`with_deadline`].
pub fn with_deadline_cause(
    parent: &Context,
    deadline: Instant,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> (Context, CancelFunc) {
    with_deadline_inner(parent, deadline, Some(Arc::new(cause)))
}

/// [`with_deadline`] at now + `timeout` (Go's `context.WithTimeout`).
///
/// # Panics
///
/// As [`with_deadline`].
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    with_deadline_inner(parent, deadline_after(timeout), None)
}

/// [`with_timeout`] with a cause (Go's `context.WithTimeoutCause`).
///
/// # Panics
///
/// As [`with_deadline`].
pub fn with_timeout_cause(
    parent: &Context,
    timeout: Duration,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> (Context, CancelFunc) {
    with_deadline_inner(parent, deadline_after(timeout), Some(Arc::new(cause)))
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = gort_core::time::now();
    // A timeout too large to represent is no deadline worth a timer; a
    // century out is as good as never.
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn with_deadline_inner(
    parent: &Context,
    deadline: Instant,
    cause: Option<Cause>,
) -> (Context, CancelFunc) {
    if parent.deadline().is_some_and(|p| p <= deadline) {
        // The parent's deadline comes first and will cancel the child.
        return with_cancel(parent);
    }
    let node = cancel::new_child(parent, Some(deadline));
    timer::arm(&node, deadline, cause);
    (
        Context {
            repr: Repr::Cancel(node.clone()),
        },
        CancelFunc { node },
    )
}

/// A child of `parent` that carries `value` under `key` (Go's
/// `context.WithValue`). [`Context::value`] finds it by a key of the same
/// type that compares equal; a nearer value under an equal key shadows it.
///
/// Use a key type of your own (a unit struct or an enum), as in Go, so
/// that packages cannot collide.
///
/// # Examples
///
/// ```
/// use gort_sync::context;
/// #[derive(PartialEq, Eq)]
/// struct RequestId;
///
/// let ctx = context::with_value(&context::background(), RequestId, 42u64);
/// assert_eq!(ctx.value::<u64>(&RequestId), Some(&42));
/// assert_eq!(ctx.value::<String>(&RequestId), None); // wrong type
/// ```
pub fn with_value<K, V>(parent: &Context, key: K, value: V) -> Context
where
    K: Any + Eq + Send + Sync,
    V: Any + Send + Sync,
{
    Context {
        repr: Repr::Value(Arc::new(ValueNode {
            parent: parent.clone(),
            key,
            value,
        })),
    }
}

/// A child of `parent` that keeps its values but is never cancelled and
/// has no deadline (Go's `context.WithoutCancel`).
pub fn without_cancel(parent: &Context) -> Context {
    Context {
        repr: Repr::WithoutCancel(Arc::new(parent.clone())),
    }
}

/// Why `ctx` was cancelled (Go's `context.Cause`): the cause given to a
/// [`CancelCauseFunc`] or to [`with_deadline_cause`], else the
/// [`Error`] itself; `None` while `ctx` is not done.
pub fn cause(ctx: &Context) -> Option<Cause> {
    ctx.anchor().and_then(|c| c.cause())
}

impl Context {
    /// The nearest cancellable node on the way to the root: the one whose
    /// state this context reports.
    fn anchor(&self) -> Option<&Arc<CancelCtx>> {
        let mut cur = self;
        loop {
            match &cur.repr {
                Repr::Cancel(c) => return Some(c),
                Repr::Value(v) => cur = v.parent(),
                Repr::Background | Repr::Todo | Repr::WithoutCancel(_) => return None,
            }
        }
    }

    /// Completes when this context is cancelled or its deadline passes
    /// (Go's `<-ctx.Done()`); pending forever for a context that can never
    /// be cancelled. Usable as a `select!` case.
    ///
    /// Cancel safety: dropping the future only forgets its waker.
    pub fn done(&self) -> Done<'_> {
        Done {
            ctx: self,
            slot: None,
        }
    }

    /// `None` while not done; then why (Go's `ctx.Err()`). Set before
    /// [`done`](Self::done) completes, so a task woken by `done` sees it.
    pub fn err(&self) -> Option<Error> {
        self.anchor().and_then(|c| c.err())
    }

    /// Whether [`err`](Self::err) is `Some`.
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// The instant this context will be cancelled at, if it has a deadline:
    /// the earliest of its own and its ancestors' (Go's `ctx.Deadline()`).
    pub fn deadline(&self) -> Option<Instant> {
        let mut cur = self;
        loop {
            match &cur.repr {
                Repr::Cancel(c) => match c.deadline {
                    Some(d) => return Some(d),
                    None => cur = &c.parent,
                },
                Repr::Value(v) => cur = v.parent(),
                Repr::Background | Repr::Todo | Repr::WithoutCancel(_) => return None,
            }
        }
    }

    /// The value stored by the nearest [`with_value`] whose key has the
    /// type of `key` and equals it; `None` if there is none, or if that
    /// value is not a `V` (Go's `ctx.Value(key).(V)`).
    pub fn value<V: Any>(&self, key: &(impl Any + Eq)) -> Option<&V> {
        let mut cur = self;
        loop {
            match &cur.repr {
                Repr::Value(v) => match v.lookup(key) {
                    Some(v) => return v.downcast_ref(),
                    None => cur = v.parent(),
                },
                Repr::Cancel(c) => cur = &c.parent,
                Repr::WithoutCancel(parent) => cur = parent,
                Repr::Background | Repr::Todo => return None,
            }
        }
    }
}

/// The future of [`Context::done`].
#[must_use = "futures do nothing unless polled"]
pub struct Done<'a> {
    ctx: &'a Context,
    /// This future's key in the anchor's waiter slab, once registered.
    slot: Option<usize>,
}

impl Future for Done<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(c) = this.ctx.anchor() else {
            return Poll::Pending;
        };
        if c.poll_done(&mut this.slot, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        if let (Some(slot), Some(c)) = (self.slot, self.ctx.anchor()) {
            c.remove_hook(slot);
        }
    }
}

impl fmt::Debug for Done<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Done")
            .field("ctx", self.ctx)
            .field("registered", &self.slot.is_some())
            .finish()
    }
}

impl fmt::Debug for Context {
    /// Go's `String()` of a context: the chain from the root,
    /// `context.Background.WithCancel.WithValue(..)`, then its state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn chain(ctx: &Context, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match &ctx.repr {
                Repr::Background => f.write_str("context.Background"),
                Repr::Todo => f.write_str("context.TODO"),
                Repr::Cancel(c) => {
                    chain(&c.parent, f)?;
                    match c.deadline {
                        Some(d) => write!(f, ".WithDeadline({:?})", d),
                        None => f.write_str(".WithCancel"),
                    }
                }
                Repr::Value(v) => {
                    chain(v.parent(), f)?;
                    write!(f, ".WithValue({})", v.type_names())
                }
                Repr::WithoutCancel(parent) => {
                    chain(parent, f)?;
                    f.write_str(".WithoutCancel")
                }
            }
        }
        chain(self, f)?;
        match self.err() {
            Some(e) => write!(f, " ({e})"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc")
            .field("done", &self.node.err().is_some())
            .finish()
    }
}

impl fmt::Debug for CancelCauseFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCauseFunc")
            .field("done", &self.node.err().is_some())
            .finish()
    }
}
