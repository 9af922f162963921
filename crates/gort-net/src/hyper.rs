//! hyper 1.x on gort: the runtime pieces hyper asks of its host (what
//! hyper-util's `rt::tokio` is for tokio). Re-exported by the facade as
//! `gort::hyper` (cargo feature `hyper`).
//!
//! hyper is runtime-agnostic: it reads and writes through its own
//! [`hyper::rt::Read`] and [`hyper::rt::Write`], spawns (HTTP/2 streams,
//! client connection tasks) through [`hyper::rt::Executor`] and sleeps
//! (header-read timeouts, keep-alive pings) through [`hyper::rt::Timer`].
//! This module gives the three for gort:
//!
//! - [`Io`] turns any `futures::io::{AsyncRead, AsyncWrite}` stream into
//!   hyper's `Read` + `Write`, and back: an `Io` over hyper's `Read` +
//!   `Write` (an upgraded connection, say) is a `futures::io` stream;
//! - [`Executor`] makes each future a detached gort task (`gort::spawn`);
//! - [`Timer`] sleeps with gort's [`Sleep`](gort_core::time::Sleep), on
//!   the per-P timer heaps, and resets a sleep in place.
//!
//! # Reading into hyper's buffer
//!
//! hyper hands a read its spare buffer capacity as a `ReadBufCursor`:
//! memory that may be uninitialised, while `futures::io::AsyncRead` wants
//! `&mut [u8]`, and a `&mut [u8]` over uninitialised bytes is undefined
//! behaviour. Two paths, no copy on either:
//!
//! 1. [`Io<T>`] over a generic `AsyncRead` initialises the cursor first
//!    (`ReadBufCursor::initialize_unfilled`, a memset of hyper's spare
//!    capacity, 8 KiB or more per read), then reads into it, then advances
//!    the cursor by what the read reported. Sound for any `T`; the memset
//!    is the price (docs/perf-log.md has its measurement).
//! 2. gort's own [`TcpStream`] and [`UnixStream`] implement hyper's `Read`
//!    and `Write` themselves: their read is `recv(2)` straight into the
//!    uninitialised capacity ([`TcpStream::poll_read_uninit`]), which
//!    writes only the bytes the kernel delivered and reports how many. Pass
//!    the stream to hyper as it is to skip the memset.
//!
//! Rust has no specialisation, so `Io<TcpStream>` cannot pick path 2 by
//! itself: it takes path 1, like any other stream. Hand-over of the stream
//! itself is the fast path; `Io` is the portable one.
//!
//! # Writes
//!
//! `poll_write`, `poll_write_vectored` and `poll_flush` pass through;
//! hyper's `poll_shutdown` is `futures`' `poll_close`, which for a socket
//! shuts down its writing side. `futures::io::AsyncWrite` has no
//! `is_write_vectored`, so an `Io` reports `false` unless told otherwise
//! ([`Io::with_write_vectored`]): hyper then flattens headers and body
//! into one buffer (a small copy, and one write) instead of relying on a
//! vectored write that a stream without one performs buffer by buffer.
//! gort's sockets, handed over directly, report `true`: their vectored
//! write is one `writev(2)`.
//!
//! # Example
//!
//! A server and a client, HTTP/1.1, on one runtime:
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use gort_net::hyper::{Io, Timer};
//! use gort_net::{TcpListener, TcpStream};
//!
//! # gort_core::Runtime::new().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! gort_core::spawn(async move {
//!     let (stream, _) = listener.accept().await.unwrap();
//!     let hello = hyper::service::service_fn(|_req| async {
//!         Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from("hi"))))
//!     });
//!     hyper::server::conn::http1::Builder::new()
//!         .timer(Timer::new())
//!         .serve_connection(Io::new(stream), hello)
//!         .await
//!         .unwrap();
//! });
//!
//! let stream = TcpStream::connect(addr).await?;
//! let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
//! gort_core::spawn(conn);
//! let req = hyper::Request::get("/").header("host", "gort").body(Empty::<Bytes>::new()).unwrap();
//! let resp = sender.send_request(req).await.unwrap();
//! assert_eq!(resp.status(), 200);
//! assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hi");
//! # std::io::Result::Ok(()) }).unwrap();
//! ```
//!
//! # Differences from hyper-util's tokio glue
//!
//! - `TokioIo` passes tokio's `is_write_vectored` through; `futures::io`
//!   has none, so [`Io`] says `false` unless built with
//!   [`Io::with_write_vectored`] (above).
//! - `TokioIo` reads into uninitialised memory for every tokio stream,
//!   because tokio's `AsyncRead` takes a `ReadBuf`; `futures::io` cannot,
//!   so [`Io`] zeroes first and gort's sockets skip `Io` for the fast path.
//! - [`Executor`] spawns with `gort::spawn`, which panics outside a gort
//!   runtime (as `TokioExecutor`'s `tokio::spawn` does outside tokio's).

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use hyper::rt::{ReadBuf, ReadBufCursor};

