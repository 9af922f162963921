//! `UdpSocket`: UDP on the netpoller (Go's `net.UDPConn`).
//!
//! Every method takes `&self`: put the socket in an `Arc` and several
//! tasks may send and receive on it at once, each parked on the
//! registration's waiter list for its direction. A datagram wakes every
//! parked receiver; one gets it, the others find `WouldBlock` and park
//! again. [`close`](UdpSocket::close) ends all their waits with
//! [`Closed`](gort_core::io::Closed), Go's `Close` while another goroutine
//! reads.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use gort_core::io::Direction;
use mio::Interest;

use crate::addr::{each_addr, resolve, ToSocketAddrs};
use crate::evented::Evented;

/// A UDP socket.
///
/// # Examples
///
/// ```
/// use gort_net::UdpSocket;
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UdpSocket {
    io: Evented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each of its addresses in turn.
    ///
    /// # Errors
    ///
    /// `AddrInUse`, a resolution error, or
    /// [`NoRuntime`](gort_core::io::NoRuntime) outside a runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |a| async move {
            UdpSocket::new(mio::net::UdpSocket::bind(a)?)
        })
        .await
    }

    fn new(s: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Evented::new(s, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// Wraps a bound std socket (set non-blocking here), registering it
    /// with the current runtime.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// Sets the default peer: [`send`](UdpSocket::send) goes there and
    /// [`recv`](UdpSocket::recv) takes only its datagrams. The first of
    /// `addr`'s addresses that works is used.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.io.check_open()?;
        each_addr(addr, |a| async move { self.io.get().connect(a) }).await
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Write, || self.io.get().send(buf))
            .await
    }

    /// Receives one datagram from the connected peer; the part that does
    /// not fit in `buf` is lost.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .async_io(Direction::Read, || self.io.get().recv(buf))
            .await
    }

    /// Sends `buf` to `target` (its first address).
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(target).await?[0];
        self.io
            .async_io(Direction::Write, || self.io.get().send_to(buf, target))
            .await
    }

    /// Receives one datagram and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, || self.io.get().recv_from(buf))
            .await
    }

    /// Like [`recv_from`](UdpSocket::recv_from), leaving the datagram
    /// queued.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, || self.io.get().peek_from(buf))
            .await
    }

    /// Sends now, or fails with `WouldBlock`.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.io.get().send_to(buf, target))
    }

    /// Receives a queued datagram now, or fails with `WouldBlock`.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Direction::Read, || self.io.get().recv_from(buf))
    }

    /// Waits until a datagram is queued.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await
    }

    /// Waits until a send would not block.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address (`NotConnected` before
    /// [`connect`](UdpSocket::connect)).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Ends every task's wait on this socket, and every later operation,
    /// with [`Closed`](gort_core::io::Closed) (Go's `Close` as other
    /// goroutines see it). The descriptor is released on drop. Idempotent.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gort_core::io::Closed;
    ///
    /// # gort_core::Runtime::new().unwrap().block_on(async {
    /// let sock = Arc::new(gort_net::UdpSocket::bind("127.0.0.1:0").await?);
    /// let reader = gort_core::spawn({
    ///     let sock = sock.clone();
    ///     async move { sock.recv_from(&mut [0u8; 8]).await }
    /// });
    /// sock.close();
    /// let err = reader.await.unwrap().unwrap_err();
    /// assert!(err.get_ref().is_some_and(|e| e.is::<Closed>()));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn close(&self) {
        self.io.close();
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get().set_broadcast(on)
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get().broadcast()
    }

    /// The IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Joins an IPv4 multicast group on `interface` (`UNSPECIFIED`: the
    /// OS's choice).
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get().join_multicast_v4(&group, &interface)
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get().leave_multicast_v4(&group, &interface)
    }

    /// Joins an IPv6 multicast group on interface index `interface`.
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get().join_multicast_v6(&group, interface)
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get().leave_multicast_v6(&group, interface)
    }

    /// Whether multicast sent from here loops back to this host (IPv4).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get().set_multicast_loop_v4(on)
    }

    /// The TTL of IPv4 multicast sent from here.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_multicast_ttl_v4(ttl)
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
