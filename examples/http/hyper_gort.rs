//! hyper on gort: the runtime adapters hyper 1.x asks of an executor, and
//! the hello-world service served through them.
//!
//! hyper is runtime-agnostic: it reads and writes through its own
//! [`hyper::rt::Read`] and [`hyper::rt::Write`], spawns through
//! [`hyper::rt::Executor`] and sleeps through [`hyper::rt::Timer`]. This
//! module implements the four over gort:
//!
//! - [`GortIo`] makes a gort-net stream (here [`TcpStream`]) hyper's
//!   `Read` + `Write`, reading straight into hyper's uninitialised buffer;
//! - [`GortExecutor`] spawns with `gort::spawn`;
//! - [`GortTimer`] sleeps with `gort::time::sleep`, on the per-P timers.
//!
//! Shared, through `#[path]`, by `examples/http/main.rs` (the server),
//! `tests/http_example.rs` and gort-bench's `http_hello` workload, so all
//! three run the same code.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::io::AsyncWrite;
use gort::net::{TcpListener, TcpStream, UnixStream};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

/// The body of every response.
pub const HELLO: &[u8] = b"Hello, world!\n";

/// A gort-net stream seen as hyper's `Read` + `Write` (what hyper-util's
/// `TokioIo` is for tokio's streams).
#[derive(Debug)]
pub struct GortIo<T> {
    io: T,
}

impl<T> GortIo<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> GortIo<T> {
        GortIo { io }
    }
}

/// A stream that reads into uninitialised memory, as hyper's `Read` hands
/// it out: gort-net's [`TcpStream`] and [`UnixStream`]
/// (`poll_read_uninit`). A plain `futures::io::AsyncRead` would need the
/// memory zeroed first, which for hyper's 8 KiB and more of spare capacity
/// per read cost several percent of the server's instructions.
pub trait ReadUninit {
    /// Reads what is available into `buf`; on `Ready(Ok(n))` its first `n`
    /// bytes are initialised.
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

impl ReadUninit for TcpStream {
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_read_uninit(self, cx, buf)
    }
}

impl ReadUninit for UnixStream {
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        UnixStream::poll_read_uninit(self, cx, buf)
    }
}

impl<T: ReadUninit + Unpin> hyper::rt::Read for GortIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `as_mut` asks that no initialised byte of the cursor be
        // de-initialised through the slice: the read only writes bytes the
        // kernel received.
        let dst = unsafe { buf.as_mut() };
        let n = ready!(self.io.poll_read_uninit(cx, dst))?;
        // SAFETY: `poll_read_uninit` initialised the first `n` bytes of
        // `dst`, the cursor's unfilled part, and `n <= dst.len()`.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for GortIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    /// gort-net's sockets write vectors with one `writev`, so hyper may
    /// queue headers and body as separate buffers instead of copying them
    /// into one.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// hyper's executor: each future becomes a gort task (a goroutine),
/// detached.
#[derive(Debug, Clone, Copy, Default)]
pub struct GortExecutor;

impl<F> Executor<F> for GortExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        drop(gort::spawn(fut));
    }
}

/// hyper's timer (header-read timeouts, keep-alive): gort's sleeps, which
/// live on the per-P timer heaps.
#[derive(Debug, Clone, Copy, Default)]
pub struct GortTimer;

/// A [`gort::time::Sleep`] as hyper's [`Sleep`].
struct GortSleep(gort::time::Sleep);

impl Future for GortSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // gort's Sleep is Unpin.
        self.get_mut().0.poll_elapsed(cx)
    }
}

impl Sleep for GortSleep {}

impl Timer for GortTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(GortSleep(gort::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(GortSleep(gort::time::sleep_until(deadline)))
    }

    /// Moves the deadline in place when `sleep` is one of ours.
    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<GortSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The service: `200 OK` with [`HELLO`] for any request.
pub async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// Serves HTTP/1.1 [`hello`] on one connection until the client closes it.
///
/// # Errors
///
/// hyper's, when the connection fails mid-request or its header read
/// times out (hyper's default, 30 s, measured by [`GortTimer`]).
pub async fn serve_connection(stream: TcpStream) -> hyper::Result<()> {
    // Responses go out whole in one write: no Nagle delay to wait for.
    let _ = stream.set_nodelay(true);
    http1::Builder::new()
        .timer(GortTimer)
        .serve_connection(GortIo::new(stream), service_fn(hello))
        .await
}

/// Accepts connections on `listener` and serves each on its own task until
/// the listener fails or is closed ([`TcpListener::close`]).
///
/// # Errors
///
/// The error that ended `accept`; [`gort::net`]'s `Closed` one after
/// `close`.
pub async fn serve(listener: &TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        GortExecutor.execute(async move {
            // A client that leaves mid-request only ends its own connection.
            let _ = serve_connection(stream).await;
        });
    }
}
