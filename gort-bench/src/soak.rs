//! `gort-bench soak`: one gort runtime churned for N seconds, checked for
//! lost or duplicated values, leaked tasks and growing memory.
//!
//! ```text
//! gort-bench soak --secs N [--procs P] [--every S] [--csv PATH] [--svg PATH]
//! ```
//!
//! ## What a round does
//!
//! The driver (the `block_on` future) runs rounds until N seconds have
//! passed, one at most every [`ROUND_PERIOD`] (100 ms). Each round spawns these phases as tasks, all at once, and joins
//! them:
//!
//! - **tasks**: [`TASKS_PER_ROUND`] short tasks, spawned and joined in
//!   batches of [`TASK_BATCH`] (about twelve million over a 600 s run);
//! - **channels**: an unbuffered and a buffered (`cap` 16) channel, each
//!   with [`PRODUCERS`] producers sending numbered values and
//!   [`CONSUMERS`] consumers receiving them until the channel closes;
//! - **select**: one consumer in a `gort::select!` over two channels (one
//!   unbuffered, one buffered) and a 1 ms timer;
//! - **timers**: `gort::time::sleep` of 0–2 ms in many tasks, a
//!   `Ticker` read for a few ticks, and `timeout` both elapsing and not;
//! - **contexts**: a `with_cancel` root with `with_cancel` and
//!   `with_timeout` children and grandchildren, tasks waiting on each
//!   `done()`, the root cancelled, every node checked done;
//! - **sync.Map**: tasks storing, loading and deleting keys in
//!   `0..`[`MAP_KEYS`] of one map that lives for the whole run, so its
//!   size is bounded;
//! - **TCP**: a loopback listener; [`CONNS_PER_ROUND`] connections,
//!   at most [`CONN_CONCURRENCY`] open at once (descriptors never run out),
//!   each writing a few bytes that the server task echoes and then closes;
//!   the client reads the echo and the EOF (the server closes first, so
//!   `TIME_WAIT` sits on the listener's side and the client's ephemeral
//!   ports are free again at once).
//!
//! The channel and select phases record every received value in a
//! [`Ledger`]: per value a receive count, plus a count and a checksum of
//! what was sent and what was received. A round whose ledger does not
//! balance (a value missing, received twice, or never sent) ends the run.
//!
//! ## Samples and the verdict
//!
//! A sampler task prints one line every `--every` seconds (default 5;
//! shorter for runs under 20 s): elapsed time, resident set size (from
//! `/proc/self/statm`), the heap in use (bytes allocated and not freed, counted
//! by gort-bench's global allocator: `heap.rs`), live tasks other than the sampler itself
//! (`gort::runtime::num_goroutines() - 1`), the highest `num_goroutines()`
//! a round saw since the last sample (read just after each batch of short
//! tasks is spawned; between rounds the count is 0) and the running totals of tasks
//! spawned, channel messages and connections. The run fails (exit code 1,
//! saying why) unless
//!
//! 1. every ledger balanced: every value sent was received exactly once;
//! 2. after a short drain (up to 2 s) `num_goroutines()` is back to 0;
//! 3. at the end, the resident set (RSS, what the issue asks of a soak)
//!    and the heap in use are each at most 10 % above their **start**
//!    baseline, and the anonymous resident memory (`RssAnon`: heap arenas,
//!    stacks, the runtime's own mappings) at most 10 % above its
//!    **half-way** baseline (below).
//!
//! The memory check compares medians of [`WINDOW`] (5) samples: a
//! baseline window, and the **end** window, the last five samples, the one
//! after the drain included. Two baseline windows ([`Baseline`]):
//!
//! - **start**: from the end of the first tenth of the run. The first
//!   rounds grow the runtime's queues, the timer heaps, the sync.Map and
//!   its recycled blocks to their working size, and page in the code each
//!   phase runs; that is warm-up, not a leak. RSS and the heap in use
//!   (counted exactly, the column that tells a leak) are checked from here.
//! - **half-way**: anonymous RSS, a smaller number in which a slow leak
//!   shows sooner, is checked from half-way, because glibc's per-thread
//!   arenas grow for minutes before they reach their working size (the
//!   600 s run: +23 % from t = 60 s while the heap in use stayed flat,
//!   `docs/perf-log.md`, soak); a leak adds as much in the second half as
//!   in the first, and is seen there.
//!
//! File-backed resident pages (`RssFile`: the binary's and libc's code and
//! read-only data) are part of RSS: they grow as the run reaches code it
//! had not run before (a rare error path, a timer-wheel case) and the
//! kernel pages it in. Medians, because the heap in use swings ±60 KiB
//! between samples (what is retired but not yet reclaimed: each thread's
//! epoch bag holds up to 896 values). The run prints each column's change
//! from its baseline, so a reader sees the growth either way. Memory
//! falling is not a failure (memory given back is not a leak).
//!
//! `--phases` runs only some of the phases (to find which one a failure
//! comes from); the default is all of them.
//!
//! `--csv` writes the samples, `--svg` a line chart of RSS and live tasks
//! over time (plotters' SVG backend; its text is SVG `<text>`, so no font
//! library is needed).

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gort::context;
use gort::net::{TcpListener, TcpStream};
use gort::sync::{chan, Map, Receiver, Sender};
use gort::time::{sleep, timeout, Ticker};

