//! `gort::debug`'s pages over HTTP (feature `debug`): each route's status,
//! content type and content; the metrics through a Prometheus text-format
//! parser written here; the timeline's lanes against the Ms of the trace
//! it drew; `/trace` while a trace runs answers 500; shutdown closes the
//! listener and stops a trace a connection was taking.
//!
//! Tracing is process-wide, so every check that traces is in one test,
//! `traces`, run in sequence. Each wait is a bounded loop with a generous
//! cap; nothing compares wall-clock times.

#![cfg(feature = "debug")]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use gort::net::TcpStream;
use gort::runtime::trace;
use gort::sync::chan;

/// One response: status, headers (lower-case names), body.
struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Resp {
    fn content_type(&self) -> &str {
        self.headers.get("content-type").map_or("", String::as_str)
    }
}

/// `method path` over a new connection, read to its close.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: gort\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path).await
}

/// Waits (bounded) until the dump shows `n` tasks parked on `reason`.
async fn wait_parked(reason: &str, n: usize) {
    let tag = format!("[{reason},");
    for _ in 0..5000 {
        if gort::runtime::dump().matches(&tag).count() >= n {
            return;
        }
        gort::time::sleep(Duration::from_millis(1)).await;
    }
    panic!(
        "{n} tasks never parked on {reason}:\n{}",
        gort::runtime::dump()
    );
}

/// No script, stylesheet, image or font from elsewhere.
fn assert_self_contained(html: &str) {
    for banned in [
        "<script", "<link", "src=", "url(", "@import", "https://", "http://",
    ] {
        let hits: Vec<_> = html.match_indices(banned).collect();
        // The SVG namespace is a name, not a fetch.
        let real = hits
            .iter()
            .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
            .count();
        assert_eq!(real, 0, "the page holds {banned:?}");
    }
}

#[gort::test(procs = 2)]
async fn index_shows_tasks_ps_ms_and_counters() {
    let srv = gort::debug::serve("127.0.0.1:0").await.unwrap();
    let (_tx, rx) = chan::<u32>(0);
    for _ in 0..3 {
        let rx = rx.clone();
        gort::task::Builder::new()
            .name("waiter")
            .spawn(async move { rx.recv().await });
    }
    wait_parked("chan receive", 3).await;

    let r = get(srv.local_addr(), "/debug/gort/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "text/html; charset=utf-8");
    let b = &r.body;
    assert!(b.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(b.contains("<table id=\"tasks\">"));
    assert!(
        b.contains("<tr><td>chan receive</td><td class=\"n\">3</td>"),
        "{b}"
    );
    assert!(b.contains("<td>waiter</td>"));
    assert!(b.contains("<table id=\"ps\">"));
    for p in 0..gort::runtime::gomaxprocs() {
        assert!(b.contains(&format!("<tr><td>P{p}</td>")), "no P{p} row");
    }
    assert!(b.contains("<table id=\"ms\">"));
    // One row per M, as `scheddetail`: each names an M the runtime has
    // (Ms are only ever added, so the snapshot after the page has them all).
    let ms = gort::runtime::metrics().ms;
    let rows: Vec<&str> = b
        .match_indices("<tr class=\"m\"><td>M")
        .map(|(i, _)| &b[i..])
        .collect();
    assert!(!rows.is_empty(), "no M row: {b}");
    for row in rows {
        let id: usize = row["<tr class=\"m\"><td>M".len()..]
            .split('<')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("an M id");
        assert!(ms.iter().any(|m| m.id == id), "M{id} is no M: {ms:?}");
        let state = row.split("<td>").nth(2).and_then(|s| s.split('<').next());
        assert!(
            matches!(state, Some("running" | "spinning" | "syscall" | "idle")),
            "{row}"
        );
    }
    assert!(b.contains("<table id=\"m-counts\">"));
    assert!(b.contains("sysmon retakes"));
    assert_self_contained(b);

    let r = get(srv.local_addr(), "/debug/gort/?refresh=0").await;
    assert!(!r.body.contains("http-equiv=\"refresh\""));
    let r = get(srv.local_addr(), "/debug/gort").await;
    assert_eq!(r.status, 308);
    assert_eq!(r.headers["location"], "/debug/gort/");
    srv.shutdown().await.unwrap();
}

#[gort::test(procs = 2)]
async fn goroutine_text_has_go_forms() {
    let srv = gort::debug::serve("127.0.0.1:0").await.unwrap();
    let (_tx, rx) = chan::<u32>(0);
    let site = format!("tests/debug_pages.rs:{}", line!() + 3);
    for _ in 0..4 {
        let rx = rx.clone();
        gort::spawn(async move { rx.recv().await });
    }
    wait_parked("chan receive", 4).await;

    let r = get(srv.local_addr(), "/debug/gort/goroutine?debug=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "text/plain; charset=utf-8");
    let mut lines = r.body.lines();
    let total: usize = lines
        .next()
        .unwrap()
        .strip_prefix("goroutine profile: total ")
        .unwrap()
        .parse()
        .unwrap();
    let mut sum = 0;
    let mut groups = BTreeSet::new();
    for l in lines {
        // `N [reason] file:line`
        let (n, rest) = l.split_once(" [").unwrap_or_else(|| panic!("{l:?}"));
        let (reason, site) = rest.split_once("] ").unwrap();
        let (_, line) = site.rsplit_once(':').unwrap();
        line.parse::<u32>().unwrap();
        sum += n.parse::<usize>().unwrap();
        assert!(groups.insert((reason, site)), "{l:?} twice");
    }
    assert_eq!(sum, total);
    assert!(
        r.body.contains(&format!("\n4 [chan receive] {site}\n")),
        "{}",
        r.body
    );

    let r = get(srv.local_addr(), "/debug/gort/goroutine?debug=2").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "text/plain; charset=utf-8");
    assert_eq!(r.body.matches(&format!("\tspawned at {site}\n")).count(), 4);
    assert!(r.body.contains("[chan receive, "));
    srv.shutdown().await.unwrap();
}

/// A Prometheus text-format family: its type and samples.
#[derive(Default, Debug)]
struct Family {
    help: bool,
    kind: Option<String>,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

fn valid_name(n: &str) -> bool {
    let mut cs = n.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the text exposition format (0.0.4), panicking on a line that
/// breaks it: comments `# HELP name text` and `# TYPE name type` before
/// the family's samples, samples `name{k="v",...} value`.
fn parse_prometheus(text: &str) -> BTreeMap<String, Family> {
    let mut fams: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let (what, rest) = rest.split_once(' ').unwrap();
            let (name, arg) = rest.split_once(' ').unwrap();
            assert!(valid_name(name), "{line:?}");
            let f = fams.entry(name.to_string()).or_default();
            assert!(f.samples.is_empty(), "comment after samples: {line:?}");
            match what {
                "HELP" => f.help = !arg.is_empty(),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg),
                        "{line:?}"
                    );
                    assert!(f.kind.replace(arg.to_string()).is_none(), "two TYPEs");
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line:?}"));
                let labels = inner
                    .split(',')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap();
                        assert!(valid_name(k), "{line:?}");
                        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                        (
                            k.to_string(),
                            v.unwrap_or_else(|| panic!("{line:?}")).to_string(),
                        )
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(valid_name(name), "{line:?}");
        // A histogram's samples belong to the family without the suffix.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| fams.get(*f).and_then(|f| f.kind.as_deref()) == Some("histogram"))
            })
            .unwrap_or(name);
        let f = fams
            .get_mut(family)
            .unwrap_or_else(|| panic!("{name} has no HELP or TYPE"));
        f.samples.push((name.to_string(), labels, value));
    }
    fams
}

