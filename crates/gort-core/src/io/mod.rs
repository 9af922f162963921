//! I/O readiness for gort: the netpoller and the registration API that I/O
//! types (gort-net's sockets, or your own) build on.
//!
//! A task waiting for a socket holds no P and no M: it is parked on the
//! source's [`Registration`] until the netpoller sees an event for it. See
//! `poller.rs` for who polls and when, and `poll_desc.rs` for the
//! readiness protocol (edge-triggered; drain until `WouldBlock`, then clear
//! and wait, and no wake-up is lost in between).
//!
//! Two layers: `error.rs`, `poll_desc.rs` and `poller.rs` are below the
//! scheduler (which owns the `Poller`); this file's `Registration` and
//! `signal.rs` (Unix signals as poller hooks, under `gort::signal`) are
//! above it, reaching the runtime through `sched::Shared`.
//!
//! # Examples
//!
//! A non-blocking read through a registration (what `gort::net` does):
//!
//! ```no_run
//! use std::io::Read;
//! use gort_core::io::{Direction, Registration};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let mut stream = mio::net::TcpStream::connect("127.0.0.1:7".parse().unwrap())?;
//! let reg = Registration::new(&mut stream, mio::Interest::READABLE | mio::Interest::WRITABLE)?;
//! let mut buf = [0u8; 64];
//! let n = reg.async_io(Direction::Read, || (&stream).read(&mut buf)).await?;
//! # let _ = n; Ok(()) }
//! ```

mod error;
mod poll_desc;
#[cfg(not(loom))]
pub(crate) mod poller;
#[cfg(all(unix, not(loom)))]
pub mod signal;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use error::{Closed, NoRuntime, RuntimeShutdown};
pub use poll_desc::{Direction, ReadyEvent};

pub(crate) use poll_desc::PollDesc;

/// A `mio` source registered with a runtime's netpoller: the readiness of
/// that source, and the tasks waiting for it.
///
/// Dropping a registration forgets it (closing the source removes it from
/// the poll set; [`deregister`](Registration::deregister) does both
/// explicitly).
pub struct Registration {
    #[cfg(not(loom))]
    shared: Arc<crate::sched::Shared>,
    desc: Arc<PollDesc>,
}

impl Registration {
    /// Registers `source` with the current runtime's netpoller for
    /// `interest`.
    ///
    /// # Errors
    ///
    /// [`NoRuntime`] (as `io::ErrorKind::Other`) outside a gort runtime, or
    /// the OS's error registering the source.
    #[cfg(not(loom))]
    pub fn new(source: &mut impl mio::event::Source, interest: mio::Interest) -> io::Result<Self> {
        let handle =
            crate::sched::context::try_current().ok_or_else(|| io::Error::other(NoRuntime))?;
        Self::new_with(&handle, source, interest)
    }

    /// [`new`](Registration::new) with an explicit runtime.
    ///
    /// # Errors
    ///
    /// The OS's error registering the source, or [`RuntimeShutdown`].
    #[cfg(not(loom))]
    pub fn new_with(
        handle: &crate::sched::handle::Handle,
        source: &mut impl mio::event::Source,
        interest: mio::Interest,
    ) -> io::Result<Self> {
        let shared = handle.shared.clone();
        if shared.is_shutdown() {
            return Err(poll_desc::shutdown_error());
        }
        let desc = shared.poller.register(source, interest)?;
        // Some M must poll now that there is something to poll. A sleeping
        // M waiting on the timers' condition variable moves to the poller;
        // if none sleeps (every M parked on `midle` when there was neither
        // a timer nor a source), start one: it finds no work and goes to
        // sleep in the poller (`stop`, step 4). Without this, a `block_on`
        // future that is the only waiter on a socket would never wake.
        if !shared.kick_sleeping_m(false) {
            shared.wakep();
        }
        Ok(Registration { shared, desc })
    }

    /// Ready in `dir`, or registers the task's waker for it. Ready with an
    /// error once the runtime has shut down.
    pub fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.desc.poll_ready(dir, cx)
    }

    /// [`poll_ready`](Registration::poll_ready) as a future.
    pub async fn ready(&self, dir: Direction) -> io::Result<ReadyEvent> {
        poll_fn(|cx| self.poll_ready(dir, cx)).await
    }

    /// After an operation returned `WouldBlock`: forget `event`'s
    /// readiness, unless an event arrived since.
    pub fn clear_readiness(&self, event: ReadyEvent) {
        self.desc.clear_readiness(event);
    }

    /// Runs the non-blocking `op` once `dir` is ready, clearing readiness
    /// and waiting again each time it returns `WouldBlock` (the drain
    /// discipline of edge-triggered readiness).
    pub fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_drained(dir, cx, op, |_| false)
    }

    /// [`poll_io`](Registration::poll_io), also forgetting the readiness
    /// when `drained` says a successful `op` emptied the source (a stream
    /// read shorter than its buffer), so the next call waits for an event
    /// instead of making a syscall that would only return `WouldBlock`
    /// (tokio's `PollEvented::poll_read` does the same). An event that
    /// arrived after the readiness was observed has a newer tick and
    /// survives the clear, so no wake-up is lost.
    pub fn poll_io_drained<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let ev = match self.poll_ready(dir, cx) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(ev),
                Ok(v) if drained(&v) => {
                    self.clear_readiness(ev);
                    return Poll::Ready(Ok(v));
                }
                r => return Poll::Ready(r),
            }
        }
    }

    /// [`poll_io`](Registration::poll_io) as a future.
    pub async fn async_io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(dir, cx, &mut op)).await
    }

    /// Closes the registration for use (Go's `pollDesc.evict` on `Close`):
    /// every task waiting on it, and every later operation, gets a
    /// [`Closed`] error.
    pub fn close(&self) {
        self.desc.close();
    }

    /// Whether [`close`](Registration::close) was called.
    pub fn is_closed(&self) -> bool {
        self.desc.is_closed()
    }

    /// Removes `source` from the poll set and forgets the registration.
    ///
    /// # Errors
    ///
    /// The OS's error deregistering the source.
    #[cfg(not(loom))]
    pub fn deregister(self, source: &mut impl mio::event::Source) -> io::Result<()> {
        let r = self.shared.poller.deregister(source, &self.desc);
        // Drop runs `forget` again: a no-op for a released slot.
        r
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        #[cfg(not(loom))]
        self.shared.poller.forget(&self.desc);
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.desc.token)
            .finish()
    }
}
