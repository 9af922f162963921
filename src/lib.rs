//! # gort: Go's runtime, rebuilt for Rust's async world
//!
//! Write ordinary futures; gort runs them on Go's GMP scheduler: tasks (G)
//! on worker threads (M) that hold processors (P), each with a local run
//! queue, a `runnext` slot and its timers; work stealing, spinning Ms and
//! idle-M parking as in Go's `proc.go`.
//!
//! ```
//! #[gort::main(procs = 2)]
//! async fn main() {
//!     let handles: Vec<_> = (0..1000u64).map(|i| gort::spawn(async move { i * 2 })).collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     assert_eq!(sum, 999_000);
//!     gort::time::sleep(std::time::Duration::from_millis(1)).await;
//! }
//! ```
//!
//! The user-visible contract (names and shapes) is fixed; see the crate's
//! `docs/semantics.md` for where gort's behaviour differs from Go's and why.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub use gort_core::{
    spawn, spawn_blocking, syscall, yield_now, BuildError, Builder, EnterGuard, Handle, Id,
    JoinError, JoinHandle, Runtime,
};
pub use gort_macros::{main, select, test};

/// Tasks: spawning (Go's `go` statement), groups of tasks, names, and
/// `!Send` tasks.
///
/// - [`spawn`] and [`JoinHandle`]: one task; dropping the
///   handle detaches it, as a goroutine runs on.
/// - [`JoinSet`](task::JoinSet): a group of tasks owned together, joined as they finish;
///   dropping the set aborts them (in Go, a `WaitGroup` and a results
///   channel, or `errgroup`).
/// - [`AbortHandle`](task::AbortHandle): abort a task from anywhere without owning its output.
/// - [`Builder`](task::Builder): spawn with a name, shown by [`runtime::dump`] and in
///   tracing spans.
/// - [`LocalSet`](task::LocalSet) and [`spawn_local`](task::spawn_local): futures that are not `Send`, run
///   on the one thread that drives the set.
///
/// ```
/// use gort::task::JoinSet;
///
/// #[gort::main(procs = 2)]
/// async fn main() {
///     let mut set = JoinSet::new();
///     for i in 0..100u64 {
///         set.spawn(async move { i });
///     }
///     let mut sum = 0;
///     while let Some(r) = set.join_next().await {
///         sum += r.unwrap();
///     }
///     assert_eq!(sum, 4950);
/// }
/// ```
pub mod task {
    pub use gort_core::task::{spawn_local, AbortHandle, LocalSet, RunUntil};
    pub use gort_core::{
        spawn, spawn_blocking, yield_now, Id, JoinError, JoinHandle, JoinSet,
        TaskBuilder as Builder,
    };
}

/// Go's `runtime` package: introspection of the current runtime.
pub mod runtime {
    pub use gort_core::runtime::*;
    pub use gort_core::{LatencyHistogram, MState, MStatus, Metrics, WaitReason};
}

/// Go's `time` package: sleeping, deadlines, tickers and timers.
pub mod time {
    pub use gort_core::time::*;
    pub use gort_sync::time::{after, after_func, FuncTimer};
}

/// Go's `testing/synctest`: concurrent code on a virtual clock, in a bubble
/// whose time jumps to the next timer as soon as every task in it is
/// durably blocked. `#[gort::test(synctest)]` runs a test's body in one.
///
/// ```
/// use std::time::Duration;
/// use gort::sync::chan;
/// use gort::time::{now, sleep, timeout};
///
/// gort::synctest::run(async {
///     let t0 = now();
///     let (tx, rx) = chan::<u32>(0);
///     gort::spawn(async move {
///         sleep(Duration::from_secs(90)).await;
///         tx.send(7).await.unwrap();
///     });
///     // A minute passes (virtually) with nothing received...
///     assert!(timeout(Duration::from_secs(60), rx.recv()).await.is_err());
///     assert_eq!(now() - t0, Duration::from_secs(60));
///     // ...then the value comes at 90 s.
///     assert_eq!(rx.recv().await, Some(7));
///     assert_eq!(now() - t0, Duration::from_secs(90));
/// });
/// ```
pub mod synctest {
    pub use gort_core::synctest::*;
}

/// Go's `context` package: cancellation trees, deadlines and values.
pub mod context {
    pub use gort_sync::context::*;
}