/// Short tasks per round.
pub(crate) const TASKS_PER_ROUND: u64 = 2_000;
/// Tasks spawned before they are joined.
pub(crate) const TASK_BATCH: u64 = 250;
/// Producers per channel.
pub(crate) const PRODUCERS: u64 = 4;
/// Consumers per channel.
pub(crate) const CONSUMERS: u64 = 4;
/// Values per channel per round.
pub(crate) const VALUES_PER_CHAN: u64 = 2_000;
/// Keys of the sync.Map phase: `0..MAP_KEYS`.
pub(crate) const MAP_KEYS: u64 = 512;
/// TCP connections per round.
pub(crate) const CONNS_PER_ROUND: u64 = 16;
/// TCP connections open at once.
pub(crate) const CONN_CONCURRENCY: u64 = 4;
/// Bytes each connection echoes.
const ECHO: &[u8] = b"gort-soak";
/// Growth of anonymous RSS or of the heap over its baseline that fails the
/// run.
const RSS_SLACK: f64 = 0.10;
/// Rounds start at most this often: the run measures staying power, not
/// throughput, and shares its two cores with builds; at full speed the
/// TCP phase would also open thousands of connections a second and fill
/// the loopback's `TIME_WAIT` table.
const ROUND_PERIOD: Duration = Duration::from_millis(100);
/// Samples in the baseline window and in the end window.
const WINDOW: usize = 5;

/// Where a baseline window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Baseline {
    /// After the first tenth of the run: the runtime's and the program's
    /// structures have reached their working size. RSS and the heap in
    /// use are checked from here.
    Start,
    /// Half-way: glibc's per-thread arenas take minutes to reach their
    /// working size (in the 600 s run anonymous RSS rose 124 KiB a minute
    /// at first, 27 a minute in the last five: `docs/perf-log.md`, soak),
    /// so anonymous RSS is checked from here. A leak adds as much in the
    /// second half as in the first, and is seen there.
    HalfWay,
}

impl Baseline {
    /// The time, in seconds into a run of `secs`, where the window starts.
    pub(crate) fn starts_at(self, secs: u64) -> f64 {
        match self {
            Baseline::Start => secs as f64 / 10.0,
            Baseline::HalfWay => secs as f64 / 2.0,
        }
    }
}

/// The baseline: the medians of the first [`WINDOW`] samples from
/// `which`'s time on (the final sample excluded), stamped with the
/// first's time; `None` if the run has fewer.
fn baseline(samples: &[Sample], secs: u64, which: Baseline) -> Option<Sample> {
    let warm = which.starts_at(secs);
    let body = &samples[..samples.len().saturating_sub(1)];
    let from = body.iter().position(|s| s.elapsed >= warm)?;
    let window = &body[from..(from + WINDOW).min(body.len())];
    (window.len() == WINDOW).then(|| window_median(window))?
}

/// Per memory column, the median over `window` (the upper one of an even
/// count); the other fields are the first sample's. `None` if empty.
fn window_median(window: &[Sample]) -> Option<Sample> {
    let median = |f: fn(&Sample) -> u64| {
        let mut v: Vec<u64> = window.iter().map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let first = *window.first()?;
    Some(Sample {
        rss_kib: median(|s| s.rss_kib),
        anon_kib: median(|s| s.anon_kib),
        heap_kib: median(|s| s.heap_kib),
        ..first
    })
}

/// How long the end waits for the last tasks to finish.
const DRAIN: Duration = Duration::from_secs(2);

/// The soak command's options.
#[derive(Debug, PartialEq)]
pub(crate) struct Options {
    pub(crate) secs: u64,
    pub(crate) procs: usize,
    /// Sample period in seconds.
    pub(crate) every: u64,
    pub(crate) csv: Option<PathBuf>,
    pub(crate) svg: Option<PathBuf>,
    /// The phases each round runs (`--phases a,b,...`; default [`PHASES`]).
    pub(crate) phases: Vec<String>,
    /// Whether memory growth past [`RSS_SLACK`] fails the run
    /// (`--no-rss-limit` turns it into a report, for runs that look for
    /// something else).
    pub(crate) rss_limit: bool,
}

/// Every phase, in the order a round spawns them.
pub(crate) const PHASES: &[&str] = &["tasks", "chan", "select", "timers", "context", "map", "tcp"];

/// The usage line.
pub(crate) const USAGE: &str =
    "gort-bench soak --secs N [--procs P] [--every S] [--csv PATH] [--svg PATH] [--phases tasks,chan,select,timers,context,map,tcp] [--no-rss-limit]";

/// Parses the arguments after `soak`.
///
/// # Errors
///
/// A missing `--secs`, an unknown flag, a missing or non-positive number.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut args = args.into_iter();
    let (mut secs, mut procs, mut every) = (None, 2usize, None);
    let (mut csv, mut svg) = (None, None);
    let mut phases: Vec<String> = PHASES.iter().map(|p| p.to_string()).collect();
    let mut rss_limit = true;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{flag} must be a positive integer, got {v:?}")),
        };
        match flag.as_str() {
            "--secs" => secs = Some(number(value()?)?),
            "--procs" => procs = number(value()?)? as usize,
            "--every" => every = Some(number(value()?)?),
            "--csv" => csv = Some(PathBuf::from(value()?)),
            "--svg" => svg = Some(PathBuf::from(value()?)),
            "--phases" => {
                phases = value()?.split(',').map(String::from).collect();
                if let Some(p) = phases.iter().find(|p| !PHASES.contains(&p.as_str())) {
                    return Err(format!("unknown phase {p:?} (of {})", PHASES.join(",")));
                }
            }
            "--no-rss-limit" => rss_limit = false,
            _ => return Err(format!("soak: unknown argument {arg:?}")),
        }
    }
    let secs = secs.ok_or("soak needs --secs N")?;
    // Five samples at least, so that a short run still has a baseline
    // before its end.
    let every = every.unwrap_or(if secs >= 20 { 5 } else { (secs / 5).max(1) });
    Ok(Options {
        secs,
        procs,
        every,
        csv,
        svg,
        phases,
        rss_limit,
    })
}

