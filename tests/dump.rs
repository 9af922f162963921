//! The goroutine dump names why each parked task waits: chan send, chan
//! receive, select, sleep, IO wait, WaitGroup wait, mutex (Go's wait
//! reasons), with the task's spawn location.

use std::sync::Arc;
use std::time::Duration;

use futures::AsyncReadExt;
use gort::net::{TcpListener, TcpStream};
use gort::sync::{chan, Mutex, WaitGroup};

/// Each reason, and the line of the `gort::spawn` that parks a task on it.
const REASONS: [&str; 7] = [
    "chan send",
    "chan receive",
    "select",
    "sleep",
    "IO wait",
    "WaitGroup wait",
    "mutex",
];

#[gort::test(procs = 2)]
async fn dump_names_every_wait_reason() {
    let (tx_full, _rx_full) = chan::<u32>(0);
    let (_tx_empty, rx_empty) = chan::<u32>(0);
    let (_tx_a, rx_a) = chan::<u32>(0);
    let (_tx_b, rx_b) = chan::<u32>(0);
    let wg = WaitGroup::new();
    wg.add(1);
    let mutex = Arc::new(Mutex::new(0u32));
    let held = mutex.lock().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    let mut tasks = vec![
        gort::spawn(async move {
            let _ = tx_full.send(1).await;
        }),
        gort::spawn(async move {
            let _ = rx_empty.recv().await;
        }),
        gort::spawn(async move {
            gort::select! {
                _ = rx_a.recv() => {},
                _ = rx_b.recv() => {},
            }
        }),
        gort::spawn(async {
            gort::time::sleep(Duration::from_secs(3600)).await;
        }),
        gort::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 1];
            let _ = s.read(&mut buf).await;
        }),
    ];
    {
        let wg = wg.clone();
        tasks.push(gort::spawn(async move { wg.wait().await }));
    }
    {
        let mutex = mutex.clone();
        tasks.push(gort::spawn(async move {
            let _g = mutex.lock().await;
        }));
    }
    let (_peer, _) = listener.accept().await.unwrap();

    // Wait (bounded) until every task has parked with its reason.
    let mut dump = String::new();
    for _ in 0..2000 {
        dump = gort::runtime::dump();
        if REASONS.iter().all(|r| dump.contains(&format!("[{r},"))) {
            break;
        }
        gort::time::sleep(Duration::from_millis(1)).await;
    }
    for r in REASONS {
        assert!(dump.contains(&format!("[{r},")), "no '{r}' in:\n{dump}");
    }
    assert!(dump.contains("tests/dump.rs:"), "no spawn site in:\n{dump}");
    assert_eq!(gort::runtime::num_goroutines(), 7, "{dump}");

    for t in &tasks {
        t.abort();
    }
    drop(held);
    wg.done();
}
