//! What [`TcpStream`](crate::TcpStream) and [`UnixStream`](crate::UnixStream)
//! share, written once by the `stream_io!` macro: shutdown and
//! `close_shared`, readiness waits, `try_read`/`try_write`, and the
//! `futures::io` traits for the stream and for a shared reference to it.
//!
//! Both are an `Evented` over a mio stream in a field named `io`; every
//! operation is a non-blocking syscall on `io.get()` retried through the
//! registration (`evented.rs`), so it takes `&self`, which the halves in
//! `split.rs` rely on.

/// Adds the shared methods and trait impls to `$stream` (which must be in
/// scope with the imports its items use: `io`, `IoSlice`, `Read`, `Write`,
/// `Shutdown`, `Pin`, `Context`, `Poll`, `AsyncRead`, `AsyncWrite`,
/// `Direction`, `fmt`).
macro_rules! stream_io {
    ($stream:ident) => {
        impl $stream {
            /// Shuts down the reading, writing or both sides (Go's
            /// `CloseRead` / `CloseWrite`). After `Shutdown::Write` the peer
            /// reads EOF and this side can still read.
            pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                self.io.check_open()?;
                self.io.get().shutdown(how)
            }

            /// Makes every task waiting on this stream, and every later
            /// operation, fail with [`Closed`](gort_core::io::Closed) (the
            /// effect of Go's `Close` on the other goroutines), and shuts the
            /// connection down in both directions so the peer sees EOF. The
            /// descriptor is released on drop. Idempotent.
            ///
            /// Not named `close`: that name belongs to
            /// `AsyncWriteExt::close` (shut down the writing side), which an
            /// inherent method would shadow.
            pub fn close_shared(&self) {
                if !self.io.is_closed() {
                    // Mark closed first: a waiter woken by the shutdown's
                    // event must see `Closed`, not the EOF the shutdown
                    // causes.
                    self.io.close();
                    let _ = self.io.get().shutdown(Shutdown::Both);
                }
            }

            /// Waits until the stream is readable (data, EOF or an error).
            pub async fn readable(&self) -> io::Result<()> {
                self.io.ready(Direction::Read).await
            }

            /// Waits until the stream is writable.
            pub async fn writable(&self) -> io::Result<()> {
                self.io.ready(Direction::Write).await
            }

            #[doc = concat!("Reads what is available now, or fails with `WouldBlock` (pair it with [`readable`](", stringify!($stream), "::readable)).")]
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.io.try_io(Direction::Read, || self.io.get().read(buf))
            }

            #[doc = concat!("Writes what fits now, or fails with `WouldBlock` (pair it with [`writable`](", stringify!($stream), "::writable)).")]
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                self.io
                    .try_io(Direction::Write, || self.io.get().write(buf))
            }

            /// Reads what is available into memory that need not be
            /// initialised: [`AsyncRead::poll_read`] without zeroing `buf`
            /// first (what tokio's `ReadBuf` is for, and what an adapter to
            /// hyper's `rt::Read`, which hands out uninitialised capacity,
            /// wants). On `Ready(Ok(n))` the first `n` bytes of `buf` are
            /// initialised; `Ok(0)` is end of stream (or an empty `buf`).
            /// Waits, like `poll_read`, when nothing is available.
            ///
            /// # Example
            ///
            /// ```no_run
            #[doc = concat!("# async fn demo(stream: gort_net::", stringify!($stream), ") -> std::io::Result<()> {")]
            /// use std::mem::MaybeUninit;
            ///
            /// let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
            /// let n = std::future::poll_fn(|cx| stream.poll_read_uninit(cx, &mut buf)).await?;
            /// // SAFETY: `poll_read_uninit` initialised the first `n` bytes.
            /// let data: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
            /// println!("read {} bytes", data.len());
            /// # Ok(())
            /// # }
            /// ```
            pub fn poll_read_uninit(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                let len = buf.len();
                // `recv` with no flags is `read` on a connected stream
                // socket; socket2's takes a `MaybeUninit` buffer and
                // reports how many bytes the kernel wrote.
                self.io.poll_read(cx, len, || {
                    socket2::SockRef::from(self.io.get()).recv(&mut *buf)
                })
            }

            pub(crate) fn poll_read_priv(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                if buf.is_empty() {
                    // futures::io contract: no wait for a zero-length buffer.
                    return Poll::Ready(Ok(0));
                }
                self.io.poll_read(cx, buf.len(), || self.io.get().read(buf))
            }

            pub(crate) fn poll_write_priv(
                &self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                self.io
                    .poll_io(Direction::Write, cx, || self.io.get().write(buf))
            }

            pub(crate) fn poll_write_vectored_priv(
                &self,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.io
                    .poll_io(Direction::Write, cx, || self.io.get().write_vectored(bufs))
            }

            pub(crate) fn shutdown_write_priv(&self) -> Poll<io::Result<()>> {
                Poll::Ready(match self.shutdown(Shutdown::Write) {
                    // The peer already reset it: nothing left to shut.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                    r => r,
                })
            }
        }

        stream_io!(@traits $stream);
        stream_io!(@traits &$stream);

        impl fmt::Debug for $stream {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.io.fmt(f)
            }
        }
    };
    (@traits $t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }
        }

        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Shuts down the writing side: the peer reads EOF.
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.shutdown_write_priv()
            }
        }
    };
}