/// One value of a round's exactly-once bookkeeping: per value `0..n` a
/// receive count, and a count and checksum on each side.
///
/// Counters only (each value's count is its own; nothing else is read
/// through them), so `Relaxed` throughout; the check runs after the
/// round's tasks are joined, which orders every record before it.
#[derive(Debug)]
pub(crate) struct Ledger {
    received: Vec<AtomicU8>,
    sent_count: AtomicU64,
    sent_sum: AtomicU64,
    recv_count: AtomicU64,
    recv_sum: AtomicU64,
    /// Values received that are `>= n`: never sent.
    strangers: AtomicU64,
}

/// A ledger that does not balance: what went wrong, with examples.
#[derive(Debug, PartialEq)]
pub(crate) struct Mismatch {
    pub(crate) missing: Vec<u64>,
    pub(crate) duplicated: Vec<u64>,
    pub(crate) strangers: u64,
    pub(crate) sent: (u64, u64),
    pub(crate) received: (u64, u64),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = |v: &[u64]| {
            let s: Vec<String> = v.iter().take(5).map(u64::to_string).collect();
            s.join(",")
        };
        write!(
            f,
            "{} value(s) missing (first: {}), {} received more than once (first: {}), \
             {} never sent; sent count/checksum {}/{:#x}, received {}/{:#x}",
            self.missing.len(),
            first(&self.missing),
            self.duplicated.len(),
            first(&self.duplicated),
            self.strangers,
            self.sent.0,
            self.sent.1,
            self.received.0,
            self.received.1
        )
    }
}

/// A value's contribution to the checksums: a 64-bit mix, so that a lost
/// value and a duplicated one cannot cancel out in a plain sum.
fn mix(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Ledger {
    /// A ledger for the values `0..n`, each to be sent once.
    pub(crate) fn new(n: u64) -> Ledger {
        Ledger {
            received: (0..n).map(|_| AtomicU8::new(0)).collect(),
            sent_count: AtomicU64::new(0),
            sent_sum: AtomicU64::new(0),
            recv_count: AtomicU64::new(0),
            recv_sum: AtomicU64::new(0),
            strangers: AtomicU64::new(0),
        }
    }

    /// `v` was sent.
    pub(crate) fn sent(&self, v: u64) {
        self.sent_count.fetch_add(1, Relaxed);
        self.sent_sum.fetch_add(mix(v), Relaxed);
    }

    /// `v` was received.
    pub(crate) fn received(&self, v: u64) {
        self.recv_count.fetch_add(1, Relaxed);
        self.recv_sum.fetch_add(mix(v), Relaxed);
        match self.received.get(v as usize) {
            // Saturating: 255 receives of one value still read as "more
            // than once".
            Some(c) => {
                let _ = c.fetch_update(Relaxed, Relaxed, |n| n.checked_add(1));
            }
            None => {
                self.strangers.fetch_add(1, Relaxed);
            }
        }
    }

    /// Ok with the number of values if every value `0..n` was sent and
    /// received exactly once and nothing else was received.
    ///
    /// # Errors
    ///
    /// The [`Mismatch`] otherwise.
    pub(crate) fn check(&self) -> Result<u64, Mismatch> {
        let (mut missing, mut duplicated) = (Vec::new(), Vec::new());
        for (v, c) in self.received.iter().enumerate() {
            match c.load(Relaxed) {
                0 => missing.push(v as u64),
                1 => {}
                _ => duplicated.push(v as u64),
            }
        }
        let n = self.received.len() as u64;
        let expected_sum = (0..n).fold(0u64, |s, v| s.wrapping_add(mix(v)));
        let sent = (self.sent_count.load(Relaxed), self.sent_sum.load(Relaxed));
        let received = (self.recv_count.load(Relaxed), self.recv_sum.load(Relaxed));
        let strangers = self.strangers.load(Relaxed);
        if missing.is_empty()
            && duplicated.is_empty()
            && strangers == 0
            && sent == (n, expected_sum)
            && received == sent
        {
            Ok(n)
        } else {
            Err(Mismatch {
                missing,
                duplicated,
                strangers,
                sent,
                received,
            })
        }
    }
}

/// Running totals, read by the sampler (counters only: `Relaxed`).
#[derive(Debug, Default)]
struct Totals {
    tasks: AtomicU64,
    messages: AtomicU64,
    conns: AtomicU64,
    /// The highest `num_goroutines()` a round saw since the last sample.
    live_peak: AtomicU64,
    /// The run's one sync.Map: the keys stay in `0..MAP_KEYS` for the
    /// whole run, so its size is bounded and any growth is a leak.
    map: Arc<Map<u64, u64>>,
}

/// One sample line.
#[derive(Debug, Clone, Copy)]
struct Sample {
    elapsed: f64,
    rss_kib: u64,
    /// Anonymous resident memory, KiB (`RssAnon` of `/proc/self/status`).
    anon_kib: u64,
    /// The heap in use, in KiB: bytes allocated and not freed, counted by
    /// gort-bench's global allocator (`heap.rs`). What separates a leak
    /// (it grows) from memory the allocator keeps after a free (RSS grows,
    /// this does not).
    heap_kib: u64,
    live: usize,
    live_peak: u64,
    tasks: u64,
    messages: u64,
    conns: u64,
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "soak: t={:.1}s rss_kib={} anon_kib={} heap_kib={} live_tasks={} live_peak={} tasks={} messages={} conns={}",
            self.elapsed,
            self.rss_kib,
            self.anon_kib,
            self.heap_kib,
            self.live,
            self.live_peak,
            self.tasks,
            self.messages,
            self.conns
        )
    }
}

