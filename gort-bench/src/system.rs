//! The runtimes under test behind one trait, so that every workload is
//! written once and runs unchanged on each of them.
//!
//! A [`System`] is a marker type with associated functions only: workloads
//! are generic over it (`fn round<S: System>(rt: &S::Runtime)`), and the
//! workload table instantiates each one per system.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

/// One async runtime, reduced to what the workloads need.
pub(crate) trait System: 'static {
    /// The name used in the output (`gort=`, `tokio=`) and in `--child`.
    const NAME: &'static str;

    type Runtime;
    type Handle: Clone + Send + 'static;

    /// A multi-threaded runtime with `procs` workers.
    fn build(procs: usize) -> io::Result<Self::Runtime>;

    fn handle(rt: &Self::Runtime) -> Self::Handle;

    /// Runs `fut` to completion on the calling thread.
    fn block_on<F: Future>(rt: &Self::Runtime, fut: F) -> F::Output;

    /// Spawns on the current runtime (from inside it). The returned future
    /// yields the task's output and panics if the task panicked; dropping
    /// it detaches the task.
    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns through `handle`, from any thread; otherwise as [`spawn`].
    ///
    /// [`spawn`]: System::spawn
    fn spawn_on<F>(
        handle: &Self::Handle,
        fut: F,
    ) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Runs `f` on the current runtime's offload pool (from inside it). The
    /// returned future yields `f`'s result and panics if `f` panicked.
    fn spawn_blocking<F, R>(f: F) -> impl Future<Output = R> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static;

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;

    /// Sleeps until `deadline`, which several tasks can share exactly.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Go's `go` statement: spawn on the current runtime and detach.
    fn go<F>(fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(Self::spawn(fut));
    }

    /// [`go`](System::go) through a handle, from any thread.
    fn go_on<F>(handle: &Self::Handle, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(Self::spawn_on(handle, fut));
    }
}

/// gort: the GMP scheduler under test.
pub(crate) struct Gort;

impl System for Gort {
    const NAME: &'static str = "gort";

    type Runtime = gort::Runtime;
    type Handle = gort::Handle;

    fn build(procs: usize) -> io::Result<gort::Runtime> {
        gort::Builder::new().procs(procs).build()
    }

    fn handle(rt: &gort::Runtime) -> gort::Handle {
        rt.handle().clone()
    }

    fn block_on<F: Future>(rt: &gort::Runtime, fut: F) -> F::Output {
        rt.block_on(fut)
    }

    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let join = gort::spawn(fut);
        async move {
            join.await
                .unwrap_or_else(|e| panic!("gort task failed: {e}"))
        }
    }

    fn spawn_on<F>(
        handle: &gort::Handle,
        fut: F,
    ) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let join = handle.spawn(fut);
        async move {
            join.await
                .unwrap_or_else(|e| panic!("gort task failed: {e}"))
        }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        gort::yield_now()
    }

    fn spawn_blocking<F, R>(f: F) -> impl Future<Output = R> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let join = gort::spawn_blocking(f);
        async move {
            join.await
                .unwrap_or_else(|e| panic!("gort blocking job failed: {e}"))
        }
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        gort::time::sleep(duration)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        gort::time::sleep_until(deadline)
    }
}

/// tokio's multi-thread runtime: the baseline.
pub(crate) struct Tokio;

impl Tokio {
    /// [`System::build`] with tokio's I/O driver enabled too, for the
    /// network workloads (`workloads::NET`). The others keep the runtime
    /// without it, as they were measured before the network workloads
    /// existed. (gort's netpoller is always there.)
    pub(crate) fn build_with_io(procs: usize) -> io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(procs)
            .enable_all()
            .build()
    }
}

impl System for Tokio {
    const NAME: &'static str = "tokio";

    type Runtime = tokio::runtime::Runtime;
    type Handle = tokio::runtime::Handle;

    fn build(procs: usize) -> io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(procs)
            .enable_time()
            .build()
    }

    fn handle(rt: &tokio::runtime::Runtime) -> tokio::runtime::Handle {
        rt.handle().clone()
    }

    fn block_on<F: Future>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output {
        rt.block_on(fut)
    }

    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let join = tokio::spawn(fut);
        async move {
            join.await
                .unwrap_or_else(|e| panic!("tokio task failed: {e}"))
        }
    }

    fn spawn_on<F>(
        handle: &tokio::runtime::Handle,
        fut: F,
    ) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let join = handle.spawn(fut);
        async move {
            join.await
                .unwrap_or_else(|e| panic!("tokio task failed: {e}"))
        }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn spawn_blocking<F, R>(f: F) -> impl Future<Output = R> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let join = tokio::task::spawn_blocking(f);
        async move {
            join.await
                .unwrap_or_else(|e| panic!("tokio blocking job failed: {e}"))
        }
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }
}

