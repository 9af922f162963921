//! `task::Builder`: spawning with options, today a name.
//!
//! A name is stored in the task's header when the task is made, before
//! anything can see it, and never changes: the goroutine dump prints it
//! after the task's state (`goroutine 17 [IO wait, 3 ms] conn-42:`) and
//! every poll's `tracing` span carries it (`task.name`), next to the id.
//! Go's goroutines have no names (pprof labels come closest); tokio's
//! `task::Builder::name` is the model.

use std::future::Future;
use std::panic::Location;

use crate::rt::Handle;
use crate::sched::context;
use crate::task::{spawn_local_named, JoinHandle};

/// Spawns a task with options: a name, shown by `runtime::dump()` and in
/// the task's tracing spans.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = gort_core::TaskBuilder::new()
///         .name("conn-42")
///         .spawn(std::future::pending::<()>());
///     gort_core::yield_now().await;
///     let dump = gort_core::runtime::dump();
///     assert!(dump.contains("] conn-42:"), "{dump}");
///     h.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder with no options set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The task's name.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    fn take_name(self) -> Option<Box<str>> {
        self.name.map(String::into_boxed_str)
    }

    /// Spawns `future` on the current runtime, as `gort::spawn`.
    ///
    /// # Panics
    ///
    /// Outside a gort runtime, saying so.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        let name = self.take_name();
        context::with_current(|h| match h {
            Some(h) => h.spawn_named(future, name, at),
            None => panic!(
                "gort::task::Builder::spawn called outside a gort runtime: call it from a \
                 task, from inside Runtime::block_on, or use Builder::spawn_on"
            ),
        })
    }

    /// Spawns `future` on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.spawn_named(future, self.take_name(), Location::caller())
    }

    /// Spawns a `!Send` future on the current `LocalSet`, as
    /// `task::spawn_local`.
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet`'s run, saying so.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_local_named(future, self.take_name(), Location::caller())
    }
}
