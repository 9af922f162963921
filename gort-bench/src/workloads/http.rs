//! `http_hello`: hyper's HTTP/1.1 hello-world service on each runtime,
//! loaded by `wrk` over loopback.
//!
//! gort's side is the `http` example's server itself
//! (`examples/http/hyper_gort.rs`, included below): hyper through
//! `gort::hyper`, each accepted `TcpStream` handed to hyper as it is (gort's
//! sockets implement hyper's `Read` + `Write` and read into hyper's
//! uninitialised buffer). `gort_io` is the same server with each stream in
//! `gort::hyper::Io::with_write_vectored` instead: the generic
//! `futures::io` adapter, which zeroes hyper's spare buffer before each
//! read; the two differ by that memset alone. tokio's side is the same
//! service and the same `http1::Builder` settings through hyper-util's
//! `TokioIo`, `TokioTimer` and `TokioExecutor` ([`hyper_tokio`]). Go's twin
//! serves the same body with `net/http`. `smol=NA`: hyper has no smol
//! executor or timer of its own (hyper-util's are tokio's; `smol-hyper` is
//! a third-party adapter, not smol's), so a smol figure would measure an
//! adapter written here rather than smol.
//!
//! The load generator is `wrk` ([`WRK_ARGS`]), a separate process sharing
//! the machine's cores with the server, the same for every contender.
//! Without `wrk` on `PATH` the workload is skipped and every field is `NA`
//! (see [`wrk_available`]).
//!
//! # CPU per request
//!
//! On two cores, loopback throughput is bound by the kernel's TCP stack and
//! by wrk itself, so requests per second say little about the runtime.
//! Each round therefore also reads this process's CPU time
//! (`getrusage(RUSAGE_SELF)`, which leaves out wrk, a child process) just
//! before wrk starts and just after it exits, and divides the user-space
//! and kernel deltas by wrk's request count: `SYSTEM_user_ns` and
//! `SYSTEM_sys_ns`, nanoseconds of CPU per request, lower is better.

// The example's client (`get`) is not used here.
#[allow(dead_code)]
#[path = "../../../examples/http/hyper_gort.rs"]
mod hyper_gort;

use std::io;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::on_task;
use crate::harness::RoundResult;
use crate::system::{Gort, System, Tokio};

/// wrk's flags, before the URL: 2 threads, 64 connections kept alive, 3 s,
/// with the latency distribution (Go: `wrkArgs`).
pub(crate) const WRK_ARGS: [&str; 4] = ["-t2", "-c64", "-d3s", "--latency"];

/// Whether `wrk` can be started.
pub(crate) fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `http_hello` on gort: a listener on `127.0.0.1:0` served by
/// `hyper_gort::serve` (a task per connection, the stream handed to hyper
/// directly), then one `wrk` run against it from this (non-runtime)
/// thread. The value is ns per request, 1e9 / wrk's requests per second,
/// so lower is better as elsewhere; the extra fields are `rps`, `p99_us`
/// (wrk's 99th-percentile latency in µs), and `user_ns` and `sys_ns`
/// (this process's CPU per request, see the module docs).
pub(crate) fn http_hello_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    gort_round(rt, |listener| async move {
        let _ = hyper_gort::serve(&listener).await;
    })
}

/// [`http_hello_gort`] with every stream in `gort::hyper::Io` (the
/// portable adapter, which zeroes hyper's read buffer first), told that
/// the stream writes vectors so that only the read path differs.
pub(crate) fn http_hello_gort_io(rt: &<Gort as System>::Runtime) -> RoundResult {
    gort_round(rt, |listener| async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            drop(gort::spawn(async move {
                let io = gort::hyper::Io::with_write_vectored(stream);
                let _ = hyper_gort::serve_connection(io).await;
            }));
        }
    })
}

/// One gort round: `serve` accepts on a fresh listener until it is
/// closed, while wrk runs.
fn gort_round<S, F>(rt: &<Gort as System>::Runtime, serve: S) -> RoundResult
where
    S: FnOnce(Arc<gort::net::TcpListener>) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = on_task::<Gort, _>(rt, async {
        Arc::new(
            gort::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
    });
    let addr = listener.local_addr().expect("local_addr");
    let server = Gort::spawn_on(&Gort::handle(rt), serve(listener.clone()));
    let report = wrk(addr);
    // Ends the accept loop; the connections end as wrk closes them.
    listener.close();
    Gort::block_on(rt, server);
    report.into_round()
}

/// [`http_hello_gort`] on tokio, through [`hyper_tokio`].
pub(crate) fn http_hello_tokio(rt: &<Tokio as System>::Runtime) -> RoundResult {
    let listener = on_task::<Tokio, _>(rt, async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
    });
    let addr = listener.local_addr().expect("local_addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Tokio::spawn_on(&Tokio::handle(rt), async move {
        tokio::select! {
            _ = hyper_tokio::serve(&listener) => {}
            _ = stopped => {}
        }
    });
    let report = wrk(addr);
    let _ = stop.send(());
    Tokio::block_on(rt, server);
    report.into_round()
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WrkReport {
    rps: f64,
    p99_us: f64,
    /// Requests wrk completed (its `N requests in` line).
    requests: f64,
    /// This process's user-space CPU time during the run.
    user: Duration,
    /// This process's kernel CPU time during the run.
    sys: Duration,
}

