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