#[gort::test(procs = 2)]
async fn metrics_pass_a_prometheus_parser() {
    let srv = gort::debug::serve("127.0.0.1:0").await.unwrap();
    for _ in 0..100 {
        gort::spawn(async {}).await.unwrap();
    }
    let r = get(srv.local_addr(), "/debug/gort/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    let fams = parse_prometheus(&r.body);
    for (name, f) in &fams {
        assert!(name.starts_with("gort_"), "{name}");
        assert!(f.help, "{name} has no HELP");
        let kind = f
            .kind
            .as_deref()
            .unwrap_or_else(|| panic!("{name} has no TYPE"));
        assert!(!f.samples.is_empty(), "{name} has no sample");
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name}: {kind}"
        );
    }
    let qs = &fams["gort_local_queue_len"].samples;
    let ps: Vec<_> = qs.iter().map(|(_, l, _)| l["p"].clone()).collect();
    let want: Vec<_> = (0..gort::runtime::gomaxprocs())
        .map(|p| p.to_string())
        .collect();
    assert_eq!(ps, want);
    assert!(fams["gort_polls_total"].samples[0].2 >= 100.0);
    for f in [
        "gort_threads",
        "gort_tasks",
        "gort_steals_total",
        "gort_sysmon_retakes_total",
    ] {
        assert!(fams.contains_key(f), "no {f}");
    }
    // The histogram: cumulative buckets, +Inf last and equal to _count.
    let h = &fams["gort_sched_latencies_seconds"];
    let buckets: Vec<_> = h
        .samples
        .iter()
        .filter(|s| s.0.ends_with("_bucket"))
        .collect();
    assert!(buckets.windows(2).all(|w| w[0].2 <= w[1].2));
    assert_eq!(buckets.last().unwrap().1["le"], "+Inf");
    let count = h
        .samples
        .iter()
        .find(|s| s.0.ends_with("_count"))
        .unwrap()
        .2;
    assert_eq!(buckets.last().unwrap().2, count);
    srv.shutdown().await.unwrap();
}