impl WrkReport {
    fn into_round(self) -> RoundResult {
        let per_request = |d: Duration| d.as_nanos() as f64 / self.requests;
        RoundResult {
            value: 1e9 / self.rps,
            late: Vec::new(),
            extra: vec![
                ("rps", self.rps),
                ("p99_us", self.p99_us),
                ("user_ns", per_request(self.user)),
                ("sys_ns", per_request(self.sys)),
            ],
        }
    }
}

/// This process's CPU time so far, user and kernel, every thread counted
/// and children (wrk) not: `getrusage(RUSAGE_SELF)`.
fn cpu_times() -> (Duration, Duration) {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `ru` points to writable memory for one `rusage`, which
    // getrusage fills on success.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    // SAFETY: getrusage returned 0, so it initialised `ru`.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// Runs wrk against `http://addr/` and parses its report.
///
/// # Panics
///
/// When wrk fails or its report has no rate or no p99 (the harness has
/// checked that wrk exists).
fn wrk(addr: SocketAddr) -> WrkReport {
    let (user0, sys0) = cpu_times();
    let out = Command::new("wrk")
        .args(WRK_ARGS)
        .arg(format!("http://{addr}/"))
        .stdin(Stdio::null())
        .output()
        .expect("starting wrk");
    let (user1, sys1) = cpu_times();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report = parse_wrk(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    report.user = user1.saturating_sub(user0);
    report.sys = sys1.saturating_sub(sys0);
    report
}

/// Reads `Requests/sec:`, the request count and the `99%` line of
/// `--latency` from wrk's report (the CPU times are left zero). A report with socket errors or non-2xx responses is refused:
/// the rate would count failures.
fn parse_wrk(report: &str) -> io::Result<WrkReport> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("wrk: {what}"));
    if report.contains("Non-2xx") || report.contains("Socket errors") {
        return Err(bad("errors during the run"));
    }
    let mut rps = None;
    let mut p99_us = None;
    let mut requests = None;
    for line in report.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => rps = v.parse::<f64>().ok(),
            (Some("99%"), Some(v)) => p99_us = duration_us(v),
            (Some(n), Some("requests")) => requests = n.parse::<f64>().ok(),
            _ => {}
        }
    }
    match (rps, p99_us, requests) {
        (Some(rps), Some(p99_us), Some(requests)) if rps > 0.0 && requests > 0.0 => Ok(WrkReport {
            rps,
            p99_us,
            requests,
            user: Duration::ZERO,
            sys: Duration::ZERO,
        }),
        _ => Err(bad("no Requests/sec, no request count or no 99% latency")),
    }
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`, in µs.
fn duration_us(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// hyper on tokio through hyper-util's `rt::tokio` (`TokioIo`,
/// `TokioTimer`, `TokioExecutor`): the same accept loop and connection
/// settings as `hyper_gort`.
mod hyper_tokio {
    use std::io;

    use hyper::rt::Executor as _;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tokio::net::{TcpListener, TcpStream};

    use super::hyper_gort::hello;

    /// `hyper_gort::serve_connection` on tokio.
    async fn serve_connection(stream: TcpStream) -> hyper::Result<()> {
        http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), service_fn(hello))
            .await
    }

    /// `hyper_gort::serve` on tokio.
    pub(super) async fn serve(listener: &TcpListener) -> io::Result<()> {
        loop {
            let (stream, _peer) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            TokioExecutor::new().execute(async move {
                let _ = serve_connection(stream).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Running 3s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.33ms    1.30ms  12.64ms   87.81%
    Req/Sec    26.12k     5.37k   42.51k    80.00%
  Latency Distribution
     50%    0.91ms
     75%    1.73ms
     90%    2.89ms
     99%  812.00us
  104481 requests in 2.01s, 8.97MB read
Requests/sec:  51868.81
Transfer/sec:      4.45MB
";

    #[test]
    fn parses_rate_and_p99() {
        let mut r = parse_wrk(REPORT).unwrap();
        assert_eq!(r.rps, 51868.81);
        assert!((r.p99_us - 812.0).abs() < 1e-9);
        assert_eq!(r.requests, 104481.0);
        r.user = Duration::from_millis(1044810);
        r.sys = Duration::from_millis(2 * 104481);
        let round = r.into_round();
        assert!((round.value - 1e9 / 51868.81).abs() < 1e-6);
        let keys: Vec<_> = round.extra.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["rps", "p99_us", "user_ns", "sys_ns"]);
        assert!((round.extra[2].1 - 10e6).abs() < 1e-3);
        assert!((round.extra[3].1 - 2e6).abs() < 1e-3);
    }

    #[test]
    fn refuses_errors_and_missing_lines() {
        let errs = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse_wrk(&errs).is_err());
        assert!(parse_wrk("Requests/sec: 10\n").is_err());
        let no_count = REPORT.replace("104481 requests in", "in");
        assert!(parse_wrk(&no_count).is_err());
    }

    #[test]
    fn cpu_times_grow_with_work() {
        let (u0, s0) = cpu_times();
        let mut x = 0u64;
        while cpu_times().0 == u0 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let (u1, s1) = cpu_times();
        assert!(u1 > u0 && s1 >= s0);
    }

    #[test]
    fn wrk_durations() {
        assert_eq!(duration_us("812.00us"), Some(812.0));
        assert_eq!(duration_us("1.50ms"), Some(1500.0));
        assert_eq!(duration_us("2.00s"), Some(2e6));
        assert_eq!(duration_us("1.00m"), Some(60e6));
        assert_eq!(duration_us("fast"), None);
    }
}
