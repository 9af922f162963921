//! The debug server: a listener, an accept loop, one hyper HTTP/1.1
//! connection task per client, and the router.
//!
//! # Tasks
//!
//! [`serve`](super::serve) binds, then spawns the accept loop (a task named
//! `gort-debug accept`). Each accepted connection is served by hyper's
//! HTTP/1.1 server on a task of its own (`gort-debug conn`), kept in the
//! loop's [`JoinSet`], whose finished entries are reaped at each accept.
//! The tasks are named so that the pages show the server's own tasks for
//! what they are. Handlers run on the runtime that called `serve`: the
//! metrics and the dump are that runtime's.
//!
//! An accept error while the server is open is retried after a pause that
//! doubles from 5 ms to 1 s, as Go's `http.Server.Serve` retries its
//! temporary errors (too many open files, say) instead of ending.
//!
//! # Shutdown
//!
//! [`Server::shutdown`] marks the server closing, closes the listener (the
//! pending accept fails with `Closed`), and waits for the loop, which
//! aborts the open connections through the set and waits for them: a
//! connection cancelled in the middle of `/trace` stops the trace it
//! started ([`Tracing`]'s drop). Dropping a [`Server`] without calling
//! `shutdown` leaves it serving until the runtime ends, as a Go program's
//! pprof server lives as long as the program.
//!
//! # Routes
//!
//! [`route`] maps a request to a response, without I/O of its own but the
//! trace's wait. Query strings are parsed by hand (`key=value` pairs, no
//! percent-decoding: every value the pages take is a number).

use std::convert::Infallible;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::bytes::Bytes;
use ::http_body_util::Full;
use ::hyper::body::Incoming;
use ::hyper::header::{self, HeaderValue};
use ::hyper::server::conn::http1;
use ::hyper::service::service_fn;
use ::hyper::{Method, Request, Response, StatusCode};

use super::{goroutines, metrics, pages, timeline};
use crate::hyper::Timer;
use crate::net::{TcpListener, TcpStream};
use crate::runtime::trace;
use crate::task::{JoinHandle, JoinSet};

/// The longest trace a request may ask for: the trace is held in memory
/// until it ends (Go streams it; see docs/semantics.md).
pub(crate) const MAX_TRACE_SECS: f64 = 60.0;
/// The index's refresh period unless `?refresh=N` says otherwise.
const DEFAULT_REFRESH_SECS: u64 = 5;

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// A running debug server, from [`serve`](super::serve).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    listener: Arc<TcpListener>,
    closing: Arc<AtomicBool>,
    accept: JoinHandle<()>,
}

impl Server {
    pub(crate) async fn bind(addr: impl crate::net::ToSocketAddrs) -> io::Result<Server> {
        let listener = Arc::new(TcpListener::bind(addr).await?);
        let addr = listener.local_addr()?;
        let closing = Arc::new(AtomicBool::new(false));
        let accept = crate::task::Builder::new()
            .name("gort-debug accept")
            .spawn(accept_loop(listener.clone(), closing.clone()));
        tracing::debug!(%addr, "gort debug server listening");
        Ok(Server {
            addr,
            listener,
            closing,
            accept,
        })
    }

    /// The address the server listens on (the port chosen, when bound to
    /// port 0).
    ///
    /// ```
    /// #[gort::main(procs = 2)]
    /// async fn main() -> std::io::Result<()> {
    ///     let srv = gort::debug::serve("127.0.0.1:0").await?;
    ///     assert_ne!(srv.local_addr().port(), 0);
    ///     srv.shutdown().await
    /// }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the listener, aborts the open connections and waits for
    /// them (a trace a connection was taking is stopped).
    ///
    /// # Errors
    ///
    /// An `Other` error if the accept loop panicked.
    pub async fn shutdown(self) -> io::Result<()> {
        // Release: pairs with the accept loop's Acquire load after its
        // accept fails, so it reads the flag set before the close that
        // failed it.
        self.closing.store(true, Ordering::Release);
        self.listener.close();
        self.accept.await.map_err(io::Error::other)
    }
}

async fn accept_loop(listener: Arc<TcpListener>, closing: Arc<AtomicBool>) {
    let mut conns = JoinSet::new();
    let mut pause = Duration::ZERO;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                pause = Duration::ZERO;
                while conns.try_join_next().is_some() {}
                // Pages go out whole: no Nagle delay.
                let _ = stream.set_nodelay(true);
                conns.insert(
                    crate::task::Builder::new()
                        .name("gort-debug conn")
                        .spawn(connection(stream)),
                );
            }
            // Acquire: pairs with `shutdown`'s Release store.
            Err(_) if closing.load(Ordering::Acquire) => break,
            Err(e) => {
                pause = (pause * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                tracing::warn!(error = %e, ?pause, "gort debug server: accept failed; retrying");
                crate::time::sleep(pause).await;
            }
        }
    }
    conns.shutdown().await;
}

