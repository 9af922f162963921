//! hyper 1.x servers and clients, HTTP/1.1 and HTTP/2, on gort through
//! `gort::hyper` alone: 50 concurrent connections per protocol with every
//! response and body counted, hyper's header-read timeout on
//! `gort::hyper::Timer` and HTTP/2 keep-alive pings on it, and HTTP/2's
//! stream tasks on `gort::hyper::Executor`.
//!
//! Every wait is bounded by a generous watchdog (`gort::time::timeout`);
//! no assertion depends on how fast the machine is.

#![cfg(feature = "hyper")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort::hyper::{Executor, Io, Timer};
use gort::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{client, server, Request, Response};

/// Connections per test.
const CONNS: usize = 50;
/// Requests per connection.
const REQS: usize = 4;
/// The watchdog on every exchange.
const WATCHDOG: Duration = Duration::from_secs(30);

/// The service: echoes `"{method} {path} {body}"`, and counts requests.
async fn echo(
    req: Request<Incoming>,
    served: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let head = format!("{} {} ", req.method(), req.uri().path());
    let body = req.into_body().collect().await?.to_bytes();
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    served.fetch_add(1, Ordering::Relaxed);
    Ok(Response::new(Full::new(Bytes::from(out))))
}

/// Which protocol a test server speaks.
#[derive(Clone, Copy, Debug)]
enum Proto {
    Http1,
    Http2,
}

/// Serves `echo` on `127.0.0.1:0` until `n` connections have been accepted
/// and served to their end; returns the address and a handle on the
/// number of requests served, and the accept task (which returns how many
/// connections ended without error).
///
/// HTTP/1.1 connections go through `Io` (the generic `futures::io`
/// adapter); HTTP/2 ones hand the `TcpStream` over directly (gort's sockets
/// implement hyper's traits), so both read paths are under load.
async fn server(proto: Proto, n: usize) -> (SocketAddr, Arc<AtomicUsize>, gort::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let accept = gort::spawn({
        let served = served.clone();
        async move {
            let mut conns = Vec::with_capacity(n);
            for _ in 0..n {
                let (stream, _) = listener.accept().await.unwrap();
                let served = served.clone();
                let svc = service_fn(move |req| echo(req, served.clone()));
                conns.push(gort::spawn(async move {
                    match proto {
                        Proto::Http1 => {
                            server::conn::http1::Builder::new()
                                .timer(Timer::new())
                                .serve_connection(Io::new(stream), svc)
                                .await
                        }
                        Proto::Http2 => {
                            server::conn::http2::Builder::new(Executor::new())
                                .timer(Timer::new())
                                .keep_alive_interval(Duration::from_secs(20))
                                .serve_connection(stream, svc)
                                .await
                        }
                    }
                }));
            }
            let mut ok = 0;
            for c in conns {
                if c.await.unwrap().is_ok() {
                    ok += 1;
                }
            }
            ok
        }
    });
    (addr, served, accept)
}

/// The body client `c` sends with its request `i`.
fn payload(c: usize, i: usize) -> String {
    format!("conn {c} request {i}")
}

/// One client connection: `REQS` POSTs to `/c{c}`; returns the bodies.
/// HTTP/1.1 sends them one after another on the kept-alive connection;
/// HTTP/2 sends them at once, multiplexed as concurrent streams.
async fn client_conn(proto: Proto, addr: SocketAddr, c: usize) -> Vec<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let req = |i: usize| {
        Request::post(format!("http://{addr}/c{c}"))
            .body(Full::new(Bytes::from(payload(c, i))))
            .unwrap()
    };
    match proto {
        Proto::Http1 => {
            let (mut sender, conn) = client::conn::http1::handshake(Io::new(stream))
                .await
                .unwrap();
            let conn = gort::spawn(conn);
            let mut bodies = Vec::with_capacity(REQS);
            for i in 0..REQS {
                sender.ready().await.unwrap();
                let resp = sender.send_request(req(i)).await.unwrap();
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.version(), hyper::Version::HTTP_11);
                bodies.push(resp.into_body().collect().await.unwrap().to_bytes());
            }
            drop(sender);
            conn.await.unwrap().unwrap();
            bodies
        }
        Proto::Http2 => {
            let (sender, conn) = client::conn::http2::Builder::new(Executor::new())
                .timer(Timer::new())
                .handshake(Io::new(stream))
                .await
                .unwrap();
            let conn = gort::spawn(conn);
            let streams: Vec<_> = (0..REQS)
                .map(|i| {
                    let mut sender = sender.clone();
                    let req = req(i);
                    gort::spawn(async move {
                        let resp = sender.send_request(req).await.unwrap();
                        assert_eq!(resp.status(), 200);
                        assert_eq!(resp.version(), hyper::Version::HTTP_2);
                        resp.into_body().collect().await.unwrap().to_bytes()
                    })
                })
                .collect();
            let mut bodies = Vec::with_capacity(REQS);
            for s in streams {
                bodies.push(s.await.unwrap());
            }
            drop(sender);
            conn.await.unwrap().unwrap();
            bodies
        }
    }
}

