//! Stream halves, written once for [`TcpStream`](crate::TcpStream) and
//! [`UnixStream`](crate::UnixStream) by the `stream_halves!` macro.
//!
//! A stream's reads and writes take `&self` (the registration keeps a
//! waiter list per direction), so the halves need no lock:
//!
//! - `ReadHalf<'a>` / `WriteHalf<'a>` borrow the stream (`split(&mut
//!   self)`): zero cost, for two tasks in one scope or a `select!`.
//! - `OwnedReadHalf` / `OwnedWriteHalf` share it through an `Arc`
//!   (`into_split(self)`): for two spawned tasks. Dropping the writing half
//!   shuts down the writing side (the peer reads EOF) and leaves the
//!   reading half working; `reunite` gives the stream back.

/// Defines the four halves and `ReuniteError` for `$stream` in the
/// invoking module, with `split` and `split_owned` constructors.
macro_rules! stream_halves {
    ($stream:ident, $addr:ty) => {
        use std::io::{self, IoSlice};
        use std::net::Shutdown;
        use std::pin::Pin;
        use std::sync::Arc;
        use std::task::{Context, Poll};

        use futures::io::{AsyncRead, AsyncWrite};

        use crate::$stream;

        #[doc = concat!("The reading half of a borrowed [`", stringify!($stream), "`]; see [`", stringify!($stream), "::split`].")]
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $stream);

        #[doc = concat!("The writing half of a borrowed [`", stringify!($stream), "`]; `poll_close` shuts down the writing side.")]
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $stream);

        #[doc = concat!("The reading half of a [`", stringify!($stream), "`] shared with its [`OwnedWriteHalf`]; see [`", stringify!($stream), "::into_split`].")]
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            inner: Arc<$stream>,
        }

        #[doc = concat!("The writing half of a [`", stringify!($stream), "`] shared with its [`OwnedReadHalf`]. Dropping it shuts down the writing side (the peer reads EOF); the reading half keeps working.")]
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            inner: Arc<$stream>,
            shutdown_on_drop: bool,
        }

        /// The halves given to `reunite` came from different streams; they
        /// are handed back.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        pub(crate) fn split(stream: &mut $stream) -> (ReadHalf<'_>, WriteHalf<'_>) {
            (ReadHalf(stream), WriteHalf(stream))
        }

        pub(crate) fn split_owned(stream: $stream) -> (OwnedReadHalf, OwnedWriteHalf) {
            let inner = Arc::new(stream);
            (
                OwnedReadHalf {
                    inner: inner.clone(),
                },
                OwnedWriteHalf {
                    inner,
                    shutdown_on_drop: true,
                },
            )
        }

        impl ReadHalf<'_> {
            /// The remote address.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.0.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.0.local_addr()
            }
        }

        impl WriteHalf<'_> {
            /// The remote address.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.0.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.0.local_addr()
            }
        }

        impl OwnedReadHalf {
            /// Puts the stream back together.
            ///
            /// # Errors
            ///
            /// [`ReuniteError`] (with both halves) if `write` belongs to
            /// another stream.
            pub fn reunite(self, mut write: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                if !Arc::ptr_eq(&self.inner, &write.inner) {
                    return Err(ReuniteError(self, write));
                }
                write.shutdown_on_drop = false;
                drop(write);
                Ok(Arc::try_unwrap(self.inner).expect("both halves were given"))
            }

            /// The remote address.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.inner.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.inner.local_addr()
            }

            #[doc = concat!("Ends every wait on the shared stream with [`Closed`](gort_core::io::Closed), as [`", stringify!($stream), "::close_shared`]: how another task stops a reader parked here (Go's `Close` while another goroutine reads).")]
            pub fn close_shared(&self) {
                self.inner.close_shared();
            }
        }

        impl OwnedWriteHalf {
            /// The remote address.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                self.inner.peer_addr()
            }

            /// The local address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                self.inner.local_addr()
            }

            #[doc = concat!("Ends every wait on the shared stream with [`Closed`](gort_core::io::Closed), as [`", stringify!($stream), "::close_shared`].")]
            pub fn close_shared(&self) {
                self.inner.close_shared();
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    let _ = self.inner.shutdown(Shutdown::Write);
                }
            }
        }

        impl AsyncRead for ReadHalf<'_> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.0.poll_read_priv(cx, buf)
            }
        }

        impl AsyncRead for OwnedReadHalf {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_read_priv(cx, buf)
            }
        }

        impl AsyncWrite for WriteHalf<'_> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.0.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.0.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.shutdown_write_priv()
            }
        }

        impl AsyncWrite for OwnedWriteHalf {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.inner.shutdown_write_priv()
            }
        }
    };
}

pub(crate) use stream_halves;
