//! `tcp_echo`: many connections doing small request/response round trips
//! over loopback; `tcp_rtt`: one connection doing them, so that every
//! round trip waits on the last (the latency of a lightly loaded server:
//! how fast a runtime turns an event into the next poll, and whether it
//! hands the work between its threads on the way).
//!
//! gort's `gort::net` against `tokio::net`, on the workload's runtimes
//! (tokio's built with its I/O driver, see [`super::NET`]), and smol's
//! `async_io::Async<std::net::TcpStream>` (what `async-net` wraps) on the
//! smol executor; Go's twin uses `net.Listen`/`net.Dial`. Clients and echo servers run as tasks of the
//! same runtime, like the Go twin's goroutines in one process.

use std::net::SocketAddr;
use std::time::Instant;

use super::{on_task, wait, Latch};
use crate::harness::RoundResult;
use crate::system::{Gort, Smol, System, Tokio};

/// Connections per round (Go: `echoConns`).
pub(crate) const CONNS: usize = 50;
/// Round trips per connection per round (Go: `echoRoundTrips`): 500,000
/// round trips a round, about 5 s per contender on two cores.
pub(crate) const ROUND_TRIPS: usize = 10_000;
/// Bytes per message, each way (Go: `echoMsgSize`).
pub(crate) const MSG: usize = 64;
/// `tcp_rtt`'s round trips on its one connection (Go: `rttRoundTrips`):
/// about 0.5 s a round.
pub(crate) const RTT_ROUND_TRIPS: usize = 30_000;

/// `tcp_echo`: a listener on `127.0.0.1:0`; the driver connects [`CONNS`]
/// clients (nodelay on both ends) and spawns one echo task per accepted
/// connection (read up to [`MSG`] bytes, write them back, until EOF).
/// Then the clock starts, and each client task makes [`ROUND_TRIPS`]
/// round trips: write [`MSG`] bytes, read [`MSG`] bytes back. The clock
/// stops when the last client is done; the value is ns per round trip,
/// round time / ([`CONNS`] × [`ROUND_TRIPS`]). Connection set-up and
/// teardown are not timed. Each client also times each of its round
/// trips (two clock reads, on every side alike): the extra fields
/// `p99_us` and `max_us` are the 99th percentile and the slowest of all
/// of the round's [`CONNS`] × [`ROUND_TRIPS`] round trips, the tail that
/// the mean hides ([`RttLog`]).
pub(crate) fn tcp_echo_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    echo_gort(rt, CONNS, ROUND_TRIPS)
}

/// `tcp_rtt`: [`tcp_echo_gort`] with one connection making
/// [`RTT_ROUND_TRIPS`] round trips.
pub(crate) fn tcp_rtt_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    echo_gort(rt, 1, RTT_ROUND_TRIPS)
}

/// [`tcp_rtt_gort`] with `tokio::net`.
pub(crate) fn tcp_rtt_tokio(rt: &<Tokio as System>::Runtime) -> RoundResult {
    echo_tokio(rt, 1, RTT_ROUND_TRIPS)
}

/// [`tcp_echo_gort`] with `conns` connections of `trips` round trips each.
fn echo_gort(rt: &<Gort as System>::Runtime, conns: usize, trips: usize) -> RoundResult {
    use gort::net::{TcpListener, TcpStream};

    let elapsed = on_task::<Gort, _>(rt, async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("local_addr");
        let mut clients = Vec::with_capacity(conns);
        for _ in 0..conns {
            let client = TcpStream::connect(addr).await.expect("connect");
            let (mut server, _) = listener.accept().await.expect("accept");
            client.set_nodelay(true).expect("nodelay");
            server.set_nodelay(true).expect("nodelay");
            Gort::go(async move {
                let (r, w) = TcpStream::split(&mut server);
                echo_serve(r, w).await;
            });
            clients.push(client);
        }
        run_clients::<Gort, _>(clients, trips).await
    });
    let (elapsed, log) = elapsed;
    log.round(elapsed, conns * trips)
}

/// [`tcp_echo_gort`] with `tokio::net`.
pub(crate) fn tcp_echo_tokio(rt: &<Tokio as System>::Runtime) -> RoundResult {
    echo_tokio(rt, CONNS, ROUND_TRIPS)
}

/// [`echo_gort`] with `tokio::net`.
fn echo_tokio(rt: &<Tokio as System>::Runtime, conns: usize, trips: usize) -> RoundResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    let elapsed = on_task::<Tokio, _>(rt, async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("local_addr");
        let mut clients = Vec::with_capacity(conns);
        for _ in 0..conns {
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
        let (latch, done) = Latch::new(conns);
        let latch = std::sync::Arc::new(latch);
        let log = std::sync::Arc::new(RttLog::default());
        let start = Instant::now();
        for (c, mut client) in clients.into_iter().enumerate() {
            let latch = latch.clone();
            let log = log.clone();
            Tokio::go(async move {
                let mut msg = [c as u8; MSG];
                let mut back = [0u8; MSG];
                let mut rtts = Vec::with_capacity(trips);
                for i in 0..trips {
                    msg[0] = i as u8;
                    let t = Instant::now();
                    client.write_all(&msg).await.expect("client write");
                    client.read_exact(&mut back).await.expect("client read");
                    rtts.push(t.elapsed());
                    debug_assert_eq!(back, msg);
                }
                assert_eq!(back[0], (trips - 1) as u8, "echo out of step");
                log.add(&rtts);
                latch.count_down();
            });
        }
        wait(done).await;
        (start.elapsed(), log)
    });
    let (elapsed, log) = elapsed;
    log.round(elapsed, conns * trips)
}

