//! The user's handle on a task: await its output, abort it, or drop it to
//! detach.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::refs::{OutputMarker, RawTask, Task};
use super::Id;

/// An owned permission to await a task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was aborted. It can be awaited from any executor. Dropping it detaches the
/// task, which keeps running (as a goroutine does).
///
/// # Cancel safety
///
/// Dropping a pending `JoinHandle` future only detaches the task; the output
/// is then dropped by the runtime when the task finishes.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let h = gort_core::spawn(async { 6 * 7 });
///     h.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub struct JoinHandle<T> {
    raw: Option<RawTask>,
    _out: OutputMarker<T>,
    /// `!Send` and `!Sync` by default: the impls below add them back when
    /// the output may cross threads (a local task's output may not).
    _local: std::marker::PhantomData<*const ()>,
}

// SAFETY: the handle reads the output (moves a `T` to this thread) and
// drops it if unread; both are fine from any thread when `T: Send`. The
// future is never touched through the handle (abort only flags and queues
// the task for its own scheduler).
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the header (id, state) and aborts; the
// output is taken only through `&mut` (polling), as tokio's handle.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw: Some(raw),
            _out: std::marker::PhantomData,
            _local: std::marker::PhantomData,
        }
    }

    /// Stores `waker` to be woken when the task finishes, without taking
    /// the output; true if it has finished already (`JoinSet`).
    pub(crate) fn register(&self, waker: &std::task::Waker) -> bool {
        self.raw().register_join_waker(waker)
    }

    fn raw(&self) -> &RawTask {
        self.raw
            .as_ref()
            .expect("JoinHandle used after it was consumed")
    }

    /// Asks the task to stop: its future is dropped the next time a worker
    /// reaches it (at once if it is idle), and awaiting this handle gives a
    /// cancelled [`JoinError`]. A no-op on a finished task.
    pub fn abort(&self) {
        self.raw().abort();
    }

    /// Whether the task has finished (completed, panicked or been aborted).
    pub fn is_finished(&self) -> bool {
        self.raw().header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw().header().id
    }

    /// A handle that can abort the task (and tell whether it finished)
    /// without owning its output: `Clone`, `Send` and `Sync` whatever the
    /// output type, so it can go to another thread or be kept after the
    /// `JoinHandle` was awaited or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_core::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = gort_core::spawn(std::future::pending::<()>());
    ///     let abort = h.abort_handle();
    ///     std::thread::spawn(move || abort.abort()).join().unwrap();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            task: self.raw().to_task(),
        }
    }
}

/// Aborts a task from anywhere: made by [`JoinHandle::abort_handle`] or
/// returned by `JoinSet::spawn`. Holding one does not keep the task's
/// output; dropping it does nothing to the task.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = gort_core::spawn(std::future::pending::<()>());
///     let a = h.abort_handle();
///     assert!(!a.is_finished());
///     a.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
///     assert!(a.is_finished());
/// });
/// ```
pub struct AbortHandle {
    task: Task,
}

impl AbortHandle {
    /// Asks the task to stop, as [`JoinHandle::abort`]: its future is
    /// dropped by its scheduler the next time it is reached (at once if it
    /// is idle), and its join handle reports cancellation. A no-op on a
    /// finished task.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the task has finished (completed, panicked or been aborted).
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.task.header().id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        AbortHandle {
            task: self.task.clone_ref(),
        }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `out` has the task's output type: a JoinHandle<T> is only
        // made by `spawn` for a future whose output is T.
        unsafe {
            self.raw()
                .try_read_output(&mut out as *mut _ as *mut (), cx.waker())
        };
        if out.is_pending() {
            super::set_wait_reason(super::WaitReason::Join);
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            raw.drop_join_handle();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

enum Repr {
    Cancelled,
    Panic(std::sync::Mutex<Box<dyn Any + Send + 'static>>),
}

/// Why a task produced no output: it panicked, or it was aborted (or its
/// runtime shut down first).
pub struct JoinError {
    id: Id,
    repr: Repr,
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(std::sync::Mutex::new(payload)),
        }
    }

    /// The task was aborted, or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the task did not panic (check [`JoinError::is_panic`] first).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.repr {
            Repr::Panic(p) => p.into_inner().unwrap_or_else(|e| e.into_inner()),
            Repr::Cancelled => panic!("JoinError::into_panic on a cancelled task"),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }
}

fn panic_message(p: &(dyn Any + Send)) -> Option<&str> {
    p.downcast_ref::<&'static str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(|s| s.as_str()))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(p) => {
                let p = p.lock().unwrap_or_else(|e| e.into_inner());
                match panic_message(&**p) {
                    Some(m) => write!(f, "task {} panicked with message {:?}", self.id, m),
                    None => write!(f, "task {} panicked", self.id),
                }
            }
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(_) => write!(f, "JoinError::Panic({}, {})", self.id, self),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}