/// `CONNS` concurrent client connections of `REQS` requests against one
/// server; checks every body and the exact counts on both sides.
async fn fifty_connections(proto: Proto) {
    let (addr, served, accept) = server(proto, CONNS).await;
    let clients: Vec<_> = (0..CONNS)
        .map(|c| gort::spawn(client_conn(proto, addr, c)))
        .collect();
    let run = async {
        let mut responses = 0;
        for (c, h) in clients.into_iter().enumerate() {
            let bodies = h.await.unwrap();
            assert_eq!(bodies.len(), REQS, "connection {c}");
            for (i, body) in bodies.iter().enumerate() {
                assert_eq!(
                    body,
                    format!("POST /c{c} {}", payload(c, i)).as_bytes(),
                    "connection {c}, request {i}"
                );
                responses += 1;
            }
        }
        let ended_ok = accept.await.unwrap();
        (responses, ended_ok)
    };
    let (responses, ended_ok) = gort::time::timeout(WATCHDOG, run)
        .await
        .unwrap_or_else(|_| panic!("{proto:?}: not done within {WATCHDOG:?}"));
    assert_eq!(responses, CONNS * REQS);
    assert_eq!(served.load(Ordering::Relaxed), CONNS * REQS);
    assert_eq!(ended_ok, CONNS, "every server connection ends cleanly");
}

#[gort::test(procs = 2)]
async fn http1_fifty_concurrent_connections() {
    fifty_connections(Proto::Http1).await;
}

/// HTTP/2: the server runs each stream on a task of `Executor`, the client
/// its connection's streams; four concurrent streams per connection.
#[gort::test(procs = 2)]
async fn http2_fifty_concurrent_connections() {
    fifty_connections(Proto::Http2).await;
}

/// hyper's HTTP/1 header-read timeout on `gort::hyper::Timer`: the first
/// request is answered; the second arrives half-written, and the server
/// gives up on it with hyper's timeout error and closes the connection,
/// no earlier than the timeout after the first request was sent (hyper
/// arms the second head's timer once the first is served).
#[gort::test(procs = 2)]
async fn http1_header_read_timeout_runs_on_gort_timer() {
    const TIMEOUT: Duration = Duration::from_millis(150);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let server = gort::spawn({
        let served = served.clone();
        async move {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = service_fn(move |req| echo(req, served.clone()));
            server::conn::http1::Builder::new()
                .timer(Timer::new())
                .header_read_timeout(TIMEOUT)
                .serve_connection(stream, svc)
                .await
        }
    });

    let exchange = async {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let t0 = Instant::now();
        conn.write_all(b"GET /one HTTP/1.1\r\nHost: gort\r\n\r\n")
            .await
            .unwrap();
        let want = b"GET /one ";
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(want) {
            let n = conn.read(&mut buf).await.unwrap();
            assert_ne!(n, 0, "closed before the first response: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{got:?}");

        // Half a request head, then silence.
        conn.write_all(b"GET /two HTTP/1.1\r\n").await.unwrap();
        let mut rest = Vec::new();
        // The server closes the connection: EOF (or a reset).
        let _ = conn.read_to_end(&mut rest).await;
        let waited = t0.elapsed();
        let result = server.await.unwrap();
        (rest, waited, result)
    };
    let (rest, waited, result) = gort::time::timeout(WATCHDOG, exchange)
        .await
        .expect("the header-read timeout never fired");
    let err = result.expect_err("the connection must end with hyper's timeout error");
    assert!(err.is_timeout(), "not a timeout: {err:?}");
    assert!(
        waited >= TIMEOUT,
        "gave up after {waited:?}, before {TIMEOUT:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("/two"),
        "the half-written request was served: {rest:?}"
    );
    assert_eq!(served.load(Ordering::Relaxed), 1);
}

/// HTTP/2 keep-alive on `gort::hyper::Timer`: the client pings every
/// 20 ms and expects the pong within a second; a connection left idle for
/// many intervals stays up and serves another request.
#[gort::test(procs = 2)]
async fn http2_keep_alive_pings_on_gort_timer() {
    let (addr, served, accept) = server(Proto::Http2, 1).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = client::conn::http2::Builder::new(Executor::new())
        .timer(Timer::new())
        .keep_alive_interval(Duration::from_millis(20))
        .keep_alive_timeout(Duration::from_secs(1))
        .keep_alive_while_idle(true)
        .handshake(Io::new(stream))
        .await
        .unwrap();
    let conn = gort::spawn(conn);
    let run = async {
        for i in 0..2 {
            let req = Request::post(format!("http://{addr}/ka"))
                .body(Full::new(Bytes::from(format!("{i}"))))
                .unwrap();
            let resp = sender.send_request(req).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, format!("POST /ka {i}").as_bytes());
            // Idle through ten ping intervals.
            gort::time::sleep(Duration::from_millis(200)).await;
            assert!(!sender.is_closed(), "the connection died while idle");
        }
        drop(sender);
        conn.await.unwrap().unwrap();
        accept.await.unwrap()
    };
    let ended_ok = gort::time::timeout(WATCHDOG, run)
        .await
        .expect("not done within the watchdog");
    assert_eq!(ended_ok, 1);
    assert_eq!(served.load(Ordering::Relaxed), 2);
}

/// hyper's `Executor` contract, directly: the futures it is given run to
/// completion on gort, each as its own task.
#[gort::test(procs = 2)]
async fn executor_runs_every_future() {
    use futures::StreamExt;
    use hyper::rt::Executor as _;
    let (tx, rx) = futures::channel::mpsc::unbounded::<usize>();
    for i in 0..100 {
        let tx = tx.clone();
        Executor.execute(async move {
            gort::yield_now().await;
            tx.unbounded_send(i).unwrap();
        });
    }
    drop(tx);
    // The stream ends when the last task has dropped its sender.
    let mut got = gort::time::timeout(WATCHDOG, rx.collect::<Vec<_>>())
        .await
        .expect("not every executed future finished");
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}