/// Go's `net` package: TCP, UDP and Unix sockets on the netpoller, and
/// name lookup. See [`gort_net`] for the design.
///
/// A task waiting on a socket holds no P and no M. Go's `SetDeadline`
/// becomes a wrapper around the operation: [`time::timeout`], or a
/// context, which also carries cancellation from above:
///
/// ```
/// use std::time::Duration;
/// use futures::io::AsyncReadExt;
/// use gort::context::{self, Error};
/// use gort::net::{TcpListener, TcpStream};
///
/// #[gort::main(procs = 2)]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut conn = TcpStream::connect(listener.local_addr()?).await?;
///     let mut buf = [0u8; 16];
///
///     // conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
///     let r = gort::time::timeout(Duration::from_millis(20), conn.read(&mut buf)).await;
///     assert!(r.is_err(), "nobody wrote");
///
///     // The same through a context: the read ends when ctx is done.
///     let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(20));
///     let n = gort::select! {
///         r = conn.read(&mut buf) => Some(r?),
///         _ = ctx.done() => None,
///     };
///     assert_eq!(n, None);
///     assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
///     Ok(())
/// }
/// ```
pub mod net {
    pub use gort_net::*;
}

/// hyper 1.x on gort (cargo feature `hyper`): [`Io`](hyper::Io),
/// [`Executor`](hyper::Executor) and [`Timer`](hyper::Timer), the pieces of
/// hyper-util's `rt::tokio` for gort. See [`gort_net::hyper`] for the
/// design (how reads fill hyper's uninitialised buffer, why gort's own
/// sockets may be handed to hyper without `Io`).
///
/// An HTTP/2 server and client on one runtime: the executor runs hyper's
/// stream tasks, the timer its keep-alive pings.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::{server, client, service::service_fn, Request, Response};
/// use gort::hyper::{Executor, Io, Timer};
/// use gort::net::{TcpListener, TcpStream};
///
/// #[gort::main(procs = 2)]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     gort::spawn(async move {
///         let (stream, _) = listener.accept().await.unwrap();
///         let hello = service_fn(|_req| async {
///             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello, h2"))))
///         });
///         server::conn::http2::Builder::new(Executor::new())
///             .timer(Timer::new())
///             .keep_alive_interval(Duration::from_secs(10))
///             .serve_connection(Io::new(stream), hello)
///             .await
///             .unwrap();
///     });
///
///     let stream = TcpStream::connect(addr).await?;
///     let (mut sender, conn) = client::conn::http2::Builder::new(Executor::new())
///         .timer(Timer::new())
///         .handshake(Io::new(stream))
///         .await
///         .unwrap();
///     gort::spawn(conn);
///     let req = Request::get("http://gort/").body(Empty::<Bytes>::new()).unwrap();
///     let resp = sender.send_request(req).await.unwrap();
///     assert_eq!(resp.version(), hyper::Version::HTTP_2);
///     assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hello, h2");
///     Ok(())
/// }
/// ```
#[cfg(feature = "hyper")]
pub mod hyper {
    pub use gort_net::hyper::*;
}

// Go's `net/http/pprof` (cargo feature `debug`): its docs are the
// module's own, in src/debug/mod.rs.
#[cfg(feature = "debug")]
pub mod debug;

/// Go's channels and `sync` package.
pub mod sync {
    pub use gort_sync::chan::{
        chan, Receiver, Recv, RecvOwned, Send, SendError, Sender, TryRecvError, TrySendError,
    };
    pub use gort_sync::{
        Acquire, AcquireError, Cond, Lock, Mutex, MutexGuard, Once, ReadLock, RwMutex,
        RwMutexReadGuard, RwMutexWriteGuard, Semaphore, TryLockError, WriteLock,
    };
    pub use gort_sync::{ErrGroup, Map, Wait, WaitGroup};
    pub use gort_sync::{Pool, PoolGuard};
}

#[cfg(unix)]
pub mod signal;

#[doc(hidden)]
pub mod __private {
    //! Used by the code the macros generate; not public API.
    pub use gort_core::Builder;
    /// `#[gort::main]`'s SIGQUIT dump (`gort_core::io::signal`); a no-op
    /// off Unix.
    pub fn install_sigquit_dump(handle: &gort_core::Handle) {
        #[cfg(unix)]
        gort_core::io::signal::install_sigquit_dump(handle);
        #[cfg(not(unix))]
        let _ = handle;
    }
    pub use gort_sync::select;
}
