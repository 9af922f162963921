//! A small service with a deliberate hot spot, and gort's debug pages on
//! it (needs the `debug` feature).
//!
//! ```sh
//! cargo run --release --features debug --example observe
//! # observe: debug pages on http://127.0.0.1:PORT/debug/gort/
//! OBSERVE_PORT=6060 OBSERVE_SECS=30 cargo run --release --features debug --example observe
//! ```
//!
//! Then open the index (tasks by wait reason, Ps, Ms, counters) and
//! `trace/view?seconds=1`, the timeline: one lane per M, and on one of
//! them the long slices of `hot-loop`, the task that computes. What runs:
//!
//! - `hot-loop`: hashes in a loop for about 20 ms per poll before it
//!   yields (a task hogging a worker, the thing to find in the timeline);
//! - `producer` sends a job every 200 µs into a channel of 64 that
//!   `consumer` drains at one job per 2 ms: the backlog fills, and the
//!   producer spends its time parked in `chan send`;
//! - 8 `idle-worker`s wait on a channel nobody sends on (`chan receive`);
//! - a `ticker` sleeps 50 ms at a time (`sleep`).
//!
//! `OBSERVE_PORT` picks the port (default: any free one); `OBSERVE_SECS`
//! makes the program exit by itself after that many seconds (default: run
//! until killed), for scripts such as `.ci/browser`.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use gort::sync::chan;
use gort::task::Builder;

/// How long `hot-loop` computes per poll.
const HOT_SLICE: Duration = Duration::from_millis(20);

#[gort::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("OBSERVE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let secs: Option<f64> = std::env::var("OBSERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok());

    let srv = gort::debug::serve(("127.0.0.1", port)).await?;
    println!(
        "observe: debug pages on http://{}/debug/gort/",
        srv.local_addr()
    );

    Builder::new().name("hot-loop").spawn(hot_loop());

    let (jobs, backlog) = chan::<u64>(64);
    Builder::new().name("producer").spawn(async move {
        for i in 0u64.. {
            if jobs.send(i).await.is_err() {
                break;
            }
            gort::time::sleep(Duration::from_micros(200)).await;
        }
    });
    Builder::new().name("consumer").spawn(async move {
        while let Some(_job) = backlog.recv().await {
            gort::time::sleep(Duration::from_millis(2)).await;
        }
    });

    let (_never, idle) = chan::<()>(0);
    for _ in 0..8 {
        let idle = idle.clone();
        Builder::new().name("idle-worker").spawn(async move {
            let _ = idle.recv().await;
        });
    }
    Builder::new().name("ticker").spawn(async {
        loop {
            gort::time::sleep(Duration::from_millis(50)).await;
        }
    });

    match secs {
        Some(s) => gort::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
        None => std::future::pending::<()>().await,
    }
    println!("observe: {} s are up, stopping", secs.unwrap_or(0.0));
    srv.shutdown().await
}

/// Computes for [`HOT_SLICE`], yields, and again.
async fn hot_loop() {
    let hasher = RandomState::new();
    let mut x = 0u64;
    loop {
        let until = std::time::Instant::now() + HOT_SLICE;
        while std::time::Instant::now() < until {
            for _ in 0..1000 {
                x = hasher.hash_one(x);
            }
        }
        std::hint::black_box(x);
        gort::yield_now().await;
    }
}
