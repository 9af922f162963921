//! A TCP echo server: one goroutine per connection, each copying what it
//! reads straight back.
//!
//! ```sh
//! cargo run --release --example echo                    # listens on 127.0.0.1:7878
//! cargo run --release --example echo -- 127.0.0.1:9000  # or on another address
//! ```
//!
//! Then, in another terminal, type lines into `nc 127.0.0.1 7878`: each one
//! comes back. `printf 'hello\n' | nc -q1 127.0.0.1 7878` does it once
//! (`-N` instead of `-q1` for OpenBSD's `nc`).
//! The server logs every connection that ends; stop it with ctrl-c.
//!
//! A connection's task waits on its socket holding no P and no M, as a
//! goroutine blocked in `conn.Read` does in Go.

use std::io;

use gort::net::{TcpListener, TcpStream};

#[gort::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_string());
    let listener = TcpListener::bind(addr).await?;
    println!("echo: listening on {}", listener.local_addr()?);
    loop {
        let (conn, peer) = listener.accept().await?;
        gort::spawn(async move {
            match echo(conn).await {
                Ok(n) => println!("echo: {peer} left after {n} bytes"),
                Err(e) => println!("echo: {peer}: {e}"),
            }
        });
    }
}

/// Copies everything `conn` sends back to it until it closes its side;
/// returns the byte count.
async fn echo(mut conn: TcpStream) -> io::Result<u64> {
    let (mut reader, mut writer) = conn.split();
    futures::io::copy(&mut reader, &mut writer).await
}