async fn connection(stream: TcpStream) {
    let served = http1::Builder::new()
        .timer(Timer::new())
        .serve_connection(stream, service_fn(handle))
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "gort debug server: connection ended");
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    Ok(route(&method, &path, &query).await)
}

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("a constant content type"),
    );
    // As Go's pprof: the browser must not guess another type.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The value of `key` in a query string.
fn param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `?seconds=`, as Go's pprof reads it: a float, 1 when absent, invalid
/// or not positive; here also at most [`MAX_TRACE_SECS`].
fn seconds(query: &str) -> f64 {
    match param(query, "seconds").and_then(|s| s.parse::<f64>().ok()) {
        Some(s) if s > 0.0 && s.is_finite() => s.min(MAX_TRACE_SECS),
        _ => 1.0,
    }
}

/// The response to `method path?query`.
pub(crate) async fn route(method: &Method, path: &str, query: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = respond(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "405 method not allowed\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/debug/gort" => {
            let mut r = respond(StatusCode::PERMANENT_REDIRECT, TEXT, "");
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/debug/gort/"));
            r
        }
        "/debug/gort/" => {
            let refresh = match param(query, "refresh").and_then(|s| s.parse::<u64>().ok()) {
                Some(0) => None,
                Some(s) => Some(s),
                None => Some(DEFAULT_REFRESH_SECS),
            };
            let page = pages::index(&crate::runtime::dump(), &crate::runtime::metrics(), refresh);
            respond(StatusCode::OK, HTML, page)
        }
        "/debug/gort/goroutine" => {
            let dump = crate::runtime::dump();
            match param(query, "debug") {
                Some("2") => respond(StatusCode::OK, TEXT, dump),
                _ => respond(
                    StatusCode::OK,
                    TEXT,
                    goroutines::profile(&goroutines::parse(&dump)),
                ),
            }
        }
        "/debug/gort/metrics" => respond(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            metrics::render(&crate::runtime::metrics()),
        ),
        "/debug/gort/trace" => match capture(seconds(query)).await {
            Ok(json) => {
                let mut r = respond(StatusCode::OK, JSON, json);
                r.headers_mut().insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"gort-trace.json\""),
                );
                r
            }
            Err(e) => trace_error(&e),
        },
        "/debug/gort/trace/view" => {
            let secs = seconds(query);
            match capture(secs).await {
                Ok(json) => match timeline::Timeline::parse(&json) {
                    Ok(t) => respond(StatusCode::OK, HTML, timeline::html(&t, Some(secs))),
                    Err(e) => respond(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        TEXT,
                        format!("the trace did not parse: {e}\n"),
                    ),
                },
                Err(e) => trace_error(&e),
            }
        }
        _ => respond(StatusCode::NOT_FOUND, TEXT, "404 page not found\n"),
    }
}

/// Go's pprof answers a trace it cannot take with 500 and the reason.
fn trace_error(e: &io::Error) -> Response<Full<Bytes>> {
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        TEXT,
        format!("Could not enable tracing: {e}\n"),
    )
}

/// The trace's writer: a buffer the handler keeps a handle on.
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A trace this handler started: stopped on drop unless already stopped,
/// so that a request cancelled mid-trace (the client left, the server
/// shut down) does not leave the process tracing.
struct Tracing {
    running: bool,
}

impl Tracing {
    fn stop(mut self) -> io::Result<()> {
        self.running = false;
        trace::stop()
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if self.running {
            let _ = trace::stop();
        }
    }
}

/// Traces the whole process for `secs` seconds; the JSON.
async fn capture(secs: f64) -> io::Result<String> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    trace::start(Sink(buf.clone()))?;
    let tracing = Tracing { running: true };
    crate::time::sleep(Duration::from_secs_f64(secs)).await;
    tracing.stop()?;
    let bytes = std::mem::take(&mut *buf.lock().unwrap_or_else(PoisonError::into_inner));
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        assert_eq!(param("debug=2", "debug"), Some("2"));
        assert_eq!(param("a=1&seconds=0.5", "seconds"), Some("0.5"));
        assert_eq!(param("flag&x=1", "flag"), Some(""));
        assert_eq!(param("", "debug"), None);
        assert_eq!(seconds("seconds=0.25"), 0.25);
        assert_eq!(seconds("seconds=-1"), 1.0);
        assert_eq!(seconds("seconds=abc"), 1.0);
        assert_eq!(seconds(""), 1.0);
        assert_eq!(seconds("seconds=1e9"), MAX_TRACE_SECS);
    }
}