/// Resident set size in KiB: `/proc/self/statm`'s second field (pages) ×
/// the page size.
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096) / 1024
}

/// Anonymous resident memory in KiB: `RssAnon` of `/proc/self/status`
/// (0 if absent).
fn anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Asks glibc to hand its free pages back to the kernel (`malloc_trim(0)`:
/// the free chunks inside every arena, not only the top of the main one).
/// glibc returns memory freed in the middle of an arena only when asked:
/// without this, anonymous RSS rose 1,552 -> 1,920 KiB in 75 s of soak
/// while the heap in use stayed at 338-366 KiB (`docs/perf-log.md`, soak).
/// So a sample's RSS is memory the process holds, not memory the allocator
/// could give back; the heap column says which part of it is the
/// program's.
fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises the allocator's free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn sample(start: Instant, totals: &Totals, live: usize) -> Sample {
    trim_allocator();
    Sample {
        elapsed: start.elapsed().as_secs_f64(),
        rss_kib: rss_kib(),
        anon_kib: anon_kib(),
        heap_kib: crate::heap::live_kib(),
        live,
        live_peak: totals.live_peak.swap(0, Relaxed),
        tasks: totals.tasks.load(Relaxed),
        messages: totals.messages.load(Relaxed),
        conns: totals.conns.load(Relaxed),
    }
}

