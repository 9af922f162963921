//! `gort::select!` through the facade: syntax, fairness, exactly-once.

use std::collections::HashMap;
use std::time::Duration;

use gort::sync::chan;

#[gort::test(procs = 2)]
async fn picks_the_ready_case() {
    let (tx1, rx1) = chan::<u32>(1);
    let (_tx2, rx2) = chan::<u32>(1);
    tx1.send(7).await.unwrap();
    let got = gort::select! {
        v = rx1.recv() => v.map(|v| v * 10),
        v = rx2.recv() => v,
    };
    assert_eq!(got, Some(70));
}

#[gort::test(procs = 2)]
async fn default_when_nothing_ready() {
    let (_tx, rx) = chan::<u32>(0);
    let got = gort::select! {
        v = rx.recv() => v,
        default => Some(99),
    };
    assert_eq!(got, Some(99));
    assert_eq!(
        rx.try_recv(),
        Err(gort::sync::TryRecvError::Empty),
        "nothing was taken"
    );
}

#[gort::test(procs = 2)]
async fn disabled_case_not_evaluated() {
    let (tx, rx) = chan::<u32>(1);
    tx.send(1).await.unwrap();
    let mut evaluated = false;
    let mut touch = || {
        evaluated = true;
        rx.recv()
    };
    let got = gort::select! {
        v = touch(), if false => v,
        default => None,
    };
    assert_eq!(got, None);
    assert!(!evaluated);
}

#[gort::test(procs = 2)]
async fn send_case_and_blocking_wakeup() {
    let (tx, rx) = chan::<u32>(0);
    let h = gort::spawn(async move {
        gort::time::sleep(Duration::from_millis(2)).await;
        rx.recv().await
    });
    let r = gort::select! {
        r = tx.send(5) => r.is_ok(),
        _ = gort::time::sleep(Duration::from_secs(10)) => false,
    };
    assert!(r);
    assert_eq!(h.await.unwrap(), Some(5));
}

#[gort::test(procs = 2)]
async fn future_case_timeout() {
    let (_tx, rx) = chan::<u32>(0);
    let got = gort::select! {
        v = rx.recv() => format!("value {v:?}"),
        _ = gort::time::sleep(Duration::from_millis(3)) => "timeout".to_string(),
    };
    assert_eq!(got, "timeout");
}

#[gort::test(procs = 2)]
async fn refutable_pattern_disables_the_case() {
    let (tx1, rx1) = chan::<u32>(0);
    let (tx2, rx2) = chan::<u32>(1);
    drop(tx1); // rx1 yields None at once
    tx2.send(3).await.unwrap();
    let got = gort::select! {
        Some(v) = rx1.recv() => v,
        Some(v) = rx2.recv() => v + 100,
    };
    assert_eq!(got, 103);
}

#[gort::test(procs = 2)]
async fn bodies_can_break_continue_return_and_await() {
    let (tx, rx) = chan::<u32>(4);
    for i in 0..4 {
        tx.send(i).await.unwrap();
    }
    drop(tx);
    let mut seen = Vec::new();
    loop {
        gort::select! {
            v = rx.recv() => {
                match v {
                    Some(1) => continue,
                    Some(v) => {
                        gort::yield_now().await;
                        seen.push(v);
                    }
                    None => break,
                }
            }
        }
    }
    assert_eq!(seen, [0, 2, 3]);
}

/// With three ready cases, each wins about a third of the time (Go's
/// TestSelectFairness uses a 10-sigma bound; so do we).
#[gort::test(procs = 1)]
async fn fairness_three_ready_cases() {
    const N: usize = 30_000;
    let chans: Vec<_> = (0..3).map(|_| chan::<usize>(1)).collect();
    let mut wins = HashMap::new();
    for _ in 0..N {
        for (i, (tx, _)) in chans.iter().enumerate() {
            let _ = tx.try_send(i);
        }
        let w = gort::select! {
            Some(v) = chans[0].1.recv() => v,
            Some(v) = chans[1].1.recv() => v,
            Some(v) = chans[2].1.recv() => v,
        };
        *wins.entry(w).or_insert(0usize) += 1;
    }
    let p = 1.0 / 3.0;
    let mean = N as f64 * p;
    let sigma = (N as f64 * p * (1.0 - p)).sqrt();
    for i in 0..3 {
        let c = *wins.get(&i).unwrap_or(&0) as f64;
        assert!(
            (c - mean).abs() < 10.0 * sigma,
            "case {i} won {c} of {N} (mean {mean}, sigma {sigma})"
        );
    }
}

/// Go's self-select: a select that both sends and receives on one
/// unbuffered channel never matches itself.
#[gort::test(procs = 2)]
async fn self_select_never_matches_itself() {
    let (tx, rx) = chan::<u32>(0);
    let (tx2, rx2) = (tx.clone(), rx.clone());
    let other = gort::spawn(async move {
        let mut n = 0;
        for i in 0..1000 {
            gort::select! {
                r = tx2.send(i) => { r.unwrap(); n += 1; },
                v = rx2.recv() => { v.unwrap(); n += 1; },
            }
        }
        n
    });
    let mut n = 0;
    for i in 0..1000 {
        gort::select! {
            r = tx.send(i) => { r.unwrap(); n += 1; },
            v = rx.recv() => { v.unwrap(); n += 1; },
        }
    }
    assert_eq!(n + other.await.unwrap(), 2000);
}
