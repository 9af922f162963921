//! `Evented<S>`: a non-blocking mio source together with its netpoller
//! [`Registration`], the one building block every socket type here wraps.
//!
//! # Contract
//!
//! - Every operation that may block runs through [`Registration::poll_io`]:
//!   the non-blocking syscall is tried once the direction is ready; on
//!   `WouldBlock` the readiness is cleared (edge-triggered) and the task
//!   parks, holding no P and no M, until the netpoller sees an event.
//! - `try_io` never parks. It runs the syscall only if the direction looks
//!   ready and clears that readiness on `WouldBlock`, so a
//!   `readable().await` / `try_read` loop cannot spin on stale readiness.
//! - [`close`](Evented::close) is Go's `Close` seen by the *other*
//!   goroutines: every waiter, and every later operation, fails with
//!   [`Closed`]. The descriptor itself is released when the `Evented` is
//!   dropped: first deregistered from the poll set, then closed.

use std::fmt;
use std::io;
use std::task::{Context, Poll};

use futures::task::noop_waker_ref;
use gort_core::io::{Closed, Direction, Registration};
use mio::event::Source;
use mio::Interest;

pub(crate) struct Evented<S: Source> {
    io: S,
    /// `Some` until `Drop` takes it to deregister.
    reg: Option<Registration>,
}

impl<S: Source> Evented<S> {
    /// Registers `io` with the current runtime's netpoller.
    pub(crate) fn new(mut io: S, interest: Interest) -> io::Result<Self> {
        let reg = Registration::new(&mut io, interest)?;
        Ok(Evented { io, reg: Some(reg) })
    }

    pub(crate) fn get(&self) -> &S {
        &self.io
    }

    fn reg(&self) -> &Registration {
        self.reg.as_ref().expect("registration taken only by drop")
    }

    /// Runs `op` once `dir` is ready, parking on `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.reg().poll_io(dir, cx, op)
    }

    /// A stream read: [`poll_io`](Evented::poll_io) for `read`, which
    /// also forgets the read readiness after a short read (`0 < n <
    /// buf_len`): with edge-triggered readiness that read drained the
    /// socket (`Registration::poll_io_drained`). EOF (`n == 0`) keeps the
    /// readiness: every later read returns EOF at once.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf_len: usize,
        read: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.reg()
            .poll_io_drained(Direction::Read, cx, read, |&n| n > 0 && n < buf_len)
    }

    /// [`poll_io`](Evented::poll_io) as a future.
    pub(crate) async fn async_io<R>(
        &self,
        dir: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.reg().async_io(dir, op).await
    }

    /// Waits until `dir` is ready (or closed, or errored).
    pub(crate) async fn ready(&self, dir: Direction) -> io::Result<()> {
        self.reg().ready(dir).await.map(|_| ())
    }

    /// Waits for `dir` and hands back the event, for callers that check
    /// a condition themselves and clear readiness when it does not hold.
    pub(crate) async fn ready_event(
        &self,
        dir: Direction,
    ) -> io::Result<gort_core::io::ReadyEvent> {
        self.reg().ready(dir).await
    }

    pub(crate) fn clear_readiness(&self, ev: gort_core::io::ReadyEvent) {
        self.reg().clear_readiness(ev);
    }

    /// Runs `op` now if `dir` looks ready; `WouldBlock` otherwise. Never
    /// parks the task (see the module doc).
    pub(crate) fn try_io<R>(
        &self,
        dir: Direction,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        // A no-op waker: the readiness check must not leave a real task
        // registered. It is deduplicated by `will_wake`, so repeated
        // `try_*` calls keep at most one entry in the waiter list.
        let mut cx = Context::from_waker(noop_waker_ref());
        match self.reg().poll_ready(dir, &mut cx) {
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Ready(Ok(ev)) => match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg().clear_readiness(ev);
                    Err(e)
                }
                r => r,
            },
        }
    }

    /// Fails with [`Closed`] once [`close`](Evented::close) was called: for
    /// operations that do not go through readiness (option setters).
    pub(crate) fn check_open(&self) -> io::Result<()> {
        if self.reg().is_closed() {
            Err(closed_error())
        } else {
            Ok(())
        }
    }

    /// Wakes every waiter with [`Closed`]; later operations fail the same
    /// way. Idempotent. The descriptor stays open until drop.
    pub(crate) fn close(&self) {
        self.reg().close();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.reg().is_closed()
    }
}

/// The `io::Error` of an operation on a closed socket (Go's
/// `net.ErrClosed`): kind `Other`, inner error [`Closed`].
pub(crate) fn closed_error() -> io::Error {
    io::Error::other(Closed)
}

impl<S: Source> Drop for Evented<S> {
    fn drop(&mut self) {
        if let Some(reg) = self.reg.take() {
            // Waiters sharing this source through an `Arc` cannot exist
            // (we are its last owner), so only the poll set needs cleaning.
            if let Err(e) = reg.deregister(&mut self.io) {
                tracing::debug!(error = %e, "gort-net: deregister failed");
            }
        }
        // `self.io` drops after this: the descriptor closes.
    }
}

impl<S: Source + fmt::Debug> fmt::Debug for Evented<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}
