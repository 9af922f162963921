//! # gort-bench: gort next to tokio, smol and Go, workload by workload
//!
//! ```text
//! cargo run --release -p gort-bench -- [--procs N] [--rounds R] [--svg PATH] [workload ...]
//! cargo run --release -p gort-bench -- soak --secs N [--csv PATH] [--svg PATH]
//! ```
//!
//! (`soak`: one gort runtime churned for N seconds and checked; see
//! `soak.rs`.)
//!
//! Runs each workload (all of them when none is named) on gort, on
//! tokio's multi-thread runtime and on smol (one `async-executor` run by N
//! threads, `system::Smol`) with the same number of workers (`--procs`,
//! default 2; `smol=NA` where smol has no such primitive), the channel
//! workloads also on other channel libraries
//! (flume and async-channel on that tokio runtime, crossbeam-channel on OS
//! threads), then runs the Go twin in `bench/go` with `GOMAXPROCS` set to
//! the same number, and prints one line per workload on stdout:
//!
//! ```text
//! workload=ping_pong procs=2 gort=812 tokio=655 smol=874 go=590
//! workload=timers procs=2 gort=731 tokio=702 smol=760 gort_p99_late_ns=1190000 tokio_p99_late_ns=1090000 smol_p99_late_ns=1500000 go=640 go_p99_late_ns=1050000
//! workload=chan_mpmc procs=2 gort=137 tokio=NA smol=204 flume=116 async_channel=88 crossbeam=44 go=55
//! workload=http_hello procs=2 gort=21000 tokio=20500 smol=NA gort_rps=47619 gort_p99_us=5210 tokio_rps=48780 tokio_p99_us=5400 go=24000 go_rps=41667 go_p99_us=6100
//! ```
//!
//! ## Reading the numbers
//!
//! Each `SYSTEM=X` is the median over the measured rounds of nanoseconds
//! per operation (`idle_task_bytes`, `chan_idle_bytes`: resident bytes per
//! parked task); lower is better. `SYSTEM_p99_late_ns` (`timers` and
//! `timer_burst_hog` only) is how late the 99th percentile timer fired, in
//! the median round. `timer_burst_hog`'s `SYSTEM=X` is itself a lateness:
//! the median over the rounds of each round's p99, in ns (see
//! `workloads/timers.rs`).
//! `http_hello` is a throughput test run by `wrk` (a separate process, see
//! `workloads/http.rs`): its `SYSTEM=X` is ns per request, 1e9 / requests
//! per second, so that lower stays better; `SYSTEM_rps` (requests per
//! second, higher is better) and `SYSTEM_p99_us` (wrk's 99th-percentile
//! request latency in µs) are each the median over the rounds. Without `wrk` on
//! `PATH` it is skipped and prints `NA` for every contender. `go=NA`
//! means the Go twin could not run (no `go` on `PATH`, or it failed; stderr
//! says which); any other `SYSTEM=NA`, that the workload has no such
//! contender (its docs in `workloads/` say why).
//! What one operation is, per workload, is in `workloads/` and in
//! `bench/go/README.md`; both sides use the same counts. Per-round values,
//! progress and a closing table of ratios (gort over each other contender
//! and over go; below 1 means gort is faster or smaller) go to stderr, so
//! stdout stays machine-readable. Against tokio (and smol) the table also
//! gives the *paired* ratio: round `i` of gort over round `i` of tokio,
//! which ran next to each other, the median of those, and in how many
//! pairs gort was lower; and `gort/best_peer`, gort over the lowest of the
//! others (not gort's variants, not `bare`), the chart's figure. `--svg PATH` also writes the run as a bar chart (`chart.rs`):
//! per workload, every system's median over the best peer's, lower is
//! better. When the machine changes speed mid-run (these 2-core
//! machines flip between two levels about 25 % apart) the ratio of
//! medians can say the opposite of every pair; the paired ratio cannot.
//!
//! ## Method
//!
//! - One runtime of each kind per workload, reused across its rounds; the
//!   clock runs inside the runtime, on a driver task, so building and
//!   starting a runtime is never measured.
//! - One unrecorded warm-up round per contender, then `--rounds` (default
//!   7; timers: at most 3) measured rounds, alternating gort, tokio, the
//!   others, gort, tokio, ... so that drift in the machine hits all alike.
//! - `idle_task_bytes` and `chan_idle_bytes` run every round, warm-up
//!   included, in a fresh child process (this binary re-executed with a
//!   hidden `--child` flag), since in one process the allocator would
//!   recycle the previous round's memory.
//! - The network workloads (`tcp_echo`, `http_hello`) run tokio with its
//!   I/O driver enabled (`enable_all`); the others without it, as before.
//! - The scheduler workloads' channels are `tokio::sync::oneshot` on both
//!   runtimes; the channel workloads (`workloads/chan.rs`) use each
//!   contender's own.
//!
//! A full default run takes well under three minutes on two cores, plus
//! about a minute and a half for the network workloads (`http_hello` runs
//! wrk for 3 s per round).