/// [`tcp_echo_gort`] with `async_io::Async<TcpStream>`, on smol.
pub(crate) fn tcp_echo_smol(rt: &<Smol as System>::Runtime) -> RoundResult {
    echo_smol(rt, CONNS, ROUND_TRIPS)
}

/// [`tcp_rtt_gort`] with `async_io::Async<TcpStream>`, on smol.
pub(crate) fn tcp_rtt_smol(rt: &<Smol as System>::Runtime) -> RoundResult {
    echo_smol(rt, 1, RTT_ROUND_TRIPS)
}

/// [`echo_gort`] with `async_io::Async` over std's sockets, smol's own
/// (`smol::Async`; `async-net` is a thin wrapper around it).
fn echo_smol(rt: &<Smol as System>::Runtime, conns: usize, trips: usize) -> RoundResult {
    use async_io::Async;
    use std::net::{TcpListener, TcpStream};

    let elapsed = on_task::<Smol, _>(rt, async move {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("bind");
        let addr: SocketAddr = listener.get_ref().local_addr().expect("local_addr");
        let mut clients = Vec::with_capacity(conns);
        for _ in 0..conns {
            let client = Async::<TcpStream>::connect(addr).await.expect("connect");
            let (server, _) = listener.accept().await.expect("accept");
            client.get_ref().set_nodelay(true).expect("nodelay");
            server.get_ref().set_nodelay(true).expect("nodelay");
            Smol::go(async move {
                // `&Async<TcpStream>` reads and writes: smol's split.
                echo_serve(&server, &server).await;
            });
            clients.push(client);
        }
        run_clients::<Smol, _>(clients, trips).await
    });
    let (elapsed, log) = elapsed;
    log.round(elapsed, conns * trips)
}

/// Starts the clock, runs every client's [`round_trips`] as a task of `S`
/// and waits for all: the round's time and its round trips.
async fn run_clients<S: System, C>(
    clients: Vec<C>,
    trips: usize,
) -> (std::time::Duration, std::sync::Arc<RttLog>)
where
    C: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
{
    let (latch, done) = Latch::new(clients.len());
    let latch = std::sync::Arc::new(latch);
    let log = std::sync::Arc::new(RttLog::default());
    let start = Instant::now();
    for (c, mut client) in clients.into_iter().enumerate() {
        let latch = latch.clone();
        let log = log.clone();
        S::go(async move {
            log.add(&round_trips(&mut client, c, trips).await);
            latch.count_down();
        });
    }
    wait(done).await;
    (start.elapsed(), log)
}

/// An echo server's loop over `futures::io` halves (gort's and smol's
/// streams): read up to [`MSG`] bytes, write them back, until EOF or an
/// error.
async fn echo_serve(
    mut r: impl futures::io::AsyncRead + Unpin,
    mut w: impl futures::io::AsyncWrite + Unpin,
) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};

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
}

/// Client `c`'s `trips` round trips over a `futures::io` stream (gort's and
/// smol's), each timed: write [`MSG`] bytes, read [`MSG`] back.
async fn round_trips(
    client: &mut (impl futures::io::AsyncRead + futures::io::AsyncWrite + Unpin),
    c: usize,
    trips: usize,
) -> Vec<std::time::Duration> {
    use futures::io::{AsyncReadExt, AsyncWriteExt};

    let mut msg = [c as u8; MSG];
    let mut back = [0u8; MSG];
    let mut rtts = Vec::with_capacity(trips);
    for i in 0..trips {
        msg[0] = i as u8;
        let t = Instant::now();
        client.write_all(&msg).await.expect("client write");
        client.read_exact(&mut back).await.expect("client read");
        rtts.push(t.elapsed());
        debug_assert_eq!(back, msg);
    }
    assert_eq!(back[0], (trips - 1) as u8, "echo out of step");
    rtts
}

/// The round trips of one `tcp_echo` round, from all clients.
#[derive(Default)]
struct RttLog {
    nanos: std::sync::Mutex<Vec<u64>>,
}

impl RttLog {
    /// One client's round trips, added once at its end.
    fn add(&self, rtts: &[std::time::Duration]) {
        let mut all = self.nanos.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(rtts.iter().map(|d| d.as_nanos() as u64));
    }

    /// The round's result: ns per round trip from `elapsed` over the
    /// `expected` round trips, with their nearest-rank p99 and maximum in
    /// µs as extras.
    fn round(&self, elapsed: std::time::Duration, expected: usize) -> RoundResult {
        let mut all = std::mem::take(&mut *self.nanos.lock().unwrap_or_else(|e| e.into_inner()));
        assert_eq!(all.len(), expected, "a client's round trips are missing");
        all.sort_unstable();
        let p99 = all[(all.len() * 99).div_ceil(100) - 1];
        let max = all[all.len() - 1];
        let mut r = RoundResult::ns_per_op(elapsed, expected);
        r.extra = vec![("p99_us", p99 as f64 / 1e3), ("max_us", max as f64 / 1e3)];
        r
    }
}
