//! `TcpSocket`: a TCP socket not yet bound or connected, for the options
//! that must be set before (reuse address and port, backlog, buffer sizes,
//! keep-alive, no-delay). Built on socket2; a by-value builder so that a
//! chain of `?` reads top to bottom:
//!
//! ```
//! # gort_core::Runtime::new().unwrap().block_on(async {
//! let listener = gort_net::TcpSocket::new_v4()?
//!     .set_reuseaddr(true)?
//!     .bind("127.0.0.1:0".parse().unwrap())?
//!     .listen(1024)?;
//! let conn = gort_net::TcpSocket::new_v4()?
//!     .set_nodelay(true)?
//!     .connect(listener.local_addr()?)
//!     .await?;
//! assert!(conn.nodelay()?);
//! # std::io::Result::Ok(()) }).unwrap();
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::{sys, TcpListener, TcpStream};

/// A TCP socket before `listen` or `connect`: set options, then turn it
/// into a [`TcpListener`] or a [`TcpStream`].
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A new TCP socket of `addr`'s family.
    pub fn new_for_addr(addr: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(addr))
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        // socket2 sets close-on-exec.
        let inner = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        inner.set_nonblocking(true)?;
        Ok(TcpSocket { inner })
    }

    /// `SO_REUSEADDR`: bind a port with connections still in `TIME_WAIT`.
    pub fn set_reuseaddr(self, on: bool) -> io::Result<TcpSocket> {
        self.inner.set_reuse_address(on)?;
        Ok(self)
    }

    /// `SO_REUSEPORT`: several listeners share one port, the kernel spreads
    /// connections among them.
    pub fn set_reuseport(self, on: bool) -> io::Result<TcpSocket> {
        self.inner.set_reuse_port(on)?;
        Ok(self)
    }

    /// `SO_KEEPALIVE`.
    pub fn set_keepalive(self, on: bool) -> io::Result<TcpSocket> {
        self.inner.set_keepalive(on)?;
        Ok(self)
    }

    /// `SO_SNDBUF`, in bytes (the kernel may double or clamp it).
    pub fn set_send_buffer_size(self, size: u32) -> io::Result<TcpSocket> {
        self.inner.set_send_buffer_size(size as usize)?;
        Ok(self)
    }

    /// `SO_RCVBUF`, in bytes (the kernel may double or clamp it).
    pub fn set_recv_buffer_size(self, size: u32) -> io::Result<TcpSocket> {
        self.inner.set_recv_buffer_size(size as usize)?;
        Ok(self)
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(self, on: bool) -> io::Result<TcpSocket> {
        self.inner.set_nodelay(on)?;
        Ok(self)
    }

    /// `SO_LINGER`.
    pub fn set_linger(self, linger: Option<Duration>) -> io::Result<TcpSocket> {
        self.inner.set_linger(linger)?;
        Ok(self)
    }

    /// `SO_REUSEADDR`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// `SO_SNDBUF` as the kernel set it.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(|n| n as u32)
    }

    /// `SO_RCVBUF` as the kernel set it.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(|n| n as u32)
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an inet socket"))
    }

    /// Binds to `addr` (an address, not a name: resolve with
    /// [`lookup_host`](crate::lookup_host) first).
    pub fn bind(self, addr: SocketAddr) -> io::Result<TcpSocket> {
        self.inner.bind(&SockAddr::from(addr))?;
        Ok(self)
    }

    /// Listens with a queue of `backlog` pending connections; registers
    /// the listener with the current runtime.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner.listen(backlog.min(i32::MAX as u32) as i32)?;
        TcpListener::from_std(self.inner.into())
    }

    /// Connects to `addr`, parking until the connection is established.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, or
    /// [`NoRuntime`](gort_core::io::NoRuntime) outside a runtime.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.inner.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if sys::is_in_progress(&e) => {}
            Err(e) => return Err(e),
        }
        let std: std::net::TcpStream = self.inner.into();
        let stream = TcpStream::new(mio::net::TcpStream::from_std(std))?;
        stream.finish_connect().await?;
        Ok(stream)
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
