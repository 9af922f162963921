//! `UnixStream`: a Unix-domain stream connection on the netpoller, the
//! twin of [`TcpStream`](crate::TcpStream) (same readiness protocol, same
//! halves, same `close`).

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use gort_core::io::Direction;
use mio::Interest;

use crate::evented::Evented;
use crate::unix::split::{split, split_owned, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};

/// A Unix-domain stream connection. Implements [`AsyncRead`] and
/// [`AsyncWrite`] (`poll_close` shuts down the writing side), also for
/// `&UnixStream`.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let (mut a, mut b) = gort_net::UnixStream::pair()?;
/// a.write_all(b"ping").await?;
/// a.close().await?; // shutdown(Write): b reads EOF after the data
/// let mut got = Vec::new();
/// b.read_to_end(&mut got).await?;
/// assert_eq!(got, b"ping");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UnixStream {
    io: Evented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` or `ConnectionRefused` when nothing listens there, or
    /// [`NoRuntime`](gort_core::io::NoRuntime) outside a runtime.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let s = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        loop {
            let ev = s.io.ready_event(Direction::Write).await?;
            if let Some(e) = s.io.get().take_error()? {
                return Err(e);
            }
            match s.io.get().peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => s.io.clear_readiness(ev),
                Err(e) => return Err(e),
            }
        }
    }

    /// A connected pair of streams (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    pub(crate) fn new(io: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Evented::new(io, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Wraps a connected std stream (set non-blocking here).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Shuts down the reading, writing or both sides.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.check_open()?;
        self.io.get().shutdown(how)
    }

    /// Ends every wait on this stream, and every later operation, with
    /// [`Closed`](gort_core::io::Closed), and shuts the connection down so
    /// the peer sees EOF; the descriptor is released on drop. Idempotent.
    /// (Not `close`, which would shadow `AsyncWriteExt::close`.)
    pub fn close_shared(&self) {
        if !self.io.is_closed() {
            // Mark closed first: a waiter woken by the shutdown's event
            // must see `Closed`, not the EOF the shutdown causes.
            self.io.close();
            let _ = self.io.get().shutdown(Shutdown::Both);
        }
    }

    /// Waits until the stream is readable.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until the stream is writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// Reads what is available now, or fails with `WouldBlock`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, || self.io.get().read(buf))
    }

    /// Writes what fits now, or fails with `WouldBlock`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.io.get().write(buf))
    }

    /// Borrows the stream as a reading and a writing half. With
    /// `futures::io::AsyncReadExt` in scope, call it as
    /// `UnixStream::split(&mut stream)` (see [`TcpStream::split`](crate::TcpStream::split)).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split(self)
    }

    /// Splits the stream into halves sharing it through an `Arc`.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
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
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        })
    }
}

macro_rules! async_io_impls {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }
        }

        impl AsyncWrite for $t {
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
    };
}

async_io_impls!(UnixStream);
async_io_impls!(&UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
