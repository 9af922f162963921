//! Addresses: the [`ToSocketAddrs`] argument of `bind`/`connect`/`send_to`,
//! and [`lookup_host`], Go's `net.LookupHost` + port.
//!
//! # Resolution without blocking a P
//!
//! `std::net::ToSocketAddrs` calls `getaddrinfo`, which may block for
//! seconds on DNS. A task must not do that while holding a P, so a name is
//! resolved with `spawn_blocking` on the runtime's offload pool (as Go's
//! cgo resolver runs on a thread of its own); the waiting task parks on
//! the `JoinHandle` like any other. Outside a gort runtime (another
//! executor polling the future), a short-lived std thread does the lookup
//! and the result comes back through a `futures::channel::oneshot`. A
//! literal address (`"127.0.0.1:80"`, `"[::1]:80"`) or a `SocketAddr`
//! never leaves the task.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use futures::channel::oneshot;

/// Resolves `host_port` (`"example.com:80"`, `"127.0.0.1:8080"`,
/// `"[::1]:443"`) to socket addresses, without blocking the task's P.
///
/// # Errors
///
/// What `getaddrinfo` reports (no such host, no port), or the error of
/// starting the lookup thread.
///
/// # Examples
///
/// ```
/// # gort_core::Runtime::new().unwrap().block_on(async {
/// let addrs: Vec<_> = gort_net::lookup_host("localhost:80").await?.collect();
/// assert!(addrs.iter().all(|a| a.port() == 80 && a.ip().is_loopback()));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub async fn lookup_host(host_port: &str) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve_str(host_port).await.map(Vec::into_iter)
}

async fn resolve_str(host_port: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let name = host_port.to_owned();
    let lookup = move || std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect);
    if let Some(handle) = gort_core::Handle::try_current() {
        // A panic in getaddrinfo's caller comes back as the JoinError.
        return handle
            .spawn_blocking(lookup)
            .await
            .map_err(io::Error::other)?;
    }
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("gort-lookup".into())
        .spawn(move || {
            let _ = tx.send(lookup());
        })?;
    rx.await
        .unwrap_or_else(|_| Err(io::Error::other(LookupThreadPanicked)))
}

/// The error inside the `io::Error` of a lookup whose thread panicked
/// (outside a gort runtime; inside one, it is the task's `JoinError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupThreadPanicked;

impl std::fmt::Display for LookupThreadPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the lookup thread panicked")
    }
}

impl std::error::Error for LookupThreadPanicked {}

/// Where an address argument's socket addresses come from.
#[doc(hidden)]
#[derive(Debug)]
pub enum Plan {
    /// Known already.
    Addrs(Vec<SocketAddr>),
    /// A name to resolve (`host:port`).
    Lookup(String),
    /// A `(host, port)` pair whose host may be a name.
    HostPort(String, u16),
}

pub(crate) mod sealed {
    /// The hidden half of [`ToSocketAddrs`](super::ToSocketAddrs).
    #[doc(hidden)]
    pub trait ToSocketAddrsPriv {
        /// How to get the addresses.
        fn plan(&self) -> super::Plan;
    }
}

/// What `bind`, `connect` and `send_to` accept as an address: a
/// [`SocketAddr`] (or its parts), a `"host:port"` string, a
/// `(host, port)` pair, or a slice of addresses. Names are resolved with
/// [`lookup_host`], off the task's P.
///
/// Sealed: implemented for the types listed, like tokio's trait of the same
/// name (std's can't be used: its resolution blocks).
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

macro_rules! ready_addr {
    ($($t:ty),*) => {$(
        impl sealed::ToSocketAddrsPriv for $t {
            fn plan(&self) -> Plan {
                Plan::Addrs(vec![SocketAddr::from(*self)])
            }
        }
        impl ToSocketAddrs for $t {}
    )*};
}

ready_addr!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::ToSocketAddrsPriv for &[SocketAddr] {
    fn plan(&self) -> Plan {
        Plan::Addrs(self.to_vec())
    }
}
impl ToSocketAddrs for &[SocketAddr] {}

impl sealed::ToSocketAddrsPriv for str {
    fn plan(&self) -> Plan {
        Plan::Lookup(self.to_owned())
    }
}
impl ToSocketAddrs for str {}

impl sealed::ToSocketAddrsPriv for String {
    fn plan(&self) -> Plan {
        Plan::Lookup(self.clone())
    }
}
impl ToSocketAddrs for String {}

impl sealed::ToSocketAddrsPriv for (&str, u16) {
    fn plan(&self) -> Plan {
        Plan::HostPort(self.0.to_owned(), self.1)
    }
}
impl ToSocketAddrs for (&str, u16) {}

impl sealed::ToSocketAddrsPriv for (String, u16) {
    fn plan(&self) -> Plan {
        Plan::HostPort(self.0.clone(), self.1)
    }
}
impl ToSocketAddrs for (String, u16) {}

impl<T: ToSocketAddrs + ?Sized> sealed::ToSocketAddrsPriv for &T {
    fn plan(&self) -> Plan {
        (**self).plan()
    }
}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

/// Every socket address of `addr`, resolving names off the P.
pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.plan() {
        Plan::Addrs(v) => v,
        Plan::Lookup(s) => resolve_str(&s).await?,
        Plan::HostPort(host, port) => match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => resolve_str(&format!("{host}:{port}")).await?,
        },
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        ));
    }
    Ok(addrs)
}

/// Tries `f` on each address in turn (Go's dialer without the parallel
/// happy-eyeballs race): the first success, or the last error.
pub(crate) async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in resolve(addr).await? {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("resolve returns at least one address"))
}
