//! Go's channels: `make(chan T, cap)` as [`chan`].
//!
//! A channel is an [`hchan`](self) behind one mutex, as in Go: a ring buffer
//! of `cap` values (none for an unbuffered channel), a queue of waiting
//! receivers and one of waiting senders (Go's `sudog`s, see `waiter.rs`),
//! and a closed flag. A send hands its value straight to a waiting receiver
//! if there is one, else buffers it, else waits; a receive takes from the
//! buffer (pulling a waiting sender's value in behind), else straight from a
//! waiting sender, else waits. On an unbuffered channel a send therefore
//! completes only when a receiver has taken the value.
//!
//! Go's invariants, asserted in debug builds (`hchan.rs`): at most one of
//! the two wait queues is non-empty; a non-empty buffer has no waiting
//! receiver; a buffer with room has no waiting sender.
//!
//! # Differences from Go
//!
//! - A send on a closed channel returns the value in a [`SendError`] and a
//!   second `close` returns false; Go panics for both.
//! - When every [`Receiver`] is dropped, pending and later sends fail and
//!   give their value back, where Go leaves blocked senders blocked forever.
//! - There is no nil channel; a disabled `select!` case (`, if false`) plays
//!   its part.
//! - A receive future dropped after a sender committed to it hands the value
//!   back to the front of the channel (module `ops`, "Cancel safety").
//!
//! # Examples
//!
//! ```
//! let rt = gort_core::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, rx) = gort_sync::chan::<u32>(0); // unbuffered
//!     let producer = gort_core::spawn(async move {
//!         for i in 0..3 {
//!             tx.send(i).await.unwrap();
//!         }
//!         // dropping the last Sender closes the channel
//!     });
//!     let mut got = Vec::new();
//!     while let Some(v) = rx.recv().await {
//!         got.push(v);
//!     }
//!     assert_eq!(got, [0, 1, 2]);
//!     producer.await.unwrap();
//! });
//! ```

mod error;
pub mod hchan;
#[doc(hidden)]
pub(crate) mod lock;
pub(crate) mod ops;
#[doc(hidden)]
pub mod waiter;
pub(crate) mod waitq;

#[cfg(all(test, not(loom)))]
mod tests;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use error::{SendError, TryRecvError, TrySendError};
pub(crate) use hchan::{wake_all, Chan, TryRecv, TrySend, Wakes};
use ops::{RecvState, SendState, Wait};

/// Makes a channel: unbuffered (a rendezvous) for `cap == 0`, else buffered
/// with room for `cap` values. Both ends can be cloned.
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan::new(cap));
    (
        Sender {
            chan: c.clone(),
            sink: None,
        },
        Receiver {
            chan: c,
            pending: Wait::Idle,
        },
    )
}

/// A channel that the last `Sender` dropping does not close, for the timer
/// channels (`time::after`): Go never closes them, so a second receive
/// waits rather than seeing a close.
pub(crate) fn chan_kept_open<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = chan(cap);
    tx.chan.lock().keep_open();
    (tx, rx)
}

/// The sending end. Cloning it adds a sender; the channel closes when the
/// last one is dropped (or on [`Sender::close`]).
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    /// A send started through `Sink`, not yet delivered.
    /// Boxed: most senders never use `Sink`, and a parked task per
    /// channel makes every byte of a `Sender` count.
    sink: Option<Box<SendState<T>>>,
}

/// The receiving end. Cloning it adds a receiver (each value goes to one of
/// them). A `futures::Stream` of the values until closed and drained.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// A receive started through `Stream`, not yet completed.
    pending: RecvState<T>,
}

impl<T> Sender<T> {
    /// Sends `v`, waiting for a receiver (unbuffered) or for room (buffered).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value, if the channel is closed or every
    /// receiver is gone (also while waiting).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes leaves the value unsent (it
    /// is dropped with the future); once a receiver has taken the value the
    /// send has happened, even if the future is dropped before being polled
    /// again.
    pub fn send(&self, v: T) -> Send<'_, T> {
        Send {
            chan: &self.chan,
            st: SendState::new(v),
        }
    }

    /// Sends without waiting: succeeds if a receiver is waiting or the buffer
    /// has room (on an unbuffered channel, exactly when a receiver waits).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut wakes = Wakes::new();
        let r = self
            .chan
            .lock()
            .try_send(self.chan.cap(), v, None, &mut wakes);
        wake_all(wakes);
        match r {
            TrySend::Sent => Ok(()),
            TrySend::Full(v) => Err(TrySendError::Full(v)),
            TrySend::Closed(v) => Err(TrySendError::Closed(v)),
        }
    }

    /// Sends from a plain thread, blocking it (not for use inside a task).
    ///
    /// # Errors
    ///
    /// As [`Sender::send`].
    pub fn send_blocking(&self, v: T) -> Result<(), SendError<T>> {
        futures::executor::block_on(self.send(v))
    }

    /// Closes the channel: receivers drain the buffer, then get `None`;
    /// waiting senders get their values back. Returns true for the call
    /// that closed it.
    pub fn close(&self) -> bool {
        self.chan.close()
    }
}