mod chart;
mod cli;
mod go;
mod harness;
mod heap;
mod soak;
mod system;
mod workloads;

use std::fmt::Write as _;
use std::io;
use std::process::ExitCode;

use cli::{Command, Options};
use go::GoTwin;
use harness::{Contender, Outcome, RoundResult};
use system::{Gort, Smol, System, Tokio};
use workloads::{Isolation, OtherRound, Workload};

/// The system allocator; it counts the heap in use only during a soak
/// (`heap.rs`).
#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gort-bench: {e}\n{}", cli::usage());
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{}", cli::usage());
            ExitCode::SUCCESS
        }
        Command::Child {
            procs,
            workload,
            system,
        } => child(procs, workload, system),
        Command::Bench(options) => bench(&options),
        Command::Soak(options) => soak::run(&options),
    }
}

/// One workload's figures: ours (only the contenders that have one), then
/// the Go twin's `go*` fields (`None`: the twin had none).
struct Row {
    workload: &'static Workload,
    outcomes: Vec<Outcome>,
    go: Option<Vec<go::Field>>,
}

impl Row {
    /// Contender `name`'s outcome, if it has a figure.
    fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.name == name)
    }

    /// The median of contender `name`, if it has a figure.
    fn median(&self, name: &str) -> Option<f64> {
        self.outcome(name).map(|o| o.median)
    }
}