#[gort::test(procs = 2)]
async fn unknown_routes_and_methods() {
    let srv = gort::debug::serve("127.0.0.1:0").await.unwrap();
    let addr = srv.local_addr();
    for path in [
        "/",
        "/debug/gort/nope",
        "/debug/pprof/",
        "/debug/gort/trace/x",
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, "404 page not found\n");
    }
    let r = request(addr, "POST", "/debug/gort/").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, HEAD");
    srv.shutdown().await.unwrap();
    // Closed: nothing listens on the port any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

/// Tasks that sleep and send, so that a trace has polls on the Ms.
fn load(n: usize) {
    let (tx, rx) = chan::<usize>(n);
    for i in 0..n {
        let tx = tx.clone();
        gort::spawn(async move {
            gort::time::sleep(Duration::from_millis(1 + (i % 20) as u64)).await;
            let _ = tx.send(i).await;
        });
    }
    gort::spawn(async move { while rx.recv().await.is_some() {} });
}

/// The `data-m` of every lane and the count of slices of a timeline page.
fn lanes_and_slices(page: &str) -> (BTreeSet<u64>, usize, usize) {
    let lanes = page
        .match_indices("<g class=\"lane\" data-m=\"")
        .map(|(i, pat)| {
            let rest = &page[i + pat.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    let declared = page
        .split_once("data-ms=\"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(n, _)| n.parse().unwrap())
        .unwrap();
    (
        lanes,
        declared,
        page.matches("<rect class=\"slice\"").count(),
    )
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[gort::test(procs = 2)]
async fn traces() {
    let srv = gort::debug::serve("127.0.0.1:0").await.unwrap();
    let addr = srv.local_addr();

    // 1. /trace: the tracer's JSON.
    load(50);
    let r = get(addr, "/debug/gort/trace?seconds=0.2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type(), "application/json");
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["ph"] == "X"), "no poll slice");

    // 2. /trace/view: an SVG with a lane per M it declares, and slices.
    load(50);
    let r = get(addr, "/debug/gort/trace/view?seconds=0.2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type(), "text/html; charset=utf-8");
    assert!(r.body.contains("<svg id=\"timeline\""));
    let (lanes, declared, slices) = lanes_and_slices(&r.body);
    assert_eq!(lanes.len(), declared);
    assert!(!lanes.is_empty() && slices >= 1, "{lanes:?} {slices}");
    assert!(r.body.contains("<title>task "));
    assert_self_contained(&r.body);

    // 3. A known trace: the timeline's lanes are exactly its Ms, and every
    // poll on an M is a slice.
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    trace::start(Sink(out.clone())).unwrap();
    load(40);
    gort::time::sleep(Duration::from_millis(60)).await;
    trace::stop().unwrap();
    let json = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut ms = BTreeSet::new();
    let mut polls = 0;
    for e in v["traceEvents"].as_array().unwrap() {
        let (pid, tid) = (e["pid"].as_u64(), e["tid"].as_u64().unwrap_or(u64::MAX));
        if pid == Some(1) && tid < trace::THREAD_TID_BASE {
            if e["ph"] == "X" {
                polls += 1;
            }
            if e["ph"] == "X" || e["name"] == "thread_name" {
                ms.insert(tid);
            }
        }
    }
    assert!(polls >= 40, "{polls} polls");
    let page = gort::debug::timeline_html(&json).unwrap();
    let (lanes, declared, slices) = lanes_and_slices(&page);
    assert_eq!(lanes, ms);
    assert_eq!(declared, ms.len());
    assert_eq!(slices, polls);

    // 4. While a trace runs, /trace and /trace/view answer 500, as Go's pprof.
    trace::start(Vec::new()).unwrap();
    for path in [
        "/debug/gort/trace?seconds=0.1",
        "/debug/gort/trace/view?seconds=0.1",
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 500, "{path}");
        assert!(r.body.starts_with("Could not enable tracing"), "{}", r.body);
    }
    trace::stop().unwrap();

    // 5. Shutdown in the middle of a 30 s trace: the connection is
    // aborted, and its trace stopped with it.
    let pending = gort::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = "GET /debug/gort/trace?seconds=30 HTTP/1.1\r\nHost: gort\r\n\r\n";
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw).await;
        raw
    });
    let mut tracing = false;
    for _ in 0..5000 {
        match trace::start(Vec::new()) {
            Ok(()) => trace::stop().unwrap(),
            Err(_) => {
                tracing = true;
                break;
            }
        }
        gort::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(tracing, "the request never started its trace");
    srv.shutdown().await.unwrap();
    trace::start(Vec::new()).expect("the aborted request's trace was stopped");
    trace::stop().unwrap();
    let answer = pending.await.unwrap();
    assert!(answer.is_empty(), "an aborted trace answered something");
}
