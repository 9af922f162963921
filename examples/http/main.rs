//! An HTTP/1.1 "hello world" server: hyper 1.x running on gort.
//!
//! ```sh
//! cargo run --release --example http                    # listens on 127.0.0.1:8080
//! cargo run --release --example http -- 127.0.0.1:9000  # or on another address
//! curl -i http://127.0.0.1:8080/                        # HTTP/1.1 200 OK ... Hello, world!
//! wrk -t2 -c64 -d5s http://127.0.0.1:8080/              # load, if wrk is installed
//! ```
//!
//! hyper brings the HTTP; gort brings the runtime, plugged in through
//! hyper's `rt` traits. Those adapters (about a hundred lines of code) are in
//! [`hyper_gort`], next to this file; gort-bench's `http_hello` and the
//! `http_example` test reuse them. Stop the server with ctrl-c.

mod hyper_gort;

use std::io;

use gort::net::TcpListener;

#[gort::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(addr).await?;
    println!("http: serving hello on http://{}/", listener.local_addr()?);
    hyper_gort::serve(&listener).await
}
