//! gort-net: Go's `net` package on gort's netpoller. Re-exported by the
//! `gort` facade as `gort::net`.
//!
//! TCP ([`TcpListener`], [`TcpStream`], [`TcpSocket`]), UDP
//! ([`UdpSocket`]), Unix-domain sockets ([`UnixListener`], [`UnixStream`],
//! [`UnixDatagram`]) and name resolution ([`lookup_host`]).
//!
//! # How it works
//!
//! Every socket is a non-blocking descriptor registered with the runtime's
//! netpoller (`gort_core::io::Registration`). An operation tries the
//! syscall; on `WouldBlock` the task parks on the registration and holds
//! no P and no M until the netpoller (an idle M in `epoll_wait`, like Go's
//! `findRunnable` → `netpoll`) sees the socket ready. Readiness is
//! edge-triggered: a task clears it only after a `WouldBlock`, and an
//! event arriving in between is never lost (see `poll_desc.rs` in
//! gort-core).
//!
//! Sockets must be created inside a gort runtime; outside one they fail
//! with [`NoRuntime`](gort_core::io::NoRuntime). Streams implement
//! `futures::io::{AsyncRead, AsyncWrite}`; `poll_close` shuts down the
//! writing side.
//!
//! # Deadlines (Go's `SetDeadline`)
//!
//! A deadline wraps an operation instead of being a property of the
//! socket: [`gort_core::time::timeout`] (or a context's `done()` in a
//! `gort::select!`, shown in the `gort::net` docs of the facade). A read
//! that times out is dropped and takes no data, like a Go read that
//! returns `os.ErrDeadlineExceeded`.
//!
//! ```
//! use std::time::Duration;
//! use futures::io::AsyncReadExt;
//! use gort_core::time::timeout;
//!
//! # gort_core::Runtime::new().unwrap().block_on(async {
//! let listener = gort_net::TcpListener::bind("127.0.0.1:0").await?;
//! let mut conn = gort_net::TcpStream::connect(listener.local_addr()?).await?;
//! let mut buf = [0u8; 16];
//! // Nobody writes: the read gives up after 20 ms.
//! let r = timeout(Duration::from_millis(20), conn.read(&mut buf)).await;
//! assert!(r.is_err());
//! # std::io::Result::Ok(()) }).unwrap();
//! ```
//!
//! # Closing a socket other tasks use
//!
//! Go's `Close` while another goroutine is blocked in `Read` or `Accept`
//! makes that call fail with `net.ErrClosed`. Here a socket closes when
//! its last owner drops it; to end other tasks' waits first, call
//! [`TcpListener::close`], [`UdpSocket::close`], or on streams and their
//! owned halves [`TcpStream::close_shared`] (not `close`, which would
//! shadow `AsyncWriteExt::close`): waiters wake
//! with an `io::Error` whose inner error is
//! [`Closed`](gort_core::io::Closed).
//!
//! # Differences from Go
//!
//! - No per-socket deadlines (above). No parallel "happy eyeballs" dial:
//!   the addresses of a name are tried one after another.
//! - An `accept` that runs out of descriptors backs off and retries
//!   instead of returning the error (Go's `http.Server` does this; its
//!   `net.Listener` returns the error): see [`TcpListener::accept`].
//! - Name lookups run `getaddrinfo` on an offload thread; Go also has a
//!   pure-Go resolver.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
// No unsafe code, except in the `hyper` feature's module: filling hyper's
// uninitialised read buffer needs two `unsafe` calls (see hyper.rs). With
// the feature off the crate forbids unsafe outright.
#![cfg_attr(not(feature = "hyper"), forbid(unsafe_code))]
#![cfg_attr(feature = "hyper", deny(unsafe_code))]

mod accept;
mod addr;
mod evented;
#[cfg(feature = "hyper")]
#[allow(unsafe_code)]
pub mod hyper;
#[macro_use]
mod stream_io;
mod split;
mod sys;
pub mod tcp;
mod udp;
pub mod unix;

#[doc(hidden)]
pub use accept::AcceptStats;
pub use addr::{lookup_host, LookupThreadPanicked, ToSocketAddrs};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
