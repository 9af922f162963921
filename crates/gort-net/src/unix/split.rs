//! The halves of a [`UnixStream`](crate::UnixStream); see `split.rs` for
//! the design.

crate::split::stream_halves!(UnixStream, std::os::unix::net::SocketAddr);