use crate::{TcpStream, UnixStream};

pin_project_lite::pin_project! {
    /// A stream seen through the other crate's I/O traits.
    ///
    /// - `Io<T>` with `T: futures::io::AsyncRead + AsyncWrite` is hyper's
    ///   [`Read`](hyper::rt::Read) + [`Write`](hyper::rt::Write), what
    ///   hyper's connection builders take (hyper-util's `TokioIo`);
    /// - `Io<T>` with `T: hyper::rt::Read + Write` (hyper's upgraded
    ///   connection, for one) is a `futures::io` stream.
    ///
    /// See the [module docs](self) for how reads fill hyper's
    /// uninitialised buffer, and why gort's own sockets can skip `Io`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::io::Cursor;
    /// use hyper::rt::{Read, ReadBuf};
    /// use gort_net::hyper::Io;
    ///
    /// let mut io = Io::new(Cursor::new(b"GET / HTTP/1.1\r\n".to_vec()));
    /// let mut storage = [0u8; 3];
    /// let mut buf = ReadBuf::new(&mut storage);
    /// let waker = futures::task::noop_waker();
    /// let mut cx = std::task::Context::from_waker(&waker);
    /// let r = std::pin::Pin::new(&mut io).poll_read(&mut cx, buf.unfilled());
    /// assert!(r.is_ready());
    /// assert_eq!(buf.filled(), b"GET");
    /// ```
    #[derive(Debug)]
    pub struct Io<T> {
        #[pin]
        inner: T,
        write_vectored: bool,
    }
}

impl<T> Io<T> {
    /// Wraps `inner`. Its hyper `Write` side reports
    /// `is_write_vectored() == false` (see [`with_write_vectored`](Io::with_write_vectored)).
    pub fn new(inner: T) -> Io<T> {
        Io {
            inner,
            write_vectored: false,
        }
    }

