//! `tcp_echo`: many connections doing small request/response round trips
//! over loopback.
//!
//! gort's `gort::net` against `tokio::net`, on the workload's runtimes
//! (tokio's built with its I/O driver, see [`super::NET`]); Go's twin uses
//! `net.Listen`/`net.Dial`. Clients and echo servers run as tasks of the
//! same runtime, like the Go twin's goroutines in one process.

use std::net::SocketAddr;
use std::time::Instant;

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::{Gort, System, Tokio};

/// Connections per round (Go: `echoConns`).
pub(crate) const CONNS: usize = 50;
/// Round trips per connection per round (Go: `echoRoundTrips`): 500,000
/// round trips a round, about 5 s per contender on two cores.
pub(crate) const ROUND_TRIPS: usize = 10_000;
/// Bytes per message, each way (Go: `echoMsgSize`).
pub(crate) const MSG: usize = 64;

/// `tcp_echo`: a listener on `127.0.0.1:0`; the driver connects [`CONNS`]
/// clients (nodelay on both ends) and spawns one echo task per accepted
/// connection (read up to [`MSG`] bytes, write them back, until EOF).
/// Then the clock starts, and each client task makes [`ROUND_TRIPS`]
/// round trips: write [`MSG`] bytes, read [`MSG`] bytes back. The clock
/// stops when the last client is done; the value is ns per round trip,
/// round time / ([`CONNS`] × [`ROUND_TRIPS`]). Connection set-up and
/// teardown are not timed.
pub(crate) fn tcp_echo_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use gort::net::{TcpListener, TcpStream};

    let elapsed = on_task::<Gort, _>(rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("local_addr");
        let mut clients = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let client = TcpStream::connect(addr).await.expect("connect");
            let (mut server, _) = listener.accept().await.expect("accept");
            client.set_nodelay(true).expect("nodelay");
            server.set_nodelay(true).expect("nodelay");
            Gort::go(async move {
                let (mut r, mut w) = TcpStream::split(&mut server);
                let mut buf = [0u8; MSG];
                loop {
                    match r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if w.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            clients.push(client);
        }
        let (latch, done) = Latch::new(CONNS);
        let latch = std::sync::Arc::new(latch);
        let start = Instant::now();
        for (c, mut client) in clients.into_iter().enumerate() {
            let latch = latch.clone();
            Gort::go(async move {
                let mut msg = [c as u8; MSG];
                let mut back = [0u8; MSG];
                for i in 0..ROUND_TRIPS {
                    msg[0] = i as u8;
                    client.write_all(&msg).await.expect("client write");
                    client.read_exact(&mut back).await.expect("client read");
                    debug_assert_eq!(back, msg);
                }
                assert_eq!(back[0], (ROUND_TRIPS - 1) as u8, "echo out of step");
                latch.count_down();
            });
        }
        wait(done).await;
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, CONNS * ROUND_TRIPS)
}

/// [`tcp_echo_gort`] with `tokio::net`.
pub(crate) fn tcp_echo_tokio(rt: &<Tokio as System>::Runtime) -> RoundResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    let elapsed = on_task::<Tokio, _>(rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("local_addr");
        let mut clients = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let client = TcpStream::connect(addr).await.expect("connect");
            let (mut server, _) = listener.accept().await.expect("accept");
            client.set_nodelay(true).expect("nodelay");
            server.set_nodelay(true).expect("nodelay");
            Tokio::go(async move {
                let (mut r, mut w) = server.split();
                let mut buf = [0u8; MSG];
                loop {
                    match r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if w.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            clients.push(client);
        }
        let (latch, done) = Latch::new(CONNS);
        let latch = std::sync::Arc::new(latch);
        let start = Instant::now();
        for (c, mut client) in clients.into_iter().enumerate() {
            let latch = latch.clone();
            Tokio::go(async move {
                let mut msg = [c as u8; MSG];
                let mut back = [0u8; MSG];
                for i in 0..ROUND_TRIPS {
                    msg[0] = i as u8;
                    client.write_all(&msg).await.expect("client write");
                    client.read_exact(&mut back).await.expect("client read");
                    debug_assert_eq!(back, msg);
                }
                assert_eq!(back[0], (ROUND_TRIPS - 1) as u8, "echo out of step");
                latch.count_down();
            });
        }
        wait(done).await;
        start.elapsed()
    });
    RoundResult::ns_per_op(elapsed, CONNS * ROUND_TRIPS)
}