fn bench(options: &Options) -> ExitCode {
    eprintln!(
        "gort-bench: procs={} rounds={} workloads={}",
        options.procs,
        options.rounds,
        options
            .workloads
            .iter()
            .map(|w| w.name)
            .collect::<Vec<_>>()
            .join(",")
    );
    let twin = match GoTwin::build() {
        Ok(twin) => Some(twin),
        Err(e) => {
            eprintln!("gort-bench: the Go twin is unavailable, printing go=NA: {e}");
            None
        }
    };

    let mut rows = Vec::new();
    let mut failed = false;
    for w in &options.workloads {
        let rounds = w.rounds(options.rounds);
        if workloads::NEEDS_WRK.contains(&w.name) && !workloads::wrk_available() {
            eprintln!(
                "gort-bench: {}: `wrk` is not on PATH, skipping (printing NA)",
                w.name
            );
            let row = Row {
                workload: w,
                outcomes: Vec::new(),
                go: None,
            };
            println!("{}", line(&row, options.procs));
            rows.push(row);
            continue;
        }
        eprintln!(
            "gort-bench: {}: warm-up + {rounds} rounds per system, alternating{}",
            w.name,
            if w.isolation == Isolation::ChildPerRound {
                ", each in a fresh child process"
            } else {
                ""
            }
        );
        let outcomes = match measure(w, options.procs, rounds) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                eprintln!("gort-bench: {}: {e}", w.name);
                failed = true;
                continue;
            }
        };
        log_rounds(w, &outcomes);
        let go = if workloads::NO_GO_TWIN.contains(&w.name) {
            eprintln!("gort-bench: {}: no Go twin, printing go=NA", w.name);
            None
        } else {
            twin.as_ref()
                .and_then(|twin| go_fields(twin, w, options.procs, rounds))
        };
        let row = Row {
            workload: w,
            outcomes,
            go,
        };
        println!("{}", line(&row, options.procs));
        rows.push(row);
    }
    summary(&rows, options.procs);
    if let Some(path) = &options.svg {
        let groups: Vec<chart::Group> = rows.iter().filter_map(chart_group).collect();
        match chart::write(path, &groups, options.procs) {
            Ok(()) => eprintln!(
                "gort-bench: chart of {} workloads written to {}",
                groups.len(),
                path.display()
            ),
            Err(e) => {
                eprintln!("gort-bench: writing the chart {}: {e}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `row`'s figures for the chart: every contender's median and Go's.
fn chart_group(row: &Row) -> Option<chart::Group> {
    let mut figures: Vec<(String, f64)> = row
        .outcomes
        .iter()
        .map(|o| (o.name.to_string(), o.median))
        .collect();
    let go = row
        .go
        .as_ref()
        .and_then(|f| f.iter().find(|(k, _)| k == "go"))
        .and_then(|(_, v)| v.parse::<f64>().ok());
    if let Some(go) = go {
        figures.push(("go".to_string(), go));
    }
    chart::Group::new(row.workload.name, figures)
}

/// Each contender's rounds and median, on stderr.
fn log_rounds(w: &Workload, outcomes: &[Outcome]) {
    for o in outcomes {
        let list = |vs: &[f64]| {
            let vs: Vec<String> = vs.iter().map(|v| format!("{v:.0}")).collect();
            vs.join(" ")
        };
        let extra: String = o
            .extra_rounds
            .iter()
            .map(|(key, vs)| format!(" {key}=[{}]", list(vs)))
            .collect();
        eprintln!(
            "gort-bench: {} {}: rounds=[{}] median={:.0} {}{extra}",
            w.name,
            o.name,
            list(&o.values),
            o.median,
            w.unit
        );
    }
}

/// The Go twin's fields for `w`, or `None` (said on stderr) if it failed.
fn go_fields(twin: &GoTwin, w: &Workload, procs: usize, rounds: usize) -> Option<Vec<go::Field>> {
    match twin.run(w.name, procs, rounds) {
        Ok(fields) => Some(fields),
        Err(e) => {
            eprintln!(
                "gort-bench: {}: the Go twin failed, printing go=NA: {e}",
                w.name
            );
            None
        }
    }
}

/// Runs `w` on each of its contenders that has a round (gort, tokio, then
/// the others), alternating, and summarises each.
fn measure(w: &Workload, procs: usize, rounds: usize) -> io::Result<Vec<Outcome>> {
    match w.isolation {
        Isolation::InProcess => {
            let gort_rt = &build::<Gort>(procs)?;
            let tokio_rt = &build_tokio(w, procs)?;
            // Only where smol has a round: its threads would idle otherwise.
            let smol_rt = &w.smol.map(|_| build::<Smol>(procs)).transpose()?;
            // Declared after the runtimes, so dropped before them.
            let mut contenders = Vec::new();
            if let Some(round) = w.gort {
                contenders.push(Contender::new(Gort::NAME, move || Ok(round(gort_rt))));
            }
            if let Some(round) = w.tokio {
                contenders.push(Contender::new(Tokio::NAME, move || Ok(round(tokio_rt))));
            }
            if let (Some(round), Some(smol_rt)) = (w.smol, smol_rt) {
                contenders.push(Contender::new(Smol::NAME, move || Ok(round(smol_rt))));
            }
            for other in w.others {
                match other.round {
                    OtherRound::OnTokio(round) => {
                        contenders.push(Contender::new(other.name, move || Ok(round(tokio_rt))));
                    }
                    OtherRound::OnGort(round) => {
                        contenders.push(Contender::new(other.name, move || Ok(round(gort_rt))));
                    }
                    OtherRound::Threads(round) => {
                        contenders.push(Contender::new(other.name, move || Ok(round())));
                    }
                }
            }
            harness::alternate(rounds, &mut contenders)
        }
        Isolation::ChildPerRound => {
            if !w.others.is_empty() {
                return Err(io::Error::other(
                    "a child-per-round workload measures gort and tokio only",
                ));
            }
            let mut contenders = Vec::new();
            if w.gort.is_some() {
                contenders.push(Contender::new(Gort::NAME, || {
                    harness::child_round(w.name, Gort::NAME, procs)
                }));
            }
            if w.tokio.is_some() {
                contenders.push(Contender::new(Tokio::NAME, || {
                    harness::child_round(w.name, Tokio::NAME, procs)
                }));
            }
            if w.smol.is_some() {
                contenders.push(Contender::new(Smol::NAME, || {
                    harness::child_round(w.name, Smol::NAME, procs)
                }));
            }
            harness::alternate(rounds, &mut contenders)
        }
    }
}

fn build<S: System>(procs: usize) -> io::Result<S::Runtime> {
    S::build(procs)
        .map_err(|e| io::Error::new(e.kind(), format!("building the {} runtime: {e}", S::NAME)))
}

/// The tokio runtime for `w`: with the I/O driver for the network
/// workloads (`workloads::NET`), without it otherwise.
fn build_tokio(w: &Workload, procs: usize) -> io::Result<<Tokio as System>::Runtime> {
    if workloads::NET.contains(&w.name) {
        Tokio::build_with_io(procs)
            .map_err(|e| io::Error::new(e.kind(), format!("building the tokio runtime: {e}")))
    } else {
        build::<Tokio>(procs)
    }
}

/// `--child`: one round of `workload` on `system` in this fresh process;
/// prints its value alone on stdout, and the round's other figures (the
/// p99 lateness of the timer workloads, `http_hello`'s rate and p99), one
/// `name=value` a line, on stderr, for A/B runs of two builds.
fn child(procs: usize, workload: &Workload, system: &str) -> ExitCode {
    let result = if system == Gort::NAME {
        workload
            .gort
            .map(|round| child_round::<Gort>(build::<Gort>(procs), round))
    } else if system == Smol::NAME {
        workload
            .smol
            .map(|round| child_round::<Smol>(build::<Smol>(procs), round))
    } else {
        workload
            .tokio
            .map(|round| child_round::<Tokio>(build_tokio(workload, procs), round))
    };
    match result {
        Some(Ok(r)) => {
            println!("{}", r.value);
            if !r.late.is_empty() {
                eprintln!("p99_late_ns={}", harness::percentile(&r.late, 0.99));
            }
            for (name, v) in &r.extra {
                eprintln!("{name}={v}");
            }
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "gort-bench: child {} {system}: no such round",
                workload.name
            );
            ExitCode::FAILURE
        }
        Some(Err(e)) => {
            eprintln!("gort-bench: child {} {system}: {e}", workload.name);
            ExitCode::FAILURE
        }
    }
}

fn child_round<S: System>(
    rt: io::Result<S::Runtime>,
    round: fn(&S::Runtime) -> RoundResult,
) -> io::Result<RoundResult> {
    let rt = rt?;
    // Start the runtime's threads before the round measures anything.
    workloads::on_task::<S, _>(&rt, async {});
    Ok(round(&rt))
}

/// The stdout line: `workload=NAME procs=N gort=X tokio=Y [others] [p99s]
/// go=Z [go_p99]`, `NA` for a contender without a figure.
fn line(row: &Row, procs: usize) -> String {
    let mut s = format!("workload={} procs={procs}", row.workload.name);
    for name in row.workload.systems() {
        match row.median(name) {
            Some(m) => {
                let _ = write!(s, " {name}={}", m.round() as i64);
            }
            None => {
                let _ = write!(s, " {name}=NA");
            }
        }
    }
    for o in &row.outcomes {
        if let Some(p99) = o.p99_late_ns {
            let _ = write!(s, " {}_p99_late_ns={p99}", o.name);
        }
    }
    for o in &row.outcomes {
        for (key, value) in &o.extra {
            let _ = write!(s, " {}_{key}={}", o.name, value.round() as i64);
        }
    }
    match &row.go {
        Some(fields) => {
            for (k, v) in fields {
                let _ = write!(s, " {k}={v}");
            }
        }
        None => s.push_str(" go=NA"),
    }
    s
}

/// The closing table on stderr: gort over each other system, per workload.
fn summary(rows: &[Row], procs: usize) {
    eprintln!(
        "gort-bench: summary, procs={procs} (ratio of medians, and against tokio and smol the median of round-by-round ratios; gort/best_peer as in the chart; below 1: gort is faster or smaller)"
    );
    for row in rows {
        let gort = row.median(Gort::NAME);
        let mut s = format!("gort-bench:   {:<18}", row.workload.name);
        for name in row.workload.systems().filter(|n| *n != Gort::NAME) {
            match (gort, row.median(name)) {
                (Some(g), Some(x)) => {
                    let _ = write!(s, " gort/{name}={:<6.2}", g / x);
                }
                _ => {
                    let _ = write!(s, " gort/{name}={:<6}", "NA");
                }
            }
        }
        let go = row
            .go
            .as_ref()
            .and_then(|f| f.iter().find(|(k, _)| k == "go"))
            .and_then(|(_, v)| v.parse::<f64>().ok());
        match (gort, go) {
            (Some(gort), Some(go)) => {
                let _ = write!(s, " gort/go={:.2}", gort / go);
            }
            _ => s.push_str(" gort/go=NA"),
        }
        let p99 = |name: &str| row.outcome(name).and_then(|o| o.p99_late_ns);
        if let (Some(g), Some(t)) = (row.outcome(Gort::NAME), row.outcome(Tokio::NAME)) {
            if let Some(p) = harness::paired(&g.values, &t.values) {
                let _ = write!(
                    s,
                    " paired gort/tokio={:.2} (gort lower in {}/{})",
                    p.median_ratio, p.lower, p.pairs
                );
            }
        }
        if let (Some(g), Some(t)) = (row.outcome(Gort::NAME), row.outcome(Smol::NAME)) {
            if let Some(p) = harness::paired(&g.values, &t.values) {
                let _ = write!(
                    s,
                    " paired gort/smol={:.2} (gort lower in {}/{})",
                    p.median_ratio, p.lower, p.pairs
                );
            }
        }
        if let Some(group) = chart_group(row) {
            // The chart's figure (`chart.rs`), from the unrounded medians.
            let _ = write!(
                s,
                " gort/best_peer={:.2} ({})",
                group.ratios[0].unwrap_or(f64::NAN),
                group.best
            );
        }
        if let (Some(g), Some(t)) = (p99(Gort::NAME), p99(Tokio::NAME)) {
            let _ = write!(s, " p99_late gort/tokio={:.2}", g as f64 / t as f64);
        }
        let extra = |name: &str, key: &str| {
            row.outcome(name)
                .and_then(|o| o.extra.iter().find(|(k, _)| *k == key))
                .map(|(_, v)| *v)
        };
        if let Some(gort) = row.outcome(Gort::NAME) {
            for (key, _) in &gort.extra {
                if let (Some(g), Some(t)) = (extra(Gort::NAME, key), extra(Tokio::NAME, key)) {
                    let _ = write!(s, " {key} gort/tokio={:.2}", g / t);
                }
            }
        }
        eprintln!("{s}");
    }
}
