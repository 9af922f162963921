//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] and its halves,
//! [`UnixDatagram`]. They behave like their TCP and UDP counterparts;
//! addresses are paths ([`SocketAddr`] is std's, with `as_pathname`).

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use std::os::unix::net::SocketAddr;
pub use stream::UnixStream;
