//! Go's `net/http/pprof` for gort: the runtime's tasks, Ps, Ms, counters
//! and execution traces as pages a browser opens (cargo feature `debug`).
//!
//! [`serve`] starts an HTTP/1.1 server (hyper, on [`gort::hyper`](crate::hyper))
//! on its own listener, with these routes:
//!
//! | route | content |
//! |-------|---------|
//! | `GET /debug/gort/` | HTML: tasks by wait reason (counts, the oldest), Ps with their queue lengths, Ms by state, sysmon's counters; refreshes itself (`?refresh=N`, 0 for never) |
//! | `GET /debug/gort/goroutine?debug=1` | text: `N [reason] file:line`, one line per (reason, spawn site) |
//! | `GET /debug/gort/goroutine?debug=2` | text: the goroutine dump ([`runtime::dump`](crate::runtime::dump)) |
//! | `GET /debug/gort/metrics` | Prometheus text: [`Metrics`](crate::runtime::Metrics) as `gort_*` |
//! | `GET /debug/gort/trace?seconds=N` | an execution trace of N seconds ([`runtime::trace`](crate::runtime::trace)'s JSON) |
//! | `GET /debug/gort/trace/view?seconds=N` | HTML: that trace as an SVG timeline, one lane per M |
//!
//! `N` is a number of seconds, fractions allowed (1 when absent, at most
//! 60). A trace while another runs (a second request, or the program's
//! own `runtime::trace::start`) answers 500, as Go's pprof does. Pages are
//! self-contained: no script, stylesheet or font from elsewhere.
//!
//! The design of each part is in its file: `server.rs` (listener, tasks,
//! shutdown, routes), `pages.rs` (the index), `goroutines.rs` (the dump
//! read back), `metrics.rs` (the text format), `timeline.rs` (the SVG).
//! Where gort's pages differ from Go's: docs/semantics.md, "Debug pages".
//!
//! ```
//! #[gort::main(procs = 2)]
//! async fn main() -> std::io::Result<()> {
//!     let srv = gort::debug::serve("127.0.0.1:0").await?;
//!     println!("open http://{}/debug/gort/", srv.local_addr());
//!     srv.shutdown().await
//! }
//! ```

mod goroutines;
mod metrics;
mod pages;
mod server;
mod timeline;

use std::io;

pub use server::Server;

/// Serves the debug pages on `addr` (Go's `http.ListenAndServe` with
/// `net/http/pprof` imported, on a listener of their own) until
/// [`Server::shutdown`]. The server's tasks run on the current runtime,
/// whose tasks and counters the pages show.
///
/// # Errors
///
/// The bind's: the address is in use, or cannot be resolved.
///
/// # Panics
///
/// Outside a gort runtime.
pub async fn serve(addr: impl crate::net::ToSocketAddrs) -> io::Result<Server> {
    Server::bind(addr).await
}

/// The page `/debug/gort/trace/view` serves, made from a trace written
/// earlier by [`runtime::trace`](crate::runtime::trace) (say, a
/// `GORT_DEBUG=trace=PATH` file), as `go tool trace FILE` opens a saved
/// trace: an HTML page with the SVG timeline, one lane per M.
///
/// # Errors
///
/// `InvalidData` if `trace_json` is not JSON.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// struct Sink(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Sink {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().write(b)
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let out = Arc::new(Mutex::new(Vec::new()));
/// gort::runtime::trace::start(Sink(out.clone())).unwrap();
/// let rt = gort::Runtime::new().unwrap();
/// rt.block_on(async {
///     gort::spawn(async {}).await.unwrap();
/// });
/// gort::runtime::trace::stop().unwrap();
/// let json = String::from_utf8(out.lock().unwrap().clone()).unwrap();
/// let page = gort::debug::timeline_html(&json).unwrap();
/// assert!(page.contains("<svg id=\"timeline\""));
/// assert!(page.contains("<rect class=\"slice\""));
/// ```
pub fn timeline_html(trace_json: &str) -> io::Result<String> {
    let t = timeline::Timeline::parse(trace_json)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(timeline::html(&t, None))
}
