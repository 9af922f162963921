//! `UnixDatagram`: Unix-domain datagrams on the netpoller, the twin of
//! [`UdpSocket`](crate::UdpSocket) (methods on `&self`, several waiters,
//! `close`).

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use gort_core::io::Direction;
use mio::Interest;

use crate::evented::Evented;

/// A Unix-domain datagram socket.
///
/// # Examples
///
/// ```
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let (a, b) = gort_net::UnixDatagram::pair()?;
/// a.send(b"one").await?;
/// let mut buf = [0u8; 8];
/// assert_eq!(b.recv(&mut buf).await?, 3);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UnixDatagram {
    io: Evented<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to the socket file `path` (which must not exist).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no path: it can send, and receive replies only
    /// once connected (or through [`pair`](UnixDatagram::pair)).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::new(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::new(a)?, UnixDatagram::new(b)?))
    }

    fn new(s: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Evented::new(s, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Wraps a std socket (set non-blocking here).
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::new(mio::net::UnixDatagram::from_std(socket))
    }

    /// Sets the default peer for [`send`](UnixDatagram::send) and
    /// [`recv`](UnixDatagram::recv).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.check_open()?;
        self.io.get().connect(path)
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Write, || self.io.get().send(buf))
            .await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Read, || self.io.get().recv(buf))
            .await
    }

    /// Sends `buf` to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .async_io(Direction::Write, || self.io.get().send_to(buf, path))
            .await
    }

    /// Receives one datagram and its sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, || self.io.get().recv_from(buf))
            .await
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Ends every wait on this socket, and every later operation, with
    /// [`Closed`](gort_core::io::Closed). Idempotent.
    pub fn close(&self) {
        self.io.close();
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
