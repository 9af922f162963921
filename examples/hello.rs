//! The README's minimal program: workers, an unbuffered channel, select!
//! with a timeout, and a WaitGroup. `cargo run --example hello`.

use gort::sync::{chan, WaitGroup};
use std::time::Duration;

#[gort::main(procs = 2)] // like GOMAXPROCS=2; default: GORT_MAXPROCS or the CPU count
async fn main() {
    let (tx, rx) = chan::<u64>(0); // unbuffered: a rendezvous
    let wg = WaitGroup::new();
    for w in 0..4u64 {
        let tx = tx.clone();
        wg.go(async move {
            // `go func() { defer wg.Done() ... }()`
            for i in 0..10 {
                tx.send(w * 100 + i).await.unwrap();
            }
        });
    }
    drop(tx); // the channel closes when the last Sender goes
    let mut sum = 0;
    loop {
        gort::select! {
            v = rx.recv() => match v {
                Some(v) => sum += v,
                None => break,           // closed and drained
            },
            _ = gort::time::after(Duration::from_secs(1)) => panic!("stuck"),
        }
    }
    wg.wait().await;
    println!(
        "sum = {sum}, goroutines left: {}",
        gort::runtime::num_goroutines()
    );
}
