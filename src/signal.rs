//! Go's `os/signal` (Unix): signals delivered to channels and contexts,
//! through the netpoller, with no thread spent waiting for them.
//!
//! | Go | gort |
//! |----|------|
//! | `signal.Notify(c, os.Interrupt)` | [`notify(&[Signal::Interrupt])`](notify) returns the channel |
//! | `signal.Stop(c)` | drop every clone of the [`Receiver`] (or `close` it) |
//! | `signal.NotifyContext(ctx, sigs...)` | [`notify_context`] |
//! | `os.Interrupt`, `syscall.SIGTERM`... | [`Signal`] |
//! | tokio's `signal::ctrl_c()` | [`ctrl_c`] |
//!
//! As Go's documentation advises for `signal.Notify`, each [`notify`]
//! channel has capacity 1, and a signal that finds it full is dropped:
//! delivery never blocks the handler or the netpoller. Every `notify` call
//! that asked for a signal gets it. Signals are process-wide; a
//! subscription is watched by the netpoller of the runtime it was made in,
//! and ends when that runtime shuts down (its channel closes).
//!
//! Dropping every receiver of a signal restores its default action, as
//! `signal.Stop` does: the drop is noticed when the next such signal
//! arrives, which then gets the default action (a SIGUSR1 after the last
//! receiver is gone terminates the process). Under `#[gort::main]`, a
//! SIGQUIT that nobody asked for prints `SIGQUIT: quit` and
//! [`runtime::dump`](crate::runtime::dump) to stderr and exits with status
//! 2, as Go does. The design, and how several runtimes share signals:
//! `gort_core::io::signal`; the differences from Go: `docs/semantics.md`.
//!
//! # Examples
//!
//! ```
//! use gort::signal::{self, Signal};
//!
//! #[gort::main]
//! async fn main() -> std::io::Result<()> {
//!     let sigs = signal::notify(&[Signal::User1])?;
//!     // Another process would `kill -USR1` us; here we do it ourselves.
//!     signal_hook::low_level::raise(Signal::User1.as_raw())?;
//!     assert_eq!(sigs.recv().await, Some(Signal::User1));
//!     Ok(())
//! }
//! ```
//!
//! A server that stops on Ctrl-C or SIGTERM:
//!
//! ```no_run
//! use gort::context;
//! use gort::signal::{self, Signal};
//!
//! #[gort::main]
//! async fn main() -> std::io::Result<()> {
//!     let (ctx, stop) =
//!         signal::notify_context(&context::background(), &[Signal::Interrupt, Signal::Terminate])?;
//!     ctx.done().await; // serve until then
//!     stop.cancel(); // a second Ctrl-C now kills the process
//!     Ok(())
//! }
//! ```

use std::future::Future;
use std::io;

pub use gort_core::io::signal::Signal;
use gort_core::io::signal::{subscribe, Delivery};
use gort_core::io::RuntimeShutdown;
use gort_sync::context::{self, CancelFunc, Context};
use gort_sync::{chan, Receiver, TrySendError};

/// Relays `signals` (all of [`Signal::ALL`] if empty, as Go's
/// `signal.Notify(c)` with no signals) to a new channel of capacity 1 (Go's
/// `signal.Notify`). A signal that finds the channel full is dropped.
///
/// The subscription lasts until every receiver is dropped or closed (Go's
/// `signal.Stop`), or the runtime shuts down (the channel then closes).
///
/// # Errors
///
/// Outside a gort runtime (`gort::io::NoRuntime`, as
/// `io::ErrorKind::Other`), after it shut down, or if the OS refuses the
/// handler.
///
/// # Examples
///
/// ```
/// use gort::signal::{notify, Signal};
///
/// #[gort::main]
/// async fn main() {
///     let a = notify(&[Signal::User2]).unwrap();
///     let b = notify(&[Signal::User2]).unwrap();
///     signal_hook::low_level::raise(Signal::User2.as_raw()).unwrap();
///     // Every channel that asked gets it.
///     assert_eq!(a.recv().await, Some(Signal::User2));
///     assert_eq!(b.recv().await, Some(Signal::User2));
/// }
/// ```
pub fn notify(signals: &[Signal]) -> io::Result<Receiver<Signal>> {
    let (tx, rx) = chan(1);
    subscribe(signals, move |sig| match tx.try_send(sig) {
        Ok(()) => Delivery::Delivered,
        Err(TrySendError::Full(_)) => Delivery::Dropped,
        Err(TrySendError::Closed(_)) => Delivery::Gone,
    })?;
    Ok(rx)
}

/// A child of `parent` that is cancelled when one of `signals` arrives (Go's
/// `signal.NotifyContext`), and its stop function.
///
/// The context is done when a signal arrives, when `stop` is called, or when
/// `parent` is done. Calling `stop` (or `parent` being done) ends the
/// subscription, so that the next such signal gets its default action: call
/// it once the first signal has been seen, and a second Ctrl-C kills the
/// program, as in Go.
///
/// # Errors
///
/// As [`notify`].
///
/// # Examples
///
/// ```
/// use gort::context;
/// use gort::signal::{notify_context, Signal};
///
/// #[gort::main]
/// async fn main() {
///     let (ctx, stop) = notify_context(&context::background(), &[Signal::Hangup]).unwrap();
///     signal_hook::low_level::raise(Signal::Hangup.as_raw()).unwrap();
///     ctx.done().await;
///     assert_eq!(ctx.err(), Some(context::Error::Canceled));
///     stop.cancel();
/// }
/// ```
pub fn notify_context(parent: &Context, signals: &[Signal]) -> io::Result<(Context, CancelFunc)> {
    // Two nodes: `stop` cancels the outer one (and with it the inner),
    // a signal only the inner one, so the subscription can tell "a signal
    // came" (it goes on catching the signal) from "stop was called".
    let (outer, stop) = context::with_cancel(parent);
    let (ctx, fire) = context::with_cancel(&outer);
    subscribe(signals, move |_| {
        if outer.is_done() {
            return Delivery::Gone;
        }
        fire.cancel();
        Delivery::Delivered
    })?;
    Ok((ctx, stop))
}

/// Resolves at the next SIGINT (Ctrl-C). The handler is installed when
/// `ctrl_c` is called, not when the future is first polled, so a Ctrl-C
/// between the two is not lost (and does not kill the process).
///
/// # Errors
///
/// As [`notify`]; and `RuntimeShutdown` if the runtime shuts down first.
///
/// # Examples
///
/// ```no_run
/// #[gort::main]
/// async fn main() -> std::io::Result<()> {
///     gort::signal::ctrl_c().await?;
///     println!("interrupted, bye");
///     Ok(())
/// }
/// ```
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let sigs = notify(&[Signal::Interrupt]);
    async move {
        match sigs?.recv().await {
            Some(_) => Ok(()),
            None => Err(io::Error::other(RuntimeShutdown)),
        }
    }
}