    /// Wraps `inner`, telling hyper that its `poll_write_vectored` writes
    /// several buffers at once (a `writev`), so that hyper sends headers
    /// and body as separate buffers instead of copying them into one.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Write;
    /// use gort_net::hyper::Io;
    ///
    /// let io = Io::with_write_vectored(futures::io::Cursor::new(Vec::<u8>::new()));
    /// assert!(io.is_write_vectored());
    /// assert!(!Io::new(futures::io::Cursor::new(Vec::<u8>::new())).is_write_vectored());
    /// ```
    pub fn with_write_vectored(inner: T) -> Io<T> {
        Io {
            inner,
            write_vectored: true,
        }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// The error for a read that reports more bytes than the buffer it was
/// given holds: a broken `AsyncRead`, refused rather than trusted.
fn overlong_read(n: usize, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("AsyncRead::poll_read reported {n} bytes read into a {len}-byte buffer"),
    )
}

impl<T: AsyncRead> hyper::rt::Read for Io<T> {
    /// Zeroes the cursor's unfilled part, reads into it, and advances the
    /// cursor by what was read.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        let len = dst.len();
        let n = ready!(self.project().inner.poll_read(cx, dst))?;
        if n > len {
            return Poll::Ready(Err(overlong_read(n, len)));
        }
        // SAFETY: `initialize_unfilled` initialised all `len` bytes of the
        // unfilled part and `n <= len` (checked above).
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> hyper::rt::Write for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    /// What the `Io` was built with: `false` from [`Io::new`], `true` from
    /// [`Io::with_write_vectored`].
    fn is_write_vectored(&self) -> bool {
        self.write_vectored
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    /// `futures`' `poll_close`: for a socket, shuts down its writing side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }
}

impl<T: hyper::rt::Read> AsyncRead for Io<T> {
    /// hyper's read over `buf`, which is initialised already: no copy.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        ready!(self.project().inner.poll_read(cx, rb.unfilled()))?;
        Poll::Ready(Ok(rb.filled().len()))
    }
}

impl<T: hyper::rt::Write> AsyncWrite for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    /// hyper's `poll_shutdown`.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// Path 2 of the module docs: `read` (a `poll_read_uninit`) receives the
/// cursor's unfilled part as it is, uninitialised bytes included.
fn read_uninit(
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
    read: impl FnOnce(&mut Context<'_>, &mut [MaybeUninit<u8>]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<()>> {
    // SAFETY: `as_mut` asks that no initialised byte be de-initialised
    // through the slice; `read` is `recv(2)` through socket2, which only
    // stores bytes the kernel delivered.
    let dst = unsafe { buf.as_mut() };
    let len = dst.len();
    let n = ready!(read(cx, dst))?;
    if n > len {
        return Poll::Ready(Err(overlong_read(n, len)));
    }
    // SAFETY: `poll_read_uninit` initialised the first `n` bytes of the
    // unfilled part, and `n <= len` (checked above).
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// hyper's `Read` and `Write` directly on a gort-net stream: reads go
/// through `poll_read_uninit` (no memset), writes are the `futures::io`
/// ones, vectored with one `writev`.
macro_rules! hyper_io {
    ($stream:ident) => {
        #[doc = concat!("[`", stringify!($stream), "`] is hyper's `Read` as it is: `recv(2)` into hyper's uninitialised buffer, no memset (module docs, path 2).")]
        impl hyper::rt::Read for $stream {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let stream = self.get_mut();
                read_uninit(cx, buf, |cx, dst| stream.poll_read_uninit(cx, dst))
            }
        }

        #[doc = concat!("[`", stringify!($stream), "`] is hyper's `Write` as it is; vectored writes are one `writev(2)`, and `poll_shutdown` shuts down the writing side.")]
        impl hyper::rt::Write for $stream {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

hyper_io!(TcpStream);
hyper_io!(UnixStream);

/// hyper's executor on gort: each future hyper hands over (an HTTP/2
/// stream, a client connection's background task) becomes a detached gort
/// task, a goroutine, with [`gort_core::spawn`].
///
/// # Panics
///
/// `execute` panics outside a gort runtime, as `gort::spawn` does; hyper
/// calls it from the connection's own task, which is inside one.
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor as _;
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = futures::channel::oneshot::channel();
/// gort_net::hyper::Executor::new().execute(async move { tx.send(7).unwrap() });
/// assert_eq!(rx.await, Ok(7));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Executor;

impl Executor {
    /// The executor (a unit struct; `Executor` and `Executor::default()`
    /// are the same).
    pub fn new() -> Executor {
        Executor
    }
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        // Dropping the JoinHandle detaches the task.
        drop(gort_core::spawn(fut));
    }
}

/// hyper's timer on gort: [`gort_core::time::sleep`] and `sleep_until`,
/// which live on the per-P timer heaps, and `reset` that moves a gort
/// sleep's deadline in place (no new allocation) when the sleep is one of
/// this timer's.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use hyper::rt::Timer as _;
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let timer = gort_net::hyper::Timer::new();
/// let t0 = Instant::now();
/// let mut sleep = timer.sleep(Duration::from_secs(3600));
/// timer.reset(&mut sleep, t0 + Duration::from_millis(5));
/// sleep.await;
/// assert!(t0.elapsed() >= Duration::from_millis(5));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Timer;

impl Timer {
    /// The timer (a unit struct; `Timer` and `Timer::default()` are the
    /// same).
    pub fn new() -> Timer {
        Timer
    }
}

/// A gort [`Sleep`](gort_core::time::Sleep) as hyper's
/// [`Sleep`](hyper::rt::Sleep).
#[derive(Debug)]
struct GortSleep(gort_core::time::Sleep);

impl Future for GortSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // gort's Sleep is Unpin, and so is this wrapper.
        self.get_mut().0.poll_elapsed(cx)
    }
}

impl hyper::rt::Sleep for GortSleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GortSleep(gort_core::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GortSleep(gort_core::time::sleep_until(deadline)))
    }

    /// Moves the deadline in place when `sleep` came from this timer
    /// (cancelling its pending timer entry); otherwise replaces it.
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<GortSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::pin::Pin;

    use futures::io::{AsyncReadExt, AsyncWriteExt, Cursor};
    use hyper::rt::{Read, ReadBuf, Timer as _, Write};

    use super::*;