/// A small xorshift generator: the phases need jitter, not quality.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs the soak and prints the verdict; exit code 1 on failure.
pub(crate) fn run(options: &Options) -> std::process::ExitCode {
    crate::heap::start();
    let rt = match gort::Builder::new().procs(options.procs).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: cannot build the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "soak: secs={} procs={} every={}s (memory baselines: the medians of {WINDOW} samples from t={:.0}s for RSS and the heap, from t={:.0}s for anonymous RSS)",
        options.secs,
        options.procs,
        options.every,
        Baseline::Start.starts_at(options.secs),
        Baseline::HalfWay.starts_at(options.secs),
    );
    let outcome = rt.block_on(soak(options));
    let mut failures = outcome.failures;
    let samples = outcome.samples;
    if let Some(path) = &options.csv {
        if let Err(e) = write_csv(path, &samples) {
            failures.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(path) = &options.svg {
        let limit_from = outcome.half_baseline.map_or(0, |s| s.anon_kib);
        if let Err(e) = write_svg(path, &samples, limit_from) {
            failures.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let (start, half) = (outcome.start_baseline, outcome.half_baseline);
    let last = samples.last().copied();
    let result = format!(
        "rounds={} tasks={} messages={} conns={} anon_baseline_kib={} anon_final_kib={} heap_baseline_kib={} heap_final_kib={} rss_baseline_kib={} rss_final_kib={} rss_peak_kib={}",
        outcome.rounds,
        last.map_or(0, |s| s.tasks),
        last.map_or(0, |s| s.messages),
        last.map_or(0, |s| s.conns),
        half.map_or(0, |s| s.anon_kib),
        last.map_or(0, |s| s.anon_kib),
        start.map_or(0, |s| s.heap_kib),
        last.map_or(0, |s| s.heap_kib),
        start.map_or(0, |s| s.rss_kib),
        last.map_or(0, |s| s.rss_kib),
        peak
    );
    if failures.is_empty() {
        println!("soak: ok {result}");
        std::process::ExitCode::SUCCESS
    } else {
        for f in &failures {
            println!("soak: FAIL: {f}");
        }
        println!("soak: failed {result}");
        std::process::ExitCode::FAILURE
    }
}

struct Outcome {
    samples: Vec<Sample>,
    /// The baseline windows' medians ([`baseline`]), if the run got that
    /// far: from the end of the first tenth (RSS, heap) and from half-way
    /// (anonymous RSS).
    start_baseline: Option<Sample>,
    half_baseline: Option<Sample>,
    rounds: u64,
    failures: Vec<String>,
}

async fn soak(options: &Options) -> Outcome {
    let start = Instant::now();
    let end = start + Duration::from_secs(options.secs);
    let totals = Arc::new(Totals::default());
    let (stop_tx, stop_rx) = chan::<()>(0);
    let every = Duration::from_secs(options.every);
    let sampler = {
        let totals = totals.clone();
        gort::spawn(async move {
            let mut samples = Vec::new();
            let mut next = start + every;
            loop {
                let stopped = gort::select! {
                    _ = stop_rx.recv() => true,
                    _ = gort::time::sleep_until(next) => false,
                };
                if stopped {
                    return samples;
                }
                next += every;
                // Minus this sampler.
                let live = gort::runtime::num_goroutines().saturating_sub(1);
                let s = sample(start, &totals, live);
                println!("{s}");
                samples.push(s);
            }
        })
    };

    let mut failures = Vec::new();
    let mut rounds = 0u64;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    while Instant::now() < end {
        let began = Instant::now();
        if let Err(e) = round(&totals, &mut rng, &options.phases).await {
            failures.push(format!("round {rounds}: {e}"));
            break;
        }
        rounds += 1;
        gort::time::sleep_until(began + ROUND_PERIOD).await;
    }
    drop(stop_tx);
    let mut samples = sampler.await.unwrap_or_default();

    // The drain: tasks that outlive their round (echo servers closing,
    // detached timers) get up to DRAIN to finish.
    let drained = Instant::now() + DRAIN;
    while gort::runtime::num_goroutines() > 0 && Instant::now() < drained {
        sleep(Duration::from_millis(10)).await;
    }
    let last = sample(start, &totals, gort::runtime::num_goroutines());
    println!("{last} (final, after the drain)");
    samples.push(last);
    if last.live != 0 {
        failures.push(format!(
            "{} task(s) still live {DRAIN:?} after the last round",
            last.live
        ));
    }
    let start_base = baseline(&samples, options.secs, Baseline::Start);
    let half_base = baseline(&samples, options.secs, Baseline::HalfWay);
    let end = window_median(&samples[samples.len().saturating_sub(WINDOW)..]);
    match (start_base, half_base, end) {
        (Some(start_base), Some(half_base), Some(end)) => {
            for (what, base, was, now) in [
                ("RSS", start_base, start_base.rss_kib, end.rss_kib),
                ("heap in use", start_base, start_base.heap_kib, end.heap_kib),
                ("anonymous RSS", half_base, half_base.anon_kib, end.anon_kib),
            ] {
                println!(
                    "soak: {what}: {was} KiB (median from t={:.0}s) -> {now} KiB (median of the last {WINDOW} samples): {:+.1} %",
                    base.elapsed,
                    (now as f64 / was.max(1) as f64 - 1.0) * 100.0
                );
                if now as f64 <= was as f64 * (1.0 + RSS_SLACK) {
                    continue;
                }
                let msg = format!(
                    "{what} ended at {now} KiB, more than {:.0} % above its baseline {was} KiB (from t={:.0}s)",
                    RSS_SLACK * 100.0,
                    base.elapsed
                );
                if options.rss_limit {
                    failures.push(msg);
                } else {
                    println!("soak: {msg} (reported, not failed: --no-rss-limit)");
                }
            }
        }
        _ if options.rss_limit => {
            failures.push("the run ended before the baseline samples".into())
        }
        _ => println!(
            "soak: too short for the memory check ({WINDOW} samples from half-way); not checked (--no-rss-limit)"
        ),
    }
    Outcome {
        samples,
        start_baseline: start_base,
        half_baseline: half_base,
        rounds,
        failures,
    }
}

/// One round: every phase at once, joined; the ledgers checked.
async fn round(totals: &Arc<Totals>, rng: &mut Rng, phases: &[String]) -> Result<(), String> {
    let seed = rng.below(u64::MAX - 1) + 1;
    let unbuffered = Arc::new(Ledger::new(VALUES_PER_CHAN));
    let buffered = Arc::new(Ledger::new(VALUES_PER_CHAN));
    let selected = Arc::new(Ledger::new(VALUES_PER_CHAN));
    let on = |name: &str| phases.iter().any(|p| p == name);
    let mut tasks = Vec::new();
    if on("tasks") {
        tasks.push(gort::spawn(tasks_phase(totals.clone())));
    }
    if on("chan") {
        tasks.push(gort::spawn(chan_phase(
            0,
            unbuffered.clone(),
            totals.clone(),
        )));
        tasks.push(gort::spawn(chan_phase(
            16,
            buffered.clone(),
            totals.clone(),
        )));
    }
    if on("select") {
        tasks.push(gort::spawn(select_phase(selected.clone(), totals.clone())));
    }
    if on("timers") {
        tasks.push(gort::spawn(timers_phase(seed, totals.clone())));
    }
    if on("context") {
        tasks.push(gort::spawn(context_phase(seed, totals.clone())));
    }
    if on("map") {
        tasks.push(gort::spawn(map_phase(
            seed,
            totals.map.clone(),
            totals.clone(),
        )));
    }
    if on("tcp") {
        tasks.push(gort::spawn(tcp_phase(totals.clone())));
    }
    let phase_tasks = tasks;
    totals.tasks.fetch_add(phase_tasks.len() as u64, Relaxed);
    let mut errors = Vec::new();
    for p in phase_tasks {
        match p.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("a phase task failed: {e}")),
        }
    }
    for (phase, name, ledger) in [
        ("chan", "unbuffered channel", &unbuffered),
        ("chan", "buffered channel", &buffered),
        ("select", "select", &selected),
    ] {
        if !on(phase) {
            continue;
        }
        if let Err(m) = ledger.check() {
            errors.push(format!("{name}: {m}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

async fn tasks_phase(totals: Arc<Totals>) -> Result<(), String> {
    let mut sum = 0u64;
    for batch in 0..TASKS_PER_ROUND / TASK_BATCH {
        let handles: Vec<_> = (0..TASK_BATCH)
            .map(|i| {
                gort::spawn(async move {
                    if i % 8 == 0 {
                        gort::yield_now().await;
                    }
                    batch * TASK_BATCH + i
                })
            })
            .collect();
        totals.tasks.fetch_add(TASK_BATCH, Relaxed);
        // The busiest moment of the round: a batch spawned.
        let live = gort::runtime::num_goroutines() as u64;
        totals.live_peak.fetch_max(live, Relaxed);
        for h in handles {
            sum += h.await.map_err(|e| format!("short task: {e}"))?;
        }
    }
    let n = TASKS_PER_ROUND;
    if sum != n * (n - 1) / 2 {
        return Err(format!("short tasks returned sum {sum}"));
    }
    Ok(())
}

/// Producer `p` of `producers` sends its share of `0..n` on `tx`.
async fn produce(tx: Sender<u64>, p: u64, producers: u64, n: u64, ledger: Arc<Ledger>) {
    let mut v = p;
    while v < n {
        ledger.sent(v);
        if tx.send(v).await.is_err() {
            return;
        }
        v += producers;
    }
}

async fn consume(rx: Receiver<u64>, ledger: Arc<Ledger>) -> u64 {
    let mut n = 0;
    while let Some(v) = rx.recv().await {
        ledger.received(v);
        n += 1;
    }
    n
}

async fn chan_phase(cap: usize, ledger: Arc<Ledger>, totals: Arc<Totals>) -> Result<(), String> {
    let (tx, rx) = chan::<u64>(cap);
    let mut handles = Vec::new();
    for p in 0..PRODUCERS {
        let (tx, ledger) = (tx.clone(), ledger.clone());
        handles.push(gort::spawn(async move {
            produce(tx, p, PRODUCERS, VALUES_PER_CHAN, ledger).await;
            0
        }));
    }
    drop(tx);
    for _ in 0..CONSUMERS {
        handles.push(gort::spawn(consume(rx.clone(), ledger.clone())));
    }
    drop(rx);
    totals.tasks.fetch_add(PRODUCERS + CONSUMERS, Relaxed);
    let mut received = 0;
    for h in handles {
        received += h.await.map_err(|e| format!("channel task: {e}"))?;
    }
    totals.messages.fetch_add(received, Relaxed);
    Ok(())
}

async fn select_phase(ledger: Arc<Ledger>, totals: Arc<Totals>) -> Result<(), String> {
    let (a_tx, a_rx) = chan::<u64>(0);
    let (b_tx, b_rx) = chan::<u64>(4);
    let half = VALUES_PER_CHAN / 2;
    let (la, lb) = (ledger.clone(), ledger.clone());
    let pa = gort::spawn(async move {
        for v in 0..half {
            la.sent(v);
            if a_tx.send(v).await.is_err() {
                break;
            }
        }
    });
    let pb = gort::spawn(async move {
        for v in half..VALUES_PER_CHAN {
            lb.sent(v);
            if b_tx.send(v).await.is_err() {
                break;
            }
        }
    });
    totals.tasks.fetch_add(2, Relaxed);
    let (mut a_open, mut b_open) = (true, true);
    let (mut received, mut idle) = (0u64, 0u64);
    while a_open || b_open {
        gort::select! {
            v = a_rx.recv(), if a_open => match v {
                Some(v) => { ledger.received(v); received += 1; }
                None => a_open = false,
            },
            v = b_rx.recv(), if b_open => match v {
                Some(v) => { ledger.received(v); received += 1; }
                None => b_open = false,
            },
            _ = sleep(Duration::from_millis(1)) => idle += 1,
        }
    }
    let _ = idle;
    pa.await.map_err(|e| format!("select producer: {e}"))?;
    pb.await.map_err(|e| format!("select producer: {e}"))?;
    totals.messages.fetch_add(received, Relaxed);
    Ok(())
}

async fn timers_phase(seed: u64, totals: Arc<Totals>) -> Result<(), String> {
    let mut rng = Rng(seed);
    let sleepers: Vec<_> = (0..64)
        .map(|_| {
            let d = Duration::from_micros(rng.below(2_001));
            gort::spawn(async move { sleep(d).await })
        })
        .collect();
    totals.tasks.fetch_add(64, Relaxed);
    let ticker = Ticker::new(Duration::from_millis(1));
    for _ in 0..3 {
        if ticker.recv().await.is_none() {
            return Err("a running Ticker returned None".into());
        }
    }
    ticker.stop();
    // A receive nobody answers times out; a ready future does not.
    let (_tx, rx) = chan::<u8>(0);
    if timeout(Duration::from_millis(1), rx.recv()).await.is_ok() {
        return Err("timeout over a silent channel completed".into());
    }
    if timeout(Duration::from_secs(5), async { 7 }).await != Ok(7) {
        return Err("timeout over a ready future elapsed".into());
    }
    for s in sleepers {
        s.await.map_err(|e| format!("sleeper: {e}"))?;
    }
    Ok(())
}

async fn context_phase(seed: u64, totals: Arc<Totals>) -> Result<(), String> {
    let mut rng = Rng(seed ^ 0x5bd1_e995);
    let (root, cancel_root) = context::with_cancel(&context::background());
    let mut nodes = Vec::new();
    let mut cancels = Vec::new();
    for i in 0..8 {
        let (child, cancel) = if i % 2 == 0 {
            context::with_cancel(&root)
        } else {
            context::with_timeout(&root, Duration::from_micros(rng.below(2_001)))
        };
        for _ in 0..3 {
            let (grandchild, c) =
                context::with_timeout(&child, Duration::from_millis(50 + rng.below(50)));
            nodes.push(grandchild);
            cancels.push(c);
        }
        nodes.push(child);
        cancels.push(cancel);
    }
    let waiters: Vec<_> = nodes
        .iter()
        .cloned()
        .map(|ctx| gort::spawn(async move { ctx.done().await }))
        .collect();
    totals.tasks.fetch_add(waiters.len() as u64, Relaxed);
    gort::yield_now().await;
    cancel_root.cancel();
    for w in waiters {
        w.await.map_err(|e| format!("context waiter: {e}"))?;
    }
    if let Some(n) = nodes.iter().position(|c| c.err().is_none()) {
        return Err(format!(
            "context node {n} not done after its root was cancelled"
        ));
    }
    drop(cancels);
    Ok(())
}

async fn map_phase(seed: u64, map: Arc<Map<u64, u64>>, totals: Arc<Totals>) -> Result<(), String> {
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let map = map.clone();
            let mut rng = Rng(seed.rotate_left(w as u32 * 8) | 1);
            gort::spawn(async move {
                for i in 0..500u64 {
                    let k = rng.below(MAP_KEYS);
                    match rng.below(3) {
                        0 => map.store(k, k * 2),
                        1 => {
                            if let Some(v) = map.load(&k) {
                                if v != k * 2 {
                                    return Err(format!("sync.Map: key {k} held {v}"));
                                }
                            }
                        }
                        _ => map.delete(&k),
                    }
                    if i % 64 == 0 {
                        gort::yield_now().await;
                    }
                }
                Ok(())
            })
        })
        .collect();
    totals.tasks.fetch_add(4, Relaxed);
    for w in workers {
        w.await.map_err(|e| format!("map worker: {e}"))??;
    }
    if map.len() as u64 > MAP_KEYS {
        return Err(format!("sync.Map holds {} keys of {MAP_KEYS}", map.len()));
    }
    Ok(())
}

async fn tcp_phase(totals: Arc<Totals>) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?;
    let server = gort::spawn(async move {
        for _ in 0..CONNS_PER_ROUND {
            let (mut conn, _) = listener.accept().await?;
            // Echo, then close first (see the module doc).
            gort::spawn(async move {
                let mut buf = [0u8; ECHO.len()];
                if conn.read_exact(&mut buf).await.is_ok() {
                    let _ = conn.write_all(&buf).await;
                }
            });
        }
        Ok::<_, std::io::Error>(())
    });
    totals.tasks.fetch_add(1 + CONNS_PER_ROUND, Relaxed);
    for _ in 0..CONNS_PER_ROUND / CONN_CONCURRENCY {
        let clients: Vec<_> = (0..CONN_CONCURRENCY)
            .map(|_| {
                gort::spawn(async move {
                    let mut conn = TcpStream::connect(addr).await?;
                    conn.write_all(ECHO).await?;
                    let mut back = Vec::new();
                    conn.read_to_end(&mut back).await?;
                    if back != ECHO {
                        return Err(std::io::Error::other(format!("echo returned {back:?}")));
                    }
                    Ok(())
                })
            })
            .collect();
        totals.tasks.fetch_add(CONN_CONCURRENCY, Relaxed);
        for c in clients {
            c.await
                .map_err(|e| format!("tcp client: {e}"))?
                .map_err(|e| format!("tcp client: {e}"))?;
            totals.conns.fetch_add(1, Relaxed);
        }
    }
    server
        .await
        .map_err(|e| format!("tcp server: {e}"))?
        .map_err(|e| format!("accept: {e}"))?;
    Ok(())
}

fn write_csv(path: &std::path::Path, samples: &[Sample]) -> std::io::Result<()> {
    let mut out = String::from(
        "elapsed_s,rss_kib,anon_kib,heap_kib,live_tasks,live_peak,tasks,messages,connections\n",
    );
    for s in samples {
        out.push_str(&format!(
            "{:.1},{},{},{},{},{},{},{},{}\n",
            s.elapsed,
            s.rss_kib,
            s.anon_kib,
            s.heap_kib,
            s.live,
            s.live_peak,
            s.tasks,
            s.messages,
            s.conns
        ));
    }
    std::fs::write(path, out)
}

fn write_svg(
    path: &std::path::Path,
    samples: &[Sample],
    baseline: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let x_max = samples.iter().map(|s| s.elapsed).fold(1.0, f64::max);
    let rss_max = samples
        .iter()
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(1)
        .max(baseline) as f64;
    let live_max = samples
        .iter()
        .map(|s| (s.live as u64).max(s.live_peak))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "gort soak: resident memory and live tasks",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..rss_max * 1.25)?
        .set_secondary_coord(0f64..x_max, 0f64..live_max * 1.25);
    chart
        .configure_mesh()
        .x_desc("elapsed (s)")
        .y_desc("RSS (KiB)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("live tasks")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|s| (s.elapsed, s.rss_kib as f64)),
            RED.stroke_width(2),
        ))?
        .label("RSS, total (KiB, left)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|s| (s.elapsed, s.heap_kib as f64)),
            MAGENTA,
        ))?
        .label("heap in use (KiB, left)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], MAGENTA));
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|s| (s.elapsed, s.anon_kib as f64)),
            RGBColor(230, 120, 0).stroke_width(2),
        ))?
        .label("anonymous RSS (KiB, left)")
        .legend(|(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 20, y)],
                RGBColor(230, 120, 0).stroke_width(2),
            )
        });
    let limit = baseline as f64 * (1.0 + RSS_SLACK);
    chart
        .draw_series(LineSeries::new(
            [(0.0, limit), (x_max, limit)],
            BLACK.mix(0.4),
        ))?
        .label("anonymous RSS limit: baseline + 10 %")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
    chart
        .draw_secondary_series(LineSeries::new(
            samples.iter().map(|s| (s.elapsed, s.live as f64)),
            BLUE,
        ))?
        .label("live tasks at the sample (right)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_secondary_series(LineSeries::new(
            samples.iter().map(|s| (s.elapsed, s.live_peak as f64)),
            GREEN.mix(0.9).stroke_width(1),
        ))?
        .label("peak live tasks in the period (right)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn samples(heap: &[u64]) -> Vec<Sample> {
        heap.iter()
            .enumerate()
            .map(|(i, &h)| Sample {
                elapsed: (i + 1) as f64,
                rss_kib: 1000 + h,
                anon_kib: 100 + h,
                heap_kib: h,
                live: 0,
                live_peak: 0,
                tasks: 0,
                messages: 0,
                conns: 0,
            })
            .collect()
    }

    /// A baseline is the medians of the five samples from its start on
    /// (an outlier among them does not move it): a tenth into the run, or
    /// half-way; the final sample is never part of it; a run too short for
    /// five has none.
    #[test]
    fn a_baseline_is_the_median_of_five_samples_from_its_start() {
        // 12 samples at t = 1..=12 s of a 12 s run: half-way, the window is
        // t = 6..=10; from a tenth (1.2 s), t = 2..=6.
        let s = samples(&[9, 9, 9, 9, 9, 50, 52, 99, 51, 53, 70, 70]);
        let b = baseline(&s, 12, Baseline::HalfWay).expect("a baseline");
        assert_eq!((b.elapsed, b.heap_kib, b.anon_kib), (6.0, 52, 152));
        let b = baseline(&s, 12, Baseline::Start).expect("a baseline");
        assert_eq!((b.elapsed, b.heap_kib, b.rss_kib), (2.0, 9, 1009));
        assert!(
            baseline(&s[..9], 12, Baseline::HalfWay).is_none(),
            "only four samples from t=6"
        );
        assert!(baseline(&s[..5], 12, Baseline::Start).is_none());
        let end = window_median(&s[s.len() - WINDOW..]).unwrap();
        assert_eq!(end.heap_kib, 70);
        assert!(window_median(&[]).is_none());
    }

    #[test]
    fn a_balanced_ledger_passes() {
        let l = Ledger::new(100);
        for v in (0..100).rev() {
            l.sent(v);
            l.received(v);
        }
        assert_eq!(l.check(), Ok(100));
    }

    #[test]
    fn a_missing_value_is_reported() {
        let l = Ledger::new(10);
        for v in 0..10 {
            l.sent(v);
            if v != 3 {
                l.received(v);
            }
        }
        let m = l.check().unwrap_err();
        assert_eq!((m.missing, m.duplicated), (vec![3], vec![]));
    }

    #[test]
    fn a_duplicated_value_is_reported() {
        let l = Ledger::new(10);
        for v in 0..10 {
            l.sent(v);
            l.received(v);
        }
        l.received(7);
        let m = l.check().unwrap_err();
        assert_eq!((m.missing, m.duplicated), (vec![], vec![7]));
        assert_eq!(m.received.0, 11);
    }

    #[test]
    fn a_value_never_sent_is_reported() {
        let l = Ledger::new(4);
        for v in 0..4 {
            l.sent(v);
            l.received(v);
        }
        l.received(99);
        let m = l.check().unwrap_err();
        assert_eq!(m.strangers, 1);
        assert!(m.to_string().contains("1 never sent"), "{m}");
    }

    #[test]
    fn an_unsent_value_counts_even_if_received() {
        // Received once but the sender never recorded it: the counts differ.
        let l = Ledger::new(2);
        l.sent(0);
        l.received(0);
        l.received(1);
        assert!(l.check().is_err());
    }

    #[test]
    fn parse_soak_options() {
        let o = parse(args("--secs 600 --csv a.csv --svg=b.svg --procs 4")).unwrap();
        assert_eq!(
            (o.secs, o.procs, o.every, o.csv, o.svg),
            (600, 4, 5, Some("a.csv".into()), Some("b.svg".into()))
        );
        assert_eq!(parse(args("--secs 5")).unwrap().every, 1);
        assert!(parse(args("")).is_err());
        assert!(parse(args("--secs 0")).is_err());
        assert!(parse(args("--secs 5 --frob")).is_err());
    }
}
