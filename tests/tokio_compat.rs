//! Libraries written against tokio's I/O traits, over gort's sockets: the
//! recipe of `docs/guide/from-tokio.md`.
//!
//! gort's streams implement `futures::io::{AsyncRead, AsyncWrite}`;
//! tokio-util's `compat()` turns any such stream into a
//! `tokio::io::{AsyncRead, AsyncWrite}` one, so code that only reads and
//! writes through tokio's traits (`tokio::io::copy`, tokio-util's `Framed`
//! and codecs, most protocol crates) runs on a gort runtime unchanged. Code
//! that needs tokio's *runtime* (`tokio::spawn`, `tokio::time`,
//! `tokio::net`) panics there, with "there is no reactor running": the
//! last two tests show that panic and the way around it, a tokio runtime
//! beside gort whose handle is entered around each poll.
//!
//! Every exchange is bounded by a timeout, so a broken adapter fails the
//! test rather than hanging it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::{SinkExt, StreamExt};
use gort::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LinesCodec};
use tokio_util::compat::FuturesAsyncReadCompatExt;

/// The bound on each test's exchange.
const WATCHDOG: Duration = Duration::from_secs(10);

/// A "library" function that knows only tokio's traits: it echoes every
/// byte it reads back to its writer, with `tokio::io::copy`.
async fn tokio_echo<S>(stream: S) -> std::io::Result<u64>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let n = tokio::io::copy(&mut rd, &mut wr).await?;
    tokio::io::AsyncWriteExt::shutdown(&mut wr).await?;
    Ok(n)
}

/// `tokio::io::copy` over a gort `TcpStream` on a gort runtime: the server
/// hands its accepted stream to `tokio_echo` through `compat()`, the client
/// talks to it with futures' traits.
#[gort::test(procs = 2)]
async fn tokio_io_copy_over_a_gort_stream() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(async move {
        let (stream, _) = listener.accept().await?;
        tokio_echo(stream.compat()).await
    });

    let exchange = async {
        let mut conn = TcpStream::connect(addr).await?;
        conn.write_all(b"hello through tokio's traits").await?;
        conn.close().await?; // shuts down the write half: copy sees EOF
        let mut back = Vec::new();
        conn.read_to_end(&mut back).await?;
        std::io::Result::Ok(back)
    };
    let back = gort::time::timeout(WATCHDOG, exchange)
        .await
        .expect("no echo within 10 s")
        .unwrap();
    assert_eq!(back, b"hello through tokio's traits");
    let copied = gort::time::timeout(WATCHDOG, server)
        .await
        .expect("the server did not finish")
        .unwrap()
        .unwrap();
    assert_eq!(copied, 28);
}

/// tokio-util's `Framed` with `LinesCodec` on both ends of a gort
/// connection: a line protocol written for tokio, served and spoken on
/// gort.
#[gort::test(procs = 2)]
async fn framed_lines_over_gort_streams() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut lines = Framed::new(stream.compat(), LinesCodec::new());
        let mut served = 0;
        while let Some(line) = lines.next().await {
            lines.send(line.unwrap().to_uppercase()).await.unwrap();
            served += 1;
        }
        served
    });

    let exchange = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut lines = Framed::new(stream.compat(), LinesCodec::new());
        let mut replies = Vec::new();
        for word in ["go", "gort", "tokio"] {
            lines.send(word).await.unwrap();
            replies.push(lines.next().await.unwrap().unwrap());
        }
        replies
    };
    let replies = gort::time::timeout(WATCHDOG, exchange)
        .await
        .expect("no replies within 10 s");
    assert_eq!(replies, ["GO", "GORT", "TOKIO"]);
    // The client's Framed is dropped: the server reads EOF and returns.
    let served = gort::time::timeout(WATCHDOG, server)
        .await
        .expect("the server did not finish")
        .unwrap();
    assert_eq!(served, 3);
}

/// What cannot work: tokio's timers (like `tokio::spawn` and
/// `tokio::net`) look for a tokio runtime on the current thread, and a
/// gort task has none. The panic is caught by the task, as any panic is.
#[gort::test(procs = 2)]
async fn tokio_time_without_a_tokio_runtime_panics() {
    let err = gort::spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
    })
    .await
    .unwrap_err();
    assert!(err.is_panic());
    let payload = err.into_panic();
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        msg.contains("there is no reactor running"),
        "panic: {msg:?}"
    );
}

/// Runs `fut` with a tokio runtime entered around every poll, so the tokio
/// calls it makes (`tokio::time`, `tokio::spawn`) find that runtime. The
/// guard is taken and dropped within one poll: a gort task may move to
/// another thread between polls, and tokio's context is per thread (which
/// is why `Handle::enter`'s guard is not `Send`).
struct InTokio<F> {
    handle: tokio::runtime::Handle,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for InTokio<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _entered = self.handle.enter();
        self.fut.as_mut().poll(cx)
    }
}

/// A "library" function that needs tokio's runtime, not only its traits.
async fn tokio_timed_greeting() -> &'static str {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let task = tokio::spawn(async { "hello from tokio's timer and executor" });
    task.await.unwrap()
}

/// The way around it: a tokio runtime beside gort's. Its own worker thread
/// drives its timers and runs what `tokio::spawn` starts; the gort task
/// awaits the result, and tokio's wake-ups reach it through the task's
/// ordinary waker. The same works by spawning the whole call onto tokio
/// (`handle.spawn(..)`: a tokio `JoinHandle` is awaitable from any
/// executor).
#[gort::test(procs = 2)]
async fn a_tokio_runtime_beside_gort() {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let handle = tokio_rt.handle().clone();

    let task = gort::spawn(InTokio {
        handle: handle.clone(),
        fut: Box::pin(tokio_timed_greeting()),
    });
    let greeting = gort::time::timeout(WATCHDOG, task)
        .await
        .expect("the tokio-backed call did not finish")
        .unwrap();
    assert_eq!(greeting, "hello from tokio's timer and executor");

    let spawned = gort::time::timeout(WATCHDOG, handle.spawn(tokio_timed_greeting()))
        .await
        .expect("the tokio task did not finish")
        .unwrap();
    assert_eq!(spawned, "hello from tokio's timer and executor");

    // Dropping a tokio runtime joins its threads, a blocking call that
    // would hold this task's M; shutdown_background does not wait.
    tokio_rt.shutdown_background();
}
