//! `TcpListener`: accepting TCP connections on the netpoller (Go's
//! `net.TCPListener`), with the descriptor-exhaustion policy of
//! `accept.rs`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use mio::Interest;

use crate::accept::{AcceptState, AcceptStats};
use crate::addr::{each_addr, ToSocketAddrs};
use crate::evented::Evented;
use crate::TcpStream;

/// A TCP socket listening for connections.
///
/// Bind with [`bind`](TcpListener::bind) (`SO_REUSEADDR` set, default
/// backlog), or with [`TcpSocket`](crate::TcpSocket) for other options.
///
/// # Examples
///
/// A server that stops when told, the way Go's `ln.Close()` ends an
/// `Accept` loop:
///
/// ```
/// use std::sync::Arc;
/// use futures::io::AsyncReadExt;
/// use gort_net::{TcpListener, TcpStream};
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await?);
/// let addr = listener.local_addr()?;
/// let server = gort_core::spawn({
///     let listener = listener.clone();
///     async move {
///         let mut served = 0;
///         while let Ok((conn, _peer)) = listener.accept().await {
///             drop(conn);
///             served += 1;
///         }
///         served
///     }
/// });
/// for _ in 0..2 {
///     let mut conn = TcpStream::connect(addr).await?;
///     // EOF: the server accepted and dropped it.
///     assert_eq!(conn.read(&mut [0u8; 1]).await?, 0);
/// }
/// listener.close(); // the parked accept wakes with `Closed`
/// assert_eq!(server.await.unwrap(), 2);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpListener {
    io: Evented<mio::net::TcpListener>,
    accept: AcceptState,
}

impl TcpListener {
    /// Binds to `addr` (a `SocketAddr`, `"host:port"`, ...), trying each of
    /// its addresses in turn. Port 0 picks a free port: see
    /// [`local_addr`](TcpListener::local_addr).
    ///
    /// # Errors
    ///
    /// `AddrInUse`, a resolution error, or
    /// [`NoRuntime`](gort_core::io::NoRuntime) outside a runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| async move {
            TcpListener::new(mio::net::TcpListener::bind(a)?)
        })
        .await
    }

    pub(crate) fn new(l: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Evented::new(l, Interest::READABLE)?,
            accept: AcceptState::default(),
        })
    }

    /// Wraps a bound, listening std listener (set non-blocking here),
    /// registering it with the current runtime.
    ///
    /// # Errors
    ///
    /// Outside a runtime, or the OS's error.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    /// Waits for the next connection, parking without a P while none is
    /// pending.
    ///
    /// Out of descriptors (`EMFILE`, `ENFILE`) or memory (`ENOBUFS`,
    /// `ENOMEM`), it does **not** fail: it logs a warning once through
    /// `tracing`, sleeps (5 ms doubling to 1 s, like Go's `http.Server`)
    /// and tries again, so a server rides out a descriptor shortage and
    /// resumes once connections close. An aborted connection
    /// (`ECONNABORTED`) is skipped silently.
    ///
    /// # Errors
    ///
    /// [`Closed`](gort_core::io::Closed) once [`close`](TcpListener::close)
    /// was called, `RuntimeShutdown`, or another OS error.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped `accept` takes no connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept
            .accept(
                "tcp",
                &self.io,
                mio::net::TcpListener::accept,
                TcpStream::new,
            )
            .await
    }

    /// The bound address (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets the IP time-to-live of accepted connections.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Stops the listener for its users (Go's `ln.Close()` seen from the
    /// `Accept` loop): a parked [`accept`](TcpListener::accept) and every
    /// later one fail with [`Closed`](gort_core::io::Closed). The socket
    /// itself is closed when the listener is dropped. Idempotent.
    pub fn close(&self) {
        self.io.close();
    }

    /// Accept counters, for tests and diagnostics; not stable API.
    #[doc(hidden)]
    pub fn accept_stats(&self) -> AcceptStats {
        self.accept.stats()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
