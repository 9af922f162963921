//! `TcpStream`: a TCP connection on the netpoller (Go's `net.TCPConn`).
//!
//! Reads and writes are non-blocking syscalls retried through the
//! registration (see `evented.rs`): a task waiting for data holds no P and
//! no M. The stream is usable through `&self` internally, which is what
//! lets [`split`](TcpStream::split) hand out two halves without a lock and
//! [`into_split`](TcpStream::into_split) share it through an `Arc`.
//!
//! # Differences from Go
//!
//! - Go's `SetDeadline` is a property of the connection; here a deadline is
//!   a wrapper around one operation: [`gort_core::time::timeout`] or a
//!   context's `done()` in a `select!` (see the crate docs).
//! - Go's `Close` releases the descriptor while other goroutines may still
//!   use it; Rust ownership releases it when the last owner drops. What
//!   other tasks observe — their waits end with an error — is
//!   [`close_shared`](TcpStream::close_shared).

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::{AsyncRead, AsyncWrite};
use gort_core::io::Direction;
use mio::Interest;
use socket2::SockRef;

use crate::addr::{each_addr, ToSocketAddrs};
use crate::evented::Evented;
use crate::tcp::split::{split, split_owned, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};

/// A TCP connection.
///
/// Implements [`AsyncRead`] and [`AsyncWrite`] (`poll_close` shuts down the
/// writing side), also for `&TcpStream`. Dropping it closes the connection.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use gort_net::{TcpListener, TcpStream};
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = gort_core::spawn(async move {
///     let (mut conn, _) = listener.accept().await?;
///     let mut buf = [0u8; 5];
///     conn.read_exact(&mut buf).await?;
///     conn.write_all(&buf).await?; // echo
///     std::io::Result::Ok(())
/// });
/// let mut conn = TcpStream::connect(addr).await?;
/// conn.write_all(b"hello").await?;
/// let mut buf = [0u8; 5];
/// conn.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
/// server.await.unwrap()?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpStream {
    io: Evented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each of its addresses in turn (the first
    /// success, or the last error). The connect is non-blocking: the task
    /// parks until the socket is writable, then reads the socket's error.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens, `TimedOut`, a resolution
    /// error, or [`NoRuntime`](gort_core::io::NoRuntime) outside a runtime.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |a| async move {
            let s = TcpStream::new(mio::net::TcpStream::connect(a)?)?;
            s.finish_connect().await?;
            Ok(s)
        })
        .await
    }

    pub(crate) fn new(io: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Evented::new(io, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Waits for a connect started in non-blocking mode to finish.
    pub(crate) async fn finish_connect(&self) -> io::Result<()> {
        loop {
            let ev = self.io.ready_event(Direction::Write).await?;
            if let Some(e) = self.io.get().take_error()? {
                return Err(e);
            }
            match self.io.get().peer_addr() {
                Ok(_) => return Ok(()),
                // A spurious wake-up: not connected yet.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    self.io.clear_readiness(ev);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a connected std stream (set non-blocking here), registering it
    /// with the current runtime.
    ///
    /// # Errors
    ///
    /// Outside a runtime, or the OS's error.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets `TCP_NODELAY` (Nagle's algorithm off). Go's default is on for
    /// every connection; gort leaves the OS default.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Sets `SO_LINGER` (Go's `SetLinger`). `Some(Duration::ZERO)` makes a
    /// drop reset the connection (the peer's read fails with
    /// `ConnectionReset`) instead of closing it gracefully.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.io.get()).set_linger(linger)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.io.get()).linger()
    }

    /// Turns TCP keep-alive on or off (Go's `SetKeepAlive`).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        SockRef::from(self.io.get()).set_keepalive(on)
    }

    /// Shuts down the reading, writing or both sides (Go's `CloseRead` /
    /// `CloseWrite`). After `Shutdown::Write` the peer reads EOF and this
    /// side can still read.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.check_open()?;
        self.io.get().shutdown(how)
    }

    /// Makes every task waiting on this stream, and every later operation,
    /// fail with [`Closed`](gort_core::io::Closed) (the effect of Go's
    /// `Close` on the other goroutines), and shuts the connection down in
    /// both directions so the peer sees EOF. The descriptor is released on
    /// drop. Idempotent.
    ///
    /// Not named `close`: that name belongs to `AsyncWriteExt::close`
    /// (shut down the writing side), which an inherent method would
    /// shadow.
    pub fn close_shared(&self) {
        if !self.io.is_closed() {
            // Mark closed first: a waiter woken by the shutdown's event
            // must see `Closed`, not the EOF the shutdown causes.
            self.io.close();
            let _ = self.io.get().shutdown(Shutdown::Both);
        }
    }

    /// Reads into `buf` without removing the data from the queue.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Read, || self.io.get().peek(buf))
            .await
    }

    /// Waits until the stream is readable (data, EOF or an error).
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the stream is writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Reads what is available now, or fails with `WouldBlock` (pair it with
    /// [`readable`](TcpStream::readable)).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, || self.io.get().read(buf))
    }

    /// Writes what fits now, or fails with `WouldBlock` (pair it with
    /// [`writable`](TcpStream::writable)).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.io.get().write(buf))
    }

    /// Borrows the stream as a reading and a writing half, usable from two
    /// tasks of one scope (or one `select!`) at once.
    ///
    /// With `futures::io::AsyncReadExt` in scope, `stream.split()` resolves
    /// to that trait's by-value `split` (lock-based halves) before this
    /// one: write `TcpStream::split(&mut stream)` or
    /// `(&mut stream).split()`.
    ///
    /// ```
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use gort_net::{TcpListener, TcpStream};
    ///
    /// # gort_core::Runtime::new().unwrap().block_on(async {
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let mut conn = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut peer, _) = listener.accept().await?;
    /// let (mut rd, mut wr) = TcpStream::split(&mut conn);
    /// let mut buf = [0u8; 2];
    /// let (w, r) = futures::join!(wr.write_all(b"hi"), async {
    ///     peer.read_exact(&mut buf).await?;
    ///     peer.write_all(&buf).await
    /// });
    /// w?; r?;
    /// rd.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"hi");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split(self)
    }

    /// Splits the stream into halves that own it together (through an
    /// `Arc`) and may move to different tasks. Dropping the writing half
    /// shuts down the writing side; [`OwnedReadHalf::reunite`] puts them
    /// back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            // futures::io contract: no wait for a zero-length buffer.
            return Poll::Ready(Ok(0));
        }
        self.io.poll_read(cx, buf.len(), || self.io.get().read(buf))
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_io(Direction::Write, cx, || self.io.get().write(buf))
    }

    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, || self.io.get().write_vectored(bufs))
    }

    pub(crate) fn shutdown_write_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(match self.shutdown(Shutdown::Write) {
            // The peer already reset it: nothing left to shut.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        })
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the writing side: the peer reads EOF.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write_priv()
    }
}

impl AsyncRead for &TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, buf)
    }
}

impl AsyncWrite for &TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write_priv()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