    /// Reads once through hyper's `Read` into a fresh `cap`-byte buffer.
    async fn hyper_read<R: Read + Unpin>(r: &mut R, cap: usize) -> io::Result<Vec<u8>> {
        let mut storage = vec![MaybeUninit::<u8>::uninit(); cap];
        let mut buf = ReadBuf::uninit(&mut storage);
        poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, buf.unfilled())).await?;
        Ok(buf.filled().to_vec())
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        gort_core::Runtime::new().unwrap().block_on(f)
    }

    #[test]
    fn io_reads_in_pieces_from_a_cursor() {
        block_on(async {
            let mut io = Io::new(Cursor::new(b"hello, world".to_vec()));
            assert_eq!(hyper_read(&mut io, 5).await.unwrap(), b"hello");
            assert_eq!(hyper_read(&mut io, 2).await.unwrap(), b", ");
            assert_eq!(hyper_read(&mut io, 64).await.unwrap(), b"world");
            // End of stream: nothing filled.
            assert_eq!(hyper_read(&mut io, 64).await.unwrap(), b"");
        });
    }

    #[test]
    fn io_partial_reads_over_a_unix_pair() {
        block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut io = Io::new(a);
            b.write_all(b"abc").await.unwrap();
            // A read takes what has arrived, not the whole buffer.
            assert_eq!(hyper_read(&mut io, 8192).await.unwrap(), b"abc");
            let writer = gort_core::spawn(async move {
                b.write_all(b"defgh").await.unwrap();
                b.close().await.unwrap();
            });
            let mut got = Vec::new();
            loop {
                let chunk = hyper_read(&mut io, 3).await.unwrap();
                if chunk.is_empty() {
                    break;
                }
                assert!(chunk.len() <= 3);
                got.extend(chunk);
            }
            assert_eq!(got, b"defgh");
            writer.await.unwrap();
        });
    }

    #[test]
    fn io_writes_pass_through_and_shutdown_closes() {
        block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut io = Io::new(a);
            assert!(!io.is_write_vectored());
            let n = poll_fn(|cx| Write::poll_write(Pin::new(&mut io), cx, b"one ")).await;
            assert_eq!(n.unwrap(), 4);
            let bufs = [IoSlice::new(b"two "), IoSlice::new(b"three")];
            let n = poll_fn(|cx| Write::poll_write_vectored(Pin::new(&mut io), cx, &bufs)).await;
            // Passed through to gort's UnixStream: both with one writev.
            assert_eq!(n.unwrap(), 9);
            poll_fn(|cx| Write::poll_flush(Pin::new(&mut io), cx))
                .await
                .unwrap();
            poll_fn(|cx| Write::poll_shutdown(Pin::new(&mut io), cx))
                .await
                .unwrap();
            let mut all = Vec::new();
            b.read_to_end(&mut all).await.unwrap();
            assert_eq!(all, b"one two three");
        });
    }

    #[test]
    fn a_broken_reader_that_overreports_is_refused() {
        struct Liar;
        impl AsyncRead for Liar {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(buf.len() + 1))
            }
        }
        let err = block_on(hyper_read(&mut Io::new(Liar), 4)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn the_stream_itself_reads_uninit_memory() {
        block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            assert!(Write::is_write_vectored(&a));
            b.write_all(b"xyz").await.unwrap();
            assert_eq!(hyper_read(&mut a, 2).await.unwrap(), b"xy");
            assert_eq!(hyper_read(&mut a, 4096).await.unwrap(), b"z");
            let bufs = [IoSlice::new(b"12"), IoSlice::new(b"34")];
            let n = poll_fn(|cx| Write::poll_write_vectored(Pin::new(&mut a), cx, &bufs)).await;
            assert_eq!(n.unwrap(), 4);
            poll_fn(|cx| Write::poll_shutdown(Pin::new(&mut a), cx))
                .await
                .unwrap();
            let mut all = Vec::new();
            b.read_to_end(&mut all).await.unwrap();
            assert_eq!(all, b"1234");
        });
    }

    /// The reverse direction: an `Io` over hyper's traits is a
    /// `futures::io` stream (here over a gort stream that implements
    /// hyper's traits itself).
    #[test]
    fn io_over_hyper_traits_is_a_futures_stream() {
        block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut fa = Io::new(a);
            let mut fb = Io::new(b);
            fa.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 2];
            // Partial: two of the four bytes, then the other two.
            fb.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"pi");
            fb.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ng");
            let n = fa
                .write_vectored(&[IoSlice::new(b"po"), IoSlice::new(b"ng")])
                .await
                .unwrap();
            assert_eq!(n, 4);
            fa.flush().await.unwrap();
            // poll_close is hyper's poll_shutdown: the peer reads EOF.
            fa.close().await.unwrap();
            let mut rest = Vec::new();
            fb.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, b"pong");
        });
    }

    #[test]
    fn timer_sleeps_resets_in_place_and_replaces_foreign_sleeps() {
        block_on(async {
            let timer = Timer::new();
            let t0 = Instant::now();
            let mut s = timer.sleep(Duration::from_secs(3600));
            // Poll once so the timer entry is armed, then move it.
            assert!(poll_fn(|cx| Poll::Ready(s.as_mut().poll(cx).is_pending())).await);
            timer.reset(&mut s, t0 + Duration::from_millis(2));
            assert!(s.is::<GortSleep>());
            s.await;
            assert!(t0.elapsed() >= Duration::from_millis(2));

            struct Foreign;
            impl Future for Foreign {
                type Output = ();
                fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                    Poll::Pending
                }
            }
            impl hyper::rt::Sleep for Foreign {}
            let mut s: Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Foreign);
            timer.reset(&mut s, Instant::now());
            assert!(s.is::<GortSleep>());
            s.await;
            timer.sleep_until(Instant::now()).await;
        });
    }
}
