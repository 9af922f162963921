//! The execution tracer's cost per event: the same workload (tasks that
//! yield, each yield one poll slice; tasks that wake each other through a
//! oneshot) with tracing off and on, into a writer that counts bytes.
//!
//! ```text
//! cargo run --release -p gort-core --example trace_overhead -- [off|on|both] [rounds]
//! ```
//!
//! `both` (the default) prints the wall time of each and the difference per
//! recorded event (the trace's `otherData.events`, which counts JSON events
//! other than metadata: a poll is two, its M's and its P's slice). Under
//! `valgrind --tool=callgrind`, run `off` and `on` apart and divide the
//! difference in instructions by the events `on` prints.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keeps the trace's tail, to read `otherData` from; counts the bytes.
#[derive(Clone, Default)]
struct Tail(Arc<Mutex<(Vec<u8>, usize)>>);

impl Write for Tail {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let mut g = self.0.lock().unwrap();
        g.1 += b.len();
        g.0.extend_from_slice(&b[b.len().saturating_sub(256)..]);
        let keep = g.0.len().saturating_sub(256);
        g.0.drain(..keep);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const TASKS: u64 = 1_000;
const YIELDS: u64 = 100;

fn workload() {
    let rt = gort_core::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let mut hs = Vec::new();
        for _ in 0..TASKS {
            hs.push(gort_core::spawn(async {
                for _ in 0..YIELDS {
                    gort_core::yield_now().await;
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
    });
}

fn run(on: bool) -> (Duration, u64) {
    let tail = Tail::default();
    if on {
        gort_core::runtime::trace::start(tail.clone()).unwrap();
    }
    let t = Instant::now();
    workload();
    if !on {
        return (t.elapsed(), 0);
    }
    gort_core::runtime::trace::stop().unwrap();
    let d = t.elapsed();
    let g = tail.0.lock().unwrap();
    let s = String::from_utf8_lossy(&g.0);
    let field = |name: &str| -> u64 {
        let at = s.find(name).expect("otherData") + name.len();
        s[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    let (events, dropped) = (field("\"events\":"), field("\"dropped_events\":"));
    println!(
        "on: {events} events, {dropped} dropped, {} bytes of JSON",
        g.1
    );
    (d, events)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "both".into());
    let rounds: u32 = args.next().map_or(5, |r| r.parse().unwrap());
    match mode.as_str() {
        "off" => println!("off: {:?}", run(false).0),
        "on" => println!("on: {:?}", run(true).0),
        _ => {
            // Best of `rounds` each, interleaved: the machine is shared.
            let (mut off, mut on, mut events) = (Duration::MAX, Duration::MAX, 0);
            for _ in 0..rounds {
                off = off.min(run(false).0);
                let (d, n) = run(true);
                on = on.min(d);
                events = n;
            }
            let per = on.saturating_sub(off).as_nanos() as f64 / events as f64;
            println!("off {off:?}, on {on:?}: {per:.1} ns per event ({events} events)");
        }
    }
}