/// smol: `async-executor`'s one shared [`Executor`], run by `procs`
/// threads each in `async_io::block_on(ex.run(...))` (smol's own
/// multi-threaded recipe), with `async-io`'s reactor and timers and
/// `blocking`'s offload pool (`smol::unblock`).
///
/// smol has no ambient runtime: its users pass the executor around or
/// keep it in a static. Here each worker thread (and the thread inside
/// [`System::block_on`]) keeps it in a thread-local, so that
/// [`System::spawn`] finds it the way `tokio::spawn` finds its runtime.
///
/// [`Executor`]: async_executor::Executor
pub(crate) struct Smol;

/// The smol "runtime": the shared executor and the threads running it.
/// Dropping it stops the threads (the stop channel closes) and joins them.
pub(crate) struct SmolRuntime {
    ex: std::sync::Arc<async_executor::Executor<'static>>,
    /// Dropped first: closing the channel ends every thread's `ex.run`.
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for SmolRuntime {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            // A worker that panicked has said so on stderr already.
            let _ = t.join();
        }
    }
}

std::thread_local! {
    /// The executor of the smol worker (or `block_on` caller) on this thread.
    static SMOL_EX: std::cell::RefCell<Option<std::sync::Arc<async_executor::Executor<'static>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Sets this thread's smol executor for the life of the guard.
struct SmolEnter(Option<std::sync::Arc<async_executor::Executor<'static>>>);

impl SmolEnter {
    fn new(ex: &std::sync::Arc<async_executor::Executor<'static>>) -> SmolEnter {
        SmolEnter(SMOL_EX.with(|c| c.replace(Some(ex.clone()))))
    }
}

impl Drop for SmolEnter {
    fn drop(&mut self) {
        let prev = self.0.take();
        SMOL_EX.with(|c| *c.borrow_mut() = prev);
    }
}

/// A smol task's handle with tokio's and gort's drop semantics: awaiting
/// it yields the output (and resumes the task's panic, which
/// async-executor propagates); dropping it detaches the task, where
/// dropping an `async_executor::Task` would cancel it.
pub(crate) struct SmolJoin<T>(Option<async_executor::Task<T>>);

impl<T> Future for SmolJoin<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        let task = self.0.as_mut().expect("SmolJoin polled after completion");
        let out = std::pin::Pin::new(task).poll(cx);
        if out.is_ready() {
            self.0 = None;
        }
        out
    }
}

impl<T> Drop for SmolJoin<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.detach();
        }
    }
}

impl Smol {
    fn current() -> std::sync::Arc<async_executor::Executor<'static>> {
        SMOL_EX
            .with(|c| c.borrow().clone())
            .expect("Smol::spawn outside a smol worker or block_on")
    }
}

impl System for Smol {
    const NAME: &'static str = "smol";

    type Runtime = SmolRuntime;
    type Handle = std::sync::Arc<async_executor::Executor<'static>>;

    fn build(procs: usize) -> io::Result<SmolRuntime> {
        let ex = std::sync::Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let mut rt = SmolRuntime {
            ex: ex.clone(),
            stop: Some(stop),
            threads: Vec::with_capacity(procs),
        };
        for i in 0..procs {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            let t = std::thread::Builder::new()
                .name(format!("smol-{i}"))
                .spawn(move || {
                    let _enter = SmolEnter::new(&ex);
                    // Err: the runtime dropped the sender, time to stop.
                    let _ = async_io::block_on(ex.run(stopped.recv()));
                })?;
            rt.threads.push(t);
        }
        Ok(rt)
    }

    fn handle(rt: &SmolRuntime) -> Self::Handle {
        rt.ex.clone()
    }

    fn block_on<F: Future>(rt: &SmolRuntime, fut: F) -> F::Output {
        // Drives `fut` alone; the worker threads run the executor's tasks
        // (this thread does not join them, as tokio's block_on does not).
        let _enter = SmolEnter::new(&rt.ex);
        async_io::block_on(fut)
    }

    fn spawn<F>(fut: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        SmolJoin(Some(Self::current().spawn(fut)))
    }

    fn spawn_on<F>(
        handle: &Self::Handle,
        fut: F,
    ) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        SmolJoin(Some(handle.spawn(fut)))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    fn spawn_blocking<F, R>(f: F) -> impl Future<Output = R> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        blocking::unblock(f)
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        let timer = async_io::Timer::after(duration);
        async move {
            timer.await;
        }
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        let timer = async_io::Timer::at(deadline);
        async move {
            timer.await;
        }
    }
}
