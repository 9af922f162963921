//! `http_hello`: hyper's HTTP/1.1 hello-world service on each runtime,
//! loaded by `wrk` over loopback.
//!
//! gort's side is the `http` example's code itself: its adapters
//! (`examples/http/hyper_gort.rs`, included below) plug gort into hyper's
//! `rt` traits. tokio's side is the same service and the same
//! `http1::Builder` settings behind adapters of the same shape over
//! `tokio::net` and `tokio::time` ([`hyper_tokio`]; what hyper-util's
//! `TokioIo` and `TokioTimer` do). Go's twin serves the same body with
//! `net/http`.
//!
//! The load generator is `wrk` ([`WRK_ARGS`]), a separate process sharing
//! the machine's cores with the server, the same for every contender.
//! Without `wrk` on `PATH` the workload is skipped and every field is `NA`
//! (see [`wrk_available`]).

#[path = "../../../examples/http/hyper_gort.rs"]
mod hyper_gort;

use std::io;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;

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
/// `hyper_gort::serve` (a task per connection), then one `wrk` run
/// against it from this (non-runtime) thread. The value is ns per request,
/// 1e9 / wrk's requests per second, so lower is better as elsewhere; the
/// extra fields are `rps` and `p99_us` (wrk's 99th-percentile latency in
/// µs).
pub(crate) fn http_hello_gort(rt: &<Gort as System>::Runtime) -> RoundResult {
    let listener = on_task::<Gort, _>(rt, async {
        Arc::new(
            gort::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        )
    });
    let addr = listener.local_addr().expect("local_addr");
    let server = Gort::spawn_on(&Gort::handle(rt), {
        let listener = listener.clone();
        async move {
            let _ = hyper_gort::serve(&listener).await;
        }
    });
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
}

impl WrkReport {
    fn into_round(self) -> RoundResult {
        RoundResult {
            value: 1e9 / self.rps,
            late: Vec::new(),
            extra: vec![("rps", self.rps), ("p99_us", self.p99_us)],
        }
    }
}

/// Runs wrk against `http://addr/` and parses its report.
///
/// # Panics
///
/// When wrk fails or its report has no rate or no p99 (the harness has
/// checked that wrk exists).
fn wrk(addr: SocketAddr) -> WrkReport {
    let out = Command::new("wrk")
        .args(WRK_ARGS)
        .arg(format!("http://{addr}/"))
        .stdin(Stdio::null())
        .output()
        .expect("starting wrk");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Reads `Requests/sec:` and the `99%` line of `--latency` from wrk's
/// report. A report with socket errors or non-2xx responses is refused:
/// the rate would count failures.
fn parse_wrk(report: &str) -> io::Result<WrkReport> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("wrk: {what}"));
    if report.contains("Non-2xx") || report.contains("Socket errors") {
        return Err(bad("errors during the run"));
    }
    let mut rps = None;
    let mut p99_us = None;
    for line in report.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => rps = v.parse::<f64>().ok(),
            (Some("99%"), Some(v)) => p99_us = duration_us(v),
            _ => {}
        }
    }
    match (rps, p99_us) {
        (Some(rps), Some(p99_us)) if rps > 0.0 => Ok(WrkReport { rps, p99_us }),
        _ => Err(bad("no Requests/sec or no 99% latency")),
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

/// hyper on tokio: the adapters of `hyper_gort`, over `tokio::net` and
/// `tokio::time`, and the same accept loop and connection settings.
mod hyper_tokio {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use hyper::rt::{ReadBufCursor, Sleep, Timer};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use tokio::io::{AsyncRead, AsyncWrite};
    use tokio::net::{TcpListener, TcpStream};

    use super::hyper_gort::hello;

    /// A tokio stream as hyper's `Read` + `Write`.
    struct TokioIo(TcpStream);

    impl hyper::rt::Read for TokioIo {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            // SAFETY: tokio's ReadBuf never de-initialises bytes, and only
            // the ones it reports filled are counted below.
            let n = unsafe {
                let mut tbuf = tokio::io::ReadBuf::uninit(buf.as_mut());
                match Pin::new(&mut self.0).poll_read(cx, &mut tbuf) {
                    Poll::Ready(Ok(())) => tbuf.filled().len(),
                    other => return other,
                }
            };
            // SAFETY: the read initialised and filled the first `n` bytes.
            unsafe { buf.advance(n) };
            Poll::Ready(Ok(()))
        }
    }

    impl hyper::rt::Write for TokioIo {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.0.is_write_vectored()
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    /// hyper's timer over `tokio::time`.
    #[derive(Clone, Copy)]
    struct TokioTimer;

    pin_project_lite::pin_project! {
        struct TokioSleep {
            #[pin]
            inner: tokio::time::Sleep,
        }
    }

    impl Future for TokioSleep {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.project().inner.poll(cx)
        }
    }

    impl Sleep for TokioSleep {}

    impl Timer for TokioTimer {
        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
            Box::pin(TokioSleep {
                inner: tokio::time::sleep(duration),
            })
        }

        fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
            Box::pin(TokioSleep {
                inner: tokio::time::sleep_until(deadline.into()),
            })
        }

        fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
            match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
                Some(ours) => ours.project().inner.reset(new_deadline.into()),
                None => *sleep = self.sleep_until(new_deadline),
            }
        }
    }

    /// `hyper_gort::serve_connection` on tokio.
    async fn serve_connection(stream: TcpStream) -> hyper::Result<()> {
        let _ = stream.set_nodelay(true);
        http1::Builder::new()
            .timer(TokioTimer)
            .serve_connection(TokioIo(stream), service_fn(hello))
            .await
    }

    /// `hyper_gort::serve` on tokio.
    pub(super) async fn serve(listener: &TcpListener) -> io::Result<()> {
        loop {
            let (stream, _peer) = listener.accept().await?;
            drop(tokio::spawn(async move {
                let _ = serve_connection(stream).await;
            }));
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
        let r = parse_wrk(REPORT).unwrap();
        assert_eq!(r.rps, 51868.81);
        assert!((r.p99_us - 812.0).abs() < 1e-9);
        let round = r.into_round();
        assert!((round.value - 1e9 / 51868.81).abs() < 1e-6);
        assert_eq!(round.extra[0].0, "rps");
        assert_eq!(round.extra[1].0, "p99_us");
    }

    #[test]
    fn refuses_errors_and_missing_lines() {
        let errs = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse_wrk(&errs).is_err());
        assert!(parse_wrk("Requests/sec: 10\n").is_err());
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
