//! The halves of a [`TcpStream`](crate::TcpStream); see `split.rs` for
//! the design.

crate::split::stream_halves!(TcpStream, std::net::SocketAddr);
