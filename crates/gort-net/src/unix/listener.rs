//! `UnixListener`: accepting Unix-domain stream connections, with the same
//! exhaustion policy as TCP (`accept.rs`).

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use mio::Interest;

use crate::accept::{AcceptState, AcceptStats};
use crate::evented::Evented;
use crate::UnixStream;

/// A Unix-domain socket listening for connections.
///
/// The socket file is not removed on drop (as in std; Go removes it):
/// remove it yourself when done.
///
/// # Examples
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use gort_net::{UnixListener, UnixStream};
///
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let mut client = UnixStream::connect(&path).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"hi").await?;
/// let mut buf = [0u8; 2];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hi");
/// std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UnixListener {
    io: Evented<mio::net::UnixListener>,
    accept: AcceptState,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist) and listens.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists, or
    /// [`NoRuntime`](gort_core::io::NoRuntime) outside a runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::new(mio::net::UnixListener::bind(path)?)
    }

    fn new(l: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Evented::new(l, Interest::READABLE)?,
            accept: AcceptState::default(),
        })
    }

    /// Wraps a listening std listener (set non-blocking here).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::new(mio::net::UnixListener::from_std(listener))
    }

    /// Waits for the next connection. Out of descriptors or memory it
    /// backs off and retries instead of failing, exactly as
    /// [`TcpListener::accept`](crate::TcpListener::accept).
    ///
    /// # Errors
    ///
    /// [`Closed`](gort_core::io::Closed) after
    /// [`close`](UnixListener::close), or another OS error.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        self.accept
            .accept(
                "unix",
                &self.io,
                mio::net::UnixListener::accept,
                UnixStream::new,
            )
            .await
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Ends a parked [`accept`](UnixListener::accept), and every later one,
    /// with [`Closed`](gort_core::io::Closed). Idempotent.
    pub fn close(&self) {
        self.io.close();
    }

    /// Accept counters, for tests and diagnostics; not stable API.
    #[doc(hidden)]
    pub fn accept_stats(&self) -> AcceptStats {
        self.accept.stats()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
