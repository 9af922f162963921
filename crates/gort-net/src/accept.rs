//! The accept loop shared by [`TcpListener`](crate::TcpListener) and
//! [`UnixListener`](crate::UnixListener): what to do when `accept(2)` fails.
//!
//! # Policy
//!
//! 1. `WouldBlock`: park on the listener's readiness (the netpoller).
//! 2. `ECONNABORTED` / `EINTR`: the pending connection died before we took
//!    it, or a signal arrived: retry at once, silently.
//! 3. Descriptor or memory exhaustion (`EMFILE`, `ENFILE`, `ENOBUFS`,
//!    `ENOMEM`): the connection stays in the kernel's backlog; retrying at
//!    once would fail again and spin. Sleep instead, 5 ms doubling to 1 s
//!    (the `tempDelay` of Go's `http.Server.Serve`), log a warning once per
//!    streak, and retry. The error is *not* returned: a server keeps
//!    serving its open connections and resumes accepting once descriptors
//!    free up. The backoff restarts at 5 ms after a successful accept.
//! 4. Anything else (the listener was closed, the runtime shut down):
//!    returned to the caller.
//!
//! The sleep is readiness-independent: the listener stays readable while
//! the backlog is non-empty, so no event would come to wake us.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use gort_core::io::Direction;

use crate::evented::Evented;
use crate::sys;

const FIRST_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Per-listener accept counters (diagnostics and tests).
#[derive(Debug, Default)]
pub(crate) struct AcceptState {
    attempts: AtomicU64,
    exhausted: AtomicU64,
    /// Whether the current exhaustion streak was logged.
    logged: AtomicBool,
}

/// A snapshot of a listener's accept counters. Not part of the stable API:
/// for tests and diagnostics.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptStats {
    /// `accept(2)` calls made, failed ones included.
    pub attempts: u64,
    /// Of those, the ones that failed for lack of descriptors or memory
    /// (each followed by a backoff sleep).
    pub exhausted: u64,
}

impl AcceptState {
    pub(crate) fn stats(&self) -> AcceptStats {
        AcceptStats {
            attempts: self.attempts.load(Relaxed),
            exhausted: self.exhausted.load(Relaxed),
        }
    }

    /// Accepts on `io` until a connection comes or the call fails for a
    /// reason the caller must see: `syscall` is one non-blocking `accept(2)`
    /// (retried through the netpoller on `WouldBlock`), `wrap` registers the
    /// new connection.
    pub(crate) async fn accept<L, S, A, T>(
        &self,
        kind: &'static str,
        io: &Evented<L>,
        syscall: impl Fn(&L) -> io::Result<(S, A)>,
        wrap: impl Fn(S) -> io::Result<T>,
    ) -> io::Result<(T, A)>
    where
        L: mio::event::Source,
    {
        let mut delay = Duration::ZERO;
        loop {
            let r = io
                .async_io(Direction::Read, || {
                    self.attempts.fetch_add(1, Relaxed);
                    syscall(io.get())
                })
                .await
                .and_then(|(s, peer)| Ok((wrap(s)?, peer)));
            match r {
                Ok(v) => {
                    if self.logged.swap(false, Relaxed) {
                        tracing::info!(listener = kind, "accept: descriptors available again");
                    }
                    return Ok(v);
                }
                Err(e) if sys::is_accept_retry(&e) => continue,
                Err(e) if sys::is_resource_exhaustion(&e) => {
                    self.exhausted.fetch_add(1, Relaxed);
                    delay = if delay.is_zero() {
                        FIRST_DELAY
                    } else {
                        (delay * 2).min(MAX_DELAY)
                    };
                    if !self.logged.swap(true, Relaxed) {
                        tracing::warn!(
                            listener = kind,
                            error = %e,
                            "accept: out of resources; backing off and retrying"
                        );
                    } else {
                        tracing::debug!(listener = kind, error = %e, ?delay, "accept: backing off");
                    }
                    gort_core::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