impl<T> Receiver<T> {
    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.chan
    }

    /// Receives the next value; `None` once the channel is closed and
    /// drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a receive dropped before a value reached it takes
    /// nothing; one dropped after a sender handed it a value puts that value
    /// back at the front of the channel. No value is lost.
    pub fn recv(&self) -> Recv<'_, T> {
        Recv {
            chan: &self.chan,
            st: Wait::Idle,
        }
    }

    /// Receives without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is buffered and no sender waits,
    /// [`TryRecvError::Closed`] once closed and drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut wakes = Wakes::new();
        let r = self.chan.lock().try_recv(self.chan.cap(), None, &mut wakes);
        wake_all(wakes);
        match r {
            TryRecv::Got(v) => Ok(v),
            TryRecv::Empty => Err(TryRecvError::Empty),
            TryRecv::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Receives on a plain thread, blocking it (not for use inside a task).
    pub fn recv_blocking(&self) -> Option<T> {
        futures::executor::block_on(self.recv())
    }

    /// Closes the channel (see [`Sender::close`]).
    pub fn close(&self) -> bool {
        self.chan.close()
    }
}

macro_rules! common_methods {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// Values in the buffer (Go's `len(ch)`).
            pub fn len(&self) -> usize {
                self.chan.lock().len()
            }

            /// Whether the buffer is empty.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The buffer's capacity (Go's `cap(ch)`); 0 when unbuffered.
            pub fn cap(&self) -> usize {
                self.chan.cap()
            }

            /// Whether the channel has been closed.
            pub fn is_closed(&self) -> bool {
                self.chan.lock().is_closed()
            }
        }

        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let g = self.chan.lock();
                f.debug_struct(stringify!($ty))
                    .field("len", &g.len())
                    .field("cap", &self.chan.cap())
                    .field("closed", &g.is_closed())
                    .finish()
            }
        }
    };
}
common_methods!(Sender);
common_methods!(Receiver);

// Nothing in either end is pinned: values are moved in and out by value.
impl<T> Unpin for Sender<T> {}
impl<T> Unpin for Receiver<T> {}
impl<T> Unpin for RecvOwned<T> {}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().add_sender();
        Sender {
            chan: self.chan.clone(),
            sink: None,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.lock().add_receiver();
        Receiver {
            chan: self.chan.clone(),
            pending: Wait::Idle,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(mut st) = self.sink.take() {
            ops::cancel_send(&self.chan, &mut st);
        }
        let mut wakes = Wakes::new();
        self.chan.lock().sender_dropped(&mut wakes);
        wake_all(wakes);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        ops::cancel_recv(&self.chan, &mut self.pending);
        let mut wakes = Wakes::new();
        // With the last receiver gone, nobody can receive the buffered
        // values any more: they are dropped here, outside the lock.
        let drained = self.chan.lock().receiver_dropped(&mut wakes);
        wake_all(wakes);
        drop(drained);
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    chan: &'a Chan<T>,
    st: RecvState<T>,
}

impl<'a, T> Recv<'a, T> {
    /// The channel, for a select case (an unpolled receive has no state).
    pub(crate) fn chan_ref(&self) -> &'a Chan<T> {
        debug_assert!(self.st.is_idle(), "a select case must not have been polled");
        self.chan
    }
}

impl<T> Unpin for Recv<'_, T> {}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        ops::poll_recv(this.chan, &mut this.st, cx)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        ops::cancel_recv(self.chan, &mut self.st);
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("waiting", &!self.st.is_idle())
            .finish()
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless polled"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    st: SendState<T>,
}

impl<'a, T> Send<'a, T> {
    /// Splits into the channel and the value, for a select case.
    pub(crate) fn into_parts(mut self) -> (&'a Chan<T>, T) {
        let v = self.st.value.take().expect("unpolled send holds its value");
        (self.chan, v)
    }
}

impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        ops::poll_send(this.chan, &mut this.st, cx).map_err(SendError)
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        ops::cancel_send(self.chan, &mut self.st);
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("waiting", &!self.st.wait.is_idle())
            .finish()
    }
}

impl<T> futures::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        ops::poll_recv(&this.chan, &mut this.pending, cx)
    }
}

impl<T> futures::Sink<T> for Sender<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        assert!(self.sink.is_none(), "start_send without poll_ready");
        self.sink = Some(Box::new(SendState::new(item)));
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = &mut *self;
        let Some(st) = &mut this.sink else {
            return Poll::Ready(Ok(()));
        };
        let r = ops::poll_send(&this.chan, st, cx);
        if r.is_ready() {
            this.sink = None;
        }
        r.map_err(SendError)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }
}

/// One receive that owns the receiver: lets a `Receiver` (such as the one
/// `gort::time::after` returns) be awaited or used as a `select!` case.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct RecvOwned<T> {
    rx: Receiver<T>,
}

impl<T> Future for RecvOwned<T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let rx = &mut self.rx;
        ops::poll_recv(&rx.chan, &mut rx.pending, cx)
    }
}

impl<T> IntoFuture for Receiver<T> {
    type Output = Option<T>;
    type IntoFuture = RecvOwned<T>;

    fn into_future(self) -> RecvOwned<T> {
        RecvOwned { rx: self }
    }
}
