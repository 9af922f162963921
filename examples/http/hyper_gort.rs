//! hyper on gort through `gort::hyper`: the hello-world service, its
//! HTTP/1.1 server and an HTTP/1.1 client, with nothing written by hand
//! between hyper and the runtime.
//!
//! - the server hands each accepted [`TcpStream`] to hyper as it is: gort's
//!   sockets implement hyper's `Read` + `Write` themselves (with the
//!   `hyper` feature) and read straight into hyper's uninitialised buffer;
//!   [`gort::hyper::Timer`] runs hyper's header-read timeout;
//! - the client wraps its stream in [`gort::hyper::Io`], the adapter for
//!   any `futures::io` stream, as hyper-util's `TokioIo` is for tokio's.
//!
//! Shared, through `#[path]`, by `examples/http/main.rs`,
//! `tests/http_example.rs` and gort-bench's `http_hello` workload, so all
//! three run the same code.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use gort::hyper::{Executor, Io, Timer};
use gort::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::rt::Executor as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

/// The body of every response.
pub const HELLO: &[u8] = b"Hello, world!\n";

/// The service: `200 OK` with [`HELLO`] for any request.
pub async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// Serves HTTP/1.1 [`hello`] on one connection until the client closes it.
/// `io` is a gort [`TcpStream`] itself, or any stream in a
/// [`gort::hyper::Io`].
///
/// # Errors
///
/// hyper's, when the connection fails mid-request or its header read
/// times out (hyper's default, 30 s, measured by [`Timer`]).
pub async fn serve_connection<S>(io: S) -> hyper::Result<()>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    http1::Builder::new()
        .timer(Timer::new())
        .serve_connection(io, service_fn(hello))
        .await
}

/// Accepts connections on `listener` and serves each on its own task until
/// the listener fails or is closed ([`TcpListener::close`]).
///
/// # Errors
///
/// The error that ended `accept`; [`gort::net`]'s `Closed` one after
/// `close`.
pub async fn serve(listener: &TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        // Responses go out whole in one write: no Nagle delay to wait for.
        let _ = stream.set_nodelay(true);
        Executor::new().execute(async move {
            // A client that leaves mid-request only ends its own connection.
            let _ = serve_connection(stream).await;
        });
    }
}

/// What [`get`] can fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `GET path` from `addr` over one new HTTP/1.1 connection (hyper's
/// client, through [`gort::hyper::Io`]); the response's status and whole
/// body.
///
/// # Errors
///
/// The connect's, or hyper's when the exchange fails.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(StatusCode, Bytes), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await?;
    // The connection's I/O runs on its own task; it ends when `sender`
    // (the last handle on the connection) is dropped.
    Executor::new().execute(async move {
        let _ = conn.await;
    });
    let req = Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
