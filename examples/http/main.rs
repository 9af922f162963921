//! An HTTP/1.1 "hello world" server and client: hyper 1.x running on gort
//! through `gort::hyper` (needs the `hyper` feature).
//!
//! ```sh
//! cargo run --release --features hyper --example http                    # serves on 127.0.0.1:8080
//! cargo run --release --features hyper --example http -- 127.0.0.1:9000  # or on another address
//! cargo run --release --features hyper --example http -- get 127.0.0.1:8080
//! cargo run --release --features hyper --example http -- demo            # serve and get, once
//! curl -i http://127.0.0.1:8080/                        # HTTP/1.1 200 OK ... Hello, world!
//! wrk -t2 -c64 -d5s http://127.0.0.1:8080/              # load, if wrk is installed
//! ```
//!
//! hyper brings the HTTP; gort brings the runtime, plugged in through
//! `gort::hyper`'s `Io`, `Executor` and `Timer`. The server and client are
//! in [`hyper_gort`], next to this file; gort-bench's `http_hello` and the
//! `http_example` test reuse them. HTTP/2 over the same pieces: the example
//! in `gort::hyper`'s docs. Stop the server with ctrl-c.

mod hyper_gort;

use std::net::SocketAddr;
use std::sync::Arc;

use gort::net::TcpListener;

#[gort::main]
async fn main() -> Result<(), hyper_gort::BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["get", addr] => {
            let (status, body) = hyper_gort::get(addr.parse()?, "/").await?;
            print!("{status}\n{}", String::from_utf8_lossy(&body));
        }
        ["demo"] => {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await?);
            let addr: SocketAddr = listener.local_addr()?;
            let server = gort::spawn({
                let listener = listener.clone();
                async move { hyper_gort::serve(&listener).await }
            });
            let (status, body) = hyper_gort::get(addr, "/").await?;
            print!(
                "GET http://{addr}/: {status}\n{}",
                String::from_utf8_lossy(&body)
            );
            listener.close();
            let _ = server.await;
        }
        [] | [_] => {
            let addr = args.first().map_or("127.0.0.1:8080", String::as_str);
            let listener = TcpListener::bind(addr).await?;
            println!("http: serving hello on http://{}/", listener.local_addr()?);
            hyper_gort::serve(&listener).await?;
        }
        _ => return Err("usage: http [ADDR] | http get ADDR | http demo".into()),
    }
    Ok(())
}
