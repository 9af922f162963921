//! hyper on gort: the runtime adapters hyper 1.x asks of an executor, and
//! the hello-world service served through them.
//!
//! hyper is runtime-agnostic: it reads and writes through its own
//! [`hyper::rt::Read`] and [`hyper::rt::Write`], spawns through
//! [`hyper::rt::Executor`] and sleeps through [`hyper::rt::Timer`]. This
//! module implements the four over gort:
//!
//! - [`GortIo`] makes any `futures::io` stream (here [`TcpStream`])
//!   hyper's `Read` + `Write`;
//! - [`GortExecutor`] spawns with `gort::spawn`;
//! - [`GortTimer`] sleeps with `gort::time::sleep`, on the per-P timers.
//!
//! Shared, through `#[path]`, by `examples/http/main.rs` (the server),
//! `tests/http_example.rs` and gort-bench's `http_hello` workload, so all
//! three run the same code.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use gort::net::{TcpListener, TcpStream};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

/// The body of every response.
pub const HELLO: &[u8] = b"Hello, world!\n";

/// A `futures::io` stream seen as hyper's `Read` + `Write` (what
/// hyper-util's `TokioIo` is for tokio's streams).
#[derive(Debug)]
pub struct GortIo<T> {
    io: T,
    /// How many bytes the next read may take (see `poll_read`).
    window: usize,
}

/// The smallest read window: a request's head usually fits.
const MIN_WINDOW: usize = 1024;

impl<T> GortIo<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> GortIo<T> {
        GortIo {
            io,
            window: MIN_WINDOW,
        }
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for GortIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // futures' `poll_read` takes an initialised `&mut [u8]`, while
        // hyper hands out uninitialised spare capacity (8 KiB or more), so
        // the bytes offered must be zeroed first; tokio's `ReadBuf` skips
        // that. Zeroing all of it for a 100-byte request cost about 5% of
        // the server's CPU in gort-bench's http_hello, so read through a
        // window: start small, and while reads fill it, double it and read
        // on, so that one call still takes everything available up to
        // hyper's capacity (hyper relies on that, e.g. to drain an unread
        // body in one read). The window is kept for the next call while
        // reads keep filling it (a large body).
        let mut read = 0;
        loop {
            let want = buf.remaining().min(self.window);
            if want == 0 {
                return Poll::Ready(Ok(()));
            }
            let dst = buf.initialize_unfilled_to(want);
            let n = match Pin::new(&mut self.io).poll_read(cx, dst) {
                Poll::Ready(Ok(n)) => n,
                // Hand over what was read; hyper's next read waits again
                // or fails (though a reset, once reported, reads as EOF).
                Poll::Ready(Err(_)) | Poll::Pending if read > 0 => {
                    return Poll::Ready(Ok(()));
                }
                other => return other.map_ok(|_| ()),
            };
            // SAFETY: the first `n` bytes of the unfilled part are
            // initialised (zeroed above, then written by the read), and
            // `n <= want`, which is at most the cursor's `remaining()`.
            unsafe { buf.advance(n) };
            read += n;
            if n < want {
                self.window = MIN_WINDOW;
                return Poll::Ready(Ok(()));
            }
            self.window = self.window.saturating_mul(2);
        }
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
