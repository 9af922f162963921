//! Go's own channel tests, re-expressed for gort's channels and `select!`.
//!
//! Ported from Go's `runtime/chan_test.go` and `test/chan/{fifo,nonblock,
//! zerosize}.go` (Go 1.19), BSD license, Copyright The Go Authors. The tests
//! are rewritten in Rust, not translated line by line; iteration counts are
//! scaled down (further still in debug builds).
//!
//! | Rust test                              | Go original                                  |
//! |----------------------------------------|----------------------------------------------|
//! | `chan_ops_across_capacities`           | runtime `TestChan`                           |
//! | `nonblock_recv_race`                   | runtime `TestNonblockRecvRace`               |
//! | `nonblock_select_race`                 | runtime `TestNonblockSelectRace`             |
//! | `nonblock_select_race_close`           | runtime `TestNonblockSelectRace2`            |
//! | `self_select`                          | runtime `TestSelfSelect`                     |
//! | `select_stress`                        | runtime `TestSelectStress`                   |
//! | `select_fairness`                      | runtime `TestSelectFairness`                 |
//! | `send_values_behind_trait_objects`     | runtime `TestChanSendInterface`              |
//! | `pseudo_random_send`                   | runtime `TestPseudoRandomSend`               |
//! | `multi_consumer_sums`                  | runtime `TestMultiConsumer`                  |
//! | `select_duplicate_channel`             | runtime `TestSelectDuplicateChannel`         |
//! | `fifo_buffered`, `fifo_unbuffered_chain` | test/chan/fifo.go                          |
//! | `nonblock_ops_of_several_types`        | test/chan/nonblock.go                        |
//! | `zero_sized_elements`                  | test/chan/zerosize.go                        |
//! | `one_case_selects_against_plain_peers` | distilled from `TestSelectStress` and        |
//! |                                        | test/chan/doubleselect.go (a regression test)|
//!
//! Every test body runs under a 30 s watchdog that fails with a task dump
//! instead of hanging, should a wake-up ever be lost.
//!
//! Not ported: `TestShrinkStackDuringBlockedSend`, `TestNoShrinkStackWhileParking`
//! and `TestSelectStackAdjust` (goroutine stacks and GC; gort tasks are
//! heap-allocated futures), and the benchmarks.
//!
//! Go's `close(c)` maps to `Sender::close`, a receive's `ok == false` to
//! `None`, a nil channel to a disabled case (`, if false`), and a send on a
//! closed channel (a panic in Go) to `Err(SendError(v))`.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::sync::{chan, SendError, TryRecvError, TrySendError};

/// Picks the debug-build count or the release-build count.
fn scaled(debug: usize, release: usize) -> usize {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

/// Fails (with a dump of the runtime's tasks) instead of hanging if a test
/// stops making progress: a lost wake-up shows up as this panic.
async fn watchdog<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match gort::time::timeout(Duration::from_secs(30), f).await {
        Ok(v) => v,
        Err(_) => panic!(
            "{what}: no progress in 30 s (lost wake-up?)\n{}",
            gort::runtime::dump()
        ),
    }
}

/// Go's TestChan runs capacities 0..200 (0..20 in short mode).
fn capacities() -> Vec<usize> {
    let mut caps: Vec<usize> = (0..scaled(20, 60)).collect();
    caps.extend([64, 199]);
    caps
}

// ---------------------------------------------------------------------------
// TestChan
// ---------------------------------------------------------------------------

/// TestChan: blocking, non-blocking, close, FIFO, many-to-many delivery, and
/// len/cap, for each capacity.
#[gort::test(procs = 4)]
async fn chan_ops_across_capacities() {
    watchdog("chan_ops_across_capacities", async {
        for cap in capacities() {
            recv_on_empty_blocks(cap).await;
            send_on_full_blocks(cap).await;
            closed_channel_drains_then_reports_closed(cap).await;
            close_wakes_a_blocked_receiver(cap).await;
            fifo_and_many_to_many(cap).await;
            len_and_cap(cap).await;
        }
    })
    .await;
}

/// A receive on an empty channel waits; a non-blocking one takes `default`.
async fn recv_on_empty_blocks(cap: usize) {
    let (tx, rx) = chan::<i32>(cap);
    let flags = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    let mut waiters = Vec::new();
    for flag in &flags {
        let (rx, flag) = (rx.clone(), flag.clone());
        waiters.push(gort::spawn(async move {
            let v = rx.recv().await;
            flag.store(true, Ordering::SeqCst);
            v
        }));
    }
    gort::time::sleep(Duration::from_millis(1)).await;
    for flag in &flags {
        assert!(
            !flag.load(Ordering::SeqCst),
            "chan[{cap}]: receive from empty chan"
        );
    }
    gort::select! {
        _ = rx.recv() => panic!("chan[{cap}]: receive from empty chan"),
        default => {}
    }
    gort::select! {
        Some(_) = rx.recv() => panic!("chan[{cap}]: receive from empty chan"),
        default => {}
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "chan[{cap}]");
    // Two values release the two waiters.
    tx.send(0).await.unwrap();
    tx.send(0).await.unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap(), Some(0), "chan[{cap}]");
    }
    for flag in &flags {
        assert!(flag.load(Ordering::SeqCst));
    }
}

/// A send on a full channel waits; a non-blocking one takes `default`.
async fn send_on_full_blocks(cap: usize) {
    let (tx, rx) = chan::<usize>(cap);
    for i in 0..cap {
        tx.send(i).await.unwrap();
    }
    let sent = Arc::new(AtomicBool::new(false));
    let sender = {
        let (tx, sent) = (tx.clone(), sent.clone());
        gort::spawn(async move {
            tx.send(1000).await.unwrap();
            sent.store(true, Ordering::SeqCst);
        })
    };
    gort::time::sleep(Duration::from_millis(1)).await;
    assert!(
        !sent.load(Ordering::SeqCst),
        "chan[{cap}]: send to full chan"
    );
    gort::select! {
        _ = tx.send(7) => panic!("chan[{cap}]: send to full chan"),
        default => {}
    }
    match tx.try_send(8) {
        Err(TrySendError::Full(8)) => {}
        other => panic!("chan[{cap}]: try_send on a full chan gave {other:?}"),
    }
    assert_eq!(tx.len(), cap);
    // One receive makes room (or, unbuffered, meets the blocked sender).
    let first = rx.recv().await.unwrap();
    assert_eq!(first, if cap == 0 { 1000 } else { 0 }, "chan[{cap}]");
    sender.await.unwrap();
    assert!(sent.load(Ordering::SeqCst));
    // FIFO: the buffered values, then the late sender's.
    for i in 1..cap {
        assert_eq!(rx.recv().await, Some(i), "chan[{cap}]");
    }
    if cap > 0 {
        assert_eq!(rx.recv().await, Some(1000), "chan[{cap}]");
    }
    assert!(rx.is_empty());
}

/// After close: the buffered values come out in order, then `None` for
/// ever; sends fail and hand the value back; a second close reports false.
async fn closed_channel_drains_then_reports_closed(cap: usize) {
    let (tx, rx) = chan::<usize>(cap);
    for i in 0..cap {
        tx.send(i).await.unwrap();
    }
    assert!(!tx.is_closed() && !rx.is_closed());
    assert!(tx.close(), "chan[{cap}]: first close");
    assert!(!tx.close(), "chan[{cap}]: second close");
    assert!(!rx.close(), "chan[{cap}]: close from the receiving end");
    assert!(tx.is_closed() && rx.is_closed());
    match tx.send(77).await {
        Err(SendError(77)) => {}
        other => panic!("chan[{cap}]: send on closed chan gave {other:?}"),
    }
    match tx.try_send(78) {
        Err(TrySendError::Closed(78)) => {}
        other => panic!("chan[{cap}]: try_send on closed chan gave {other:?}"),
    }
    for i in 0..cap {
        assert_eq!(rx.recv().await, Some(i), "chan[{cap}]");
    }
    assert_eq!(rx.recv().await, None, "chan[{cap}]");
    assert_eq!(rx.recv().await, None, "chan[{cap}]");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "chan[{cap}]");
    // A closed channel is always ready in a select.
    let got = gort::select! {
        v = rx.recv() => v,
        default => Some(usize::MAX),
    };
    assert_eq!(got, None, "chan[{cap}]");
}

/// Closing wakes a receiver blocked on an empty channel with `None`.
async fn close_wakes_a_blocked_receiver(cap: usize) {
    let (tx, rx) = chan::<i32>(cap);
    let waiter = gort::spawn(async move { rx.recv().await });
    gort::time::sleep(Duration::from_millis(1)).await;
    tx.close();
    assert_eq!(waiter.await.unwrap(), None, "chan[{cap}]");
}

/// Values arrive uncorrupted and in order from one sender; with several
/// senders and receivers each value arrives exactly as often as it was sent.
async fn fifo_and_many_to_many(cap: usize) {
    let (tx, rx) = chan::<usize>(cap);
    for _round in 0..2 {
        let producer = {
            let tx = tx.clone();
            gort::spawn(async move {
                for i in 0..100 {
                    tx.send(i).await.unwrap();
                }
            })
        };
        for i in 0..100 {
            assert_eq!(rx.recv().await, Some(i), "chan[{cap}]");
        }
        producer.await.unwrap();
    }

    const P: usize = 4;
    let l = scaled(500, 1000);
    let mut tasks = Vec::new();
    for _ in 0..P {
        let tx = tx.clone();
        tasks.push(gort::spawn(async move {
            for i in 0..l {
                tx.send(i).await.unwrap();
            }
            HashMap::new()
        }));
    }
    for _ in 0..P {
        let rx = rx.clone();
        tasks.push(gort::spawn(async move {
            let mut seen: HashMap<usize, usize> = HashMap::new();
            for _ in 0..l {
                *seen.entry(rx.recv().await.unwrap()).or_default() += 1;
            }
            seen
        }));
    }
    let mut total: HashMap<usize, usize> = HashMap::new();
    for t in tasks {
        for (k, n) in t.await.unwrap() {
            *total.entry(k).or_default() += n;
        }
    }
    assert_eq!(total.len(), l, "chan[{cap}]: distinct values received");
    for (k, n) in total {
        assert_eq!(n, P, "chan[{cap}]: value {k} received {n} times");
    }
}

async fn len_and_cap(cap: usize) {
    let (tx, rx) = chan::<usize>(cap);
    assert_eq!((tx.len(), tx.cap()), (0, cap));
    assert_eq!((rx.len(), rx.cap()), (0, cap));
    for i in 0..cap {
        tx.send(i).await.unwrap();
    }
    assert_eq!((tx.len(), tx.cap()), (cap, cap));
    assert_eq!((rx.len(), rx.cap()), (cap, cap));
}

// ---------------------------------------------------------------------------
// Non-blocking races
// ---------------------------------------------------------------------------

/// TestNonblockRecvRace: a channel holding a value, then closed, is ready
/// the whole time, so a non-blocking receive never takes `default`.
#[gort::test(procs = 2)]
async fn nonblock_recv_race() {
    watchdog("nonblock_recv_race", async {
        for i in 0..scaled(3000, 10_000) {
            let (tx, rx) = chan::<i32>(1);
            tx.send(1).await.unwrap();
            let rx2 = rx.clone();
            let probe = gort::spawn(async move {
                gort::select! {
                    _ = rx2.recv() => true,
                    default => false,
                }
            });
            tx.close();
            let _ = rx.recv().await;
            assert!(probe.await.unwrap(), "iteration {i}: chan is not ready");
        }
    })
    .await;
}

/// TestNonblockSelectRace: from the moment the probe task exists, at least
/// one of c1 and c2 holds a value, so its non-blocking select must never
/// take `default` (a select acts on one instant, not a smeared window).
#[gort::test(procs = 2)]
async fn nonblock_select_race() {
    watchdog("nonblock_select_race", async {
        let (done_tx, done_rx) = chan::<bool>(1);
        for i in 0..scaled(5000, 30_000) {
            let (c1_tx, c1) = chan::<i32>(1);
            let (c2_tx, c2) = chan::<i32>(1);
            c1_tx.send(1).await.unwrap();
            let probe = {
                let (c1, c2, done_tx) = (c1.clone(), c2.clone(), done_tx.clone());
                gort::spawn(async move {
                    let ready = gort::select! {
                        _ = c1.recv() => true,
                        _ = c2.recv() => true,
                        default => false,
                    };
                    done_tx.send(ready).await.unwrap();
                })
            };
            c2_tx.send(1).await.unwrap();
            gort::select! {
                _ = c1.recv() => {}
                default => {}
            }
            assert_eq!(
                done_rx.recv().await,
                Some(true),
                "iteration {i}: no chan is ready"
            );
            probe.await.unwrap();
        }
    })
    .await;
}

/// TestNonblockSelectRace2: as above, with `close(c2)` making c2 ready.
#[gort::test(procs = 2)]
async fn nonblock_select_race_close() {
    watchdog("nonblock_select_race_close", async {
        let (done_tx, done_rx) = chan::<bool>(1);
        for i in 0..scaled(5000, 30_000) {
            let (c1_tx, c1) = chan::<i32>(1);
            let (c2_tx, c2) = chan::<i32>(0);
            c1_tx.send(1).await.unwrap();
            let probe = {
                let (c1, c2, done_tx) = (c1.clone(), c2.clone(), done_tx.clone());
                gort::spawn(async move {
                    let ready = gort::select! {
                        _ = c1.recv() => true,
                        _ = c2.recv() => true,
                        default => false,
                    };
                    done_tx.send(ready).await.unwrap();
                })
            };
            c2_tx.close();
            gort::select! {
                _ = c1.recv() => {}
                default => {}
            }
            assert_eq!(
                done_rx.recv().await,
                Some(true),
                "iteration {i}: no chan is ready"
            );
            probe.await.unwrap();
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// TestSelfSelect
// ---------------------------------------------------------------------------

/// TestSelfSelect: two tasks each select between sending on and receiving
/// from one channel. Nothing deadlocks, and on an unbuffered channel a
/// select never receives its own send. The counts must balance exactly.
#[gort::test(procs = 2)]
async fn self_select() {
    watchdog("self_select", async {
        const ITERS: usize = 1000;
        for cap in [0usize, 10] {
            let (tx, rx) = chan::<usize>(cap);
            let mut tasks = Vec::new();
            for p in 0..2usize {
                let (tx, rx) = (tx.clone(), rx.clone());
                tasks.push(gort::spawn(async move {
                    // (sends, receives, receives of our own value)
                    let mut counts = (0usize, 0usize, 0usize);
                    for i in 0..ITERS {
                        // Go alternates the textual order of the cases; gort
                        // shuffles anyway, but keep both spellings.
                        let got = if p == 0 || i % 2 == 0 {
                            gort::select! {
                                r = tx.send(p) => { r.unwrap(); None }
                                v = rx.recv() => Some(v.unwrap()),
                            }
                        } else {
                            gort::select! {
                                v = rx.recv() => Some(v.unwrap()),
                                r = tx.send(p) => { r.unwrap(); None }
                            }
                        };
                        match got {
                            None => counts.0 += 1,
                            Some(v) => {
                                counts.1 += 1;
                                if v == p {
                                    counts.2 += 1;
                                }
                            }
                        }
                    }
                    counts
                }));
            }
            let a = tasks.remove(0).await.unwrap();
            let b = tasks.remove(0).await.unwrap();
            assert_eq!(a.0 + a.1, ITERS);
            assert_eq!(b.0 + b.1, ITERS);
            if cap == 0 {
                assert_eq!((a.2, b.2), (0, 0), "self receive on an unbuffered chan");
                assert_eq!(a.0, b.1, "every send of task 0 met a receive of task 1");
                assert_eq!(b.0, a.1, "every send of task 1 met a receive of task 0");
            } else {
                assert_eq!(
                    a.0 + b.0 - a.1 - b.1,
                    rx.len(),
                    "sends - receives == buffered"
                );
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// TestSelectStress
// ---------------------------------------------------------------------------

/// TestSelectStress: on each of four channels (two unbuffered, capacities 2
/// and 3) a plain sender and a plain receiver move N values, while one task
/// sends N values on every channel from a single select and another receives
/// N from every channel in a single select, disabling a case (Go: setting
/// the channel to nil) once its N are done. Nothing deadlocks, and the
/// counts and sums come out exactly.
#[gort::test(procs = 4)]
async fn select_stress() {
    watchdog("select_stress", async {
        let n = scaled(10_000, 50_000);
        let chans: Vec<_> = [0usize, 0, 2, 3]
            .iter()
            .map(|&c| chan::<usize>(c))
            .collect();
        let txs: Vec<_> = chans.iter().map(|(t, _)| t.clone()).collect();
        let rxs: Vec<_> = chans.iter().map(|(_, r)| r.clone()).collect();
        drop(chans);

        let mut plain_senders = Vec::new();
        let mut plain_receivers = Vec::new();
        for k in 0..4 {
            let tx = txs[k].clone();
            plain_senders.push(gort::spawn(async move {
                for i in 0..n {
                    tx.send(i).await.unwrap();
                }
            }));
            let rx = rxs[k].clone();
            plain_receivers.push(gort::spawn(async move {
                let mut sum = 0;
                for _ in 0..n {
                    sum += rx.recv().await.unwrap();
                }
                sum
            }));
        }

        let select_sender = {
            let t = txs.clone();
            gort::spawn(async move {
                let mut sent = [0usize; 4];
                for _ in 0..4 * n {
                    let k = gort::select! {
                        r = t[3].send(sent[3]), if sent[3] < n => { r.unwrap(); 3 }
                        r = t[2].send(sent[2]), if sent[2] < n => { r.unwrap(); 2 }
                        r = t[0].send(sent[0]), if sent[0] < n => { r.unwrap(); 0 }
                        r = t[1].send(sent[1]), if sent[1] < n => { r.unwrap(); 1 }
                    };
                    sent[k] += 1;
                }
                sent
            })
        };
        let select_receiver = {
            let r = rxs.clone();
            gort::spawn(async move {
                let mut got = [0usize; 4];
                let mut sums = [0usize; 4];
                for _ in 0..4 * n {
                    let (k, v) = gort::select! {
                        v = r[0].recv(), if got[0] < n => (0, v),
                        v = r[1].recv(), if got[1] < n => (1, v),
                        v = r[2].recv(), if got[2] < n => (2, v),
                        v = r[3].recv(), if got[3] < n => (3, v),
                    };
                    got[k] += 1;
                    sums[k] += v.expect("channel closed early");
                }
                (got, sums)
            })
        };

        for s in plain_senders {
            s.await.unwrap();
        }
        assert_eq!(select_sender.await.unwrap(), [n; 4]);
        let (got, sums) = select_receiver.await.unwrap();
        assert_eq!(got, [n; 4]);
        // Each channel carried 0..n twice (plain sender and select sender).
        let expected = n * (n - 1);
        for (k, h) in plain_receivers.into_iter().enumerate() {
            let plain_sum = h.await.unwrap();
            assert_eq!(plain_sum + sums[k], expected, "channel {k}: sum of values");
            assert!(rxs[k].is_empty());
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// TestSelectFairness
// ---------------------------------------------------------------------------

/// TestSelectFairness: a select over two always-ready buffered channels and
/// two never-ready unbuffered ones picks each ready one about half the time.
/// Go's bound: |r - 0.5| <= 4.891676 / (2 * sqrt(trials)) (six nines).
#[gort::test(procs = 2)]
async fn select_fairness() {
    watchdog("select_fairness", async {
        const TRIALS: usize = 10_000;
        let (c1_tx, c1) = chan::<u8>(TRIALS + 1);
        let (c2_tx, c2) = chan::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1_tx.send(1).await.unwrap();
            c2_tx.send(2).await.unwrap();
        }
        // Keep the senders of c3 and c4 alive: they must stay open and empty.
        let (_c3_tx, c3) = chan::<u8>(0);
        let (_c4_tx, c4) = chan::<u8>(0);
        let (out_tx, out) = chan::<u8>(0);
        let (done_tx, done) = chan::<()>(0);
        let forwarder = gort::spawn(async move {
            loop {
                let b = gort::select! {
                    v = c3.recv() => v,
                    v = c4.recv() => v,
                    v = c1.recv() => v,
                    v = c2.recv() => v,
                };
                let b = b.expect("a channel closed");
                gort::select! {
                    r = out_tx.send(b) => r.unwrap(),
                    _ = done.recv() => return,
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0usize, 0usize);
        for _ in 0..TRIALS {
            match out.recv().await {
                Some(1) => cnt1 += 1,
                Some(2) => cnt2 += 1,
                other => panic!("unexpected value {other:?} on channel"),
            }
        }
        let r = cnt1 as f64 / TRIALS as f64;
        let e = (r - 0.5).abs();
        assert!(
            e <= 4.891676 / (2.0 * (TRIALS as f64).sqrt()),
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done_tx.close();
        forwarder.await.unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------
// TestChanSendInterface, TestPseudoRandomSend
// ---------------------------------------------------------------------------

struct Marker;

/// TestChanSendInterface: values behind trait objects go through a channel
/// and through non-blocking sends in selects; the values of the send cases
/// that were not chosen are dropped, not leaked and not delivered.
#[gort::test(procs = 2)]
async fn send_values_behind_trait_objects() {
    watchdog("send_values_behind_trait_objects", async {
        let m: Arc<dyn Any + Send + Sync> = Arc::new(Marker);
        let (tx, rx) = chan::<Arc<dyn Any + Send + Sync>>(1);
        tx.send(m.clone()).await.unwrap();
        gort::select! {
            _ = tx.send(m.clone()) => panic!("sent on a full chan"),
            default => {}
        }
        gort::select! {
            _ = tx.send(m.clone()) => panic!("sent on a full chan"),
            _ = tx.send(Arc::new(Marker)) => panic!("sent on a full chan"),
            default => {}
        }
        assert_eq!(Arc::strong_count(&m), 2, "one in the buffer, one here");
        let got = rx.recv().await.unwrap();
        assert!(Arc::ptr_eq(&got, &m));
        assert!(got.downcast_ref::<Marker>().is_some());
        drop(got);
        assert_eq!(Arc::strong_count(&m), 1);
    })
    .await;
}

/// TestPseudoRandomSend: a select between sending 1 and sending 0 on one
/// channel picks each a fair share of the time, buffered or not.
#[gort::test(procs = 2)]
async fn pseudo_random_send() {
    watchdog("pseudo_random_send", async {
        const N: usize = 100;
        for cap in [0, N] {
            let (tx, rx) = chan::<usize>(cap);
            let reader = gort::spawn(async move {
                let mut l = Vec::with_capacity(N);
                for _ in 0..N {
                    gort::yield_now().await;
                    l.push(rx.recv().await.unwrap());
                }
                l
            });
            for _ in 0..N {
                gort::select! {
                    r = tx.send(1) => r.unwrap(),
                    r = tx.send(0) => r.unwrap(),
                }
            }
            let l = reader.await.unwrap();
            let ones: usize = l.iter().sum();
            let zeros = N - ones;
            assert!(
                zeros > N / 10 && ones > N / 10,
                "want pseudorandom, got {zeros} zeros and {ones} ones (chan cap {cap})"
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// TestMultiConsumer
// ---------------------------------------------------------------------------

/// TestMultiConsumer: a feeder sends values through a work queue to 23
/// workers, which forward them to a result channel (some yielding first to
/// disturb the order); the count and the sum of the results are exact.
#[gort::test(procs = 4)]
async fn multi_consumer_sums() {
    watchdog("multi_consumer_sums", async {
        const NWORK: usize = 23;
        let niter = scaled(50_000, 271_828);
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];

        let (q_tx, q) = chan::<usize>(NWORK * 3);
        let (r_tx, r) = chan::<usize>(NWORK * 3);

        let workers: Vec<_> = (0..NWORK)
            .map(|w| {
                let (q, r_tx) = (q.clone(), r_tx.clone());
                gort::spawn(async move {
                    while let Some(v) = q.recv().await {
                        if PN[w % PN.len()] == v {
                            gort::yield_now().await;
                        }
                        r_tx.send(v).await.unwrap();
                    }
                })
            })
            .collect();
        drop(q);
        // The workers hold the only result senders left, so `r` closes when the
        // last worker finishes.
        drop(r_tx);

        let feeder = gort::spawn(async move {
            let mut expect = 0;
            for i in 0..niter {
                let v = PN[i % PN.len()];
                expect += v;
                q_tx.send(v).await.unwrap();
            }
            // Dropping q_tx closes the work queue.
            expect
        });

        let (mut n, mut s) = (0, 0);
        while let Some(v) = r.recv().await {
            n += 1;
            s += v;
        }
        let expect = feeder.await.unwrap();
        for w in workers {
            w.await.unwrap();
        }
        assert_eq!((n, s), (niter, expect), "(count, sum) of results");
    })
    .await;
}

// ---------------------------------------------------------------------------
// TestSelectDuplicateChannel
// ---------------------------------------------------------------------------

/// TestSelectDuplicateChannel: a select may wait on the same channel twice;
/// when it is woken through another channel, its leftover waiters must not
/// corrupt the channel's queue for the next receiver.
#[gort::test(procs = 2)]
async fn select_duplicate_channel() {
    watchdog("select_duplicate_channel", async {
        let (c_tx, c) = chan::<i32>(0);
        let (d_tx, d) = chan::<i32>(0);
        let (e_tx, e) = chan::<i32>(0);

        let a = {
            let c = c.clone();
            gort::spawn(async move {
                let got = gort::select! {
                    v = c.recv() => ("c", v),
                    v = c.recv() => ("c", v),
                    v = d.recv() => ("d", v),
                };
                e_tx.send(9).await.unwrap();
                got
            })
        };
        gort::time::sleep(Duration::from_millis(1)).await; // A queues on c first

        let b = gort::spawn(async move { c.recv().await });
        gort::time::sleep(Duration::from_millis(1)).await; // then B queues on c

        d_tx.send(7).await.unwrap(); // wakes A, which leaves c's queue
        assert_eq!(e.recv().await, Some(9));
        c_tx.send(8).await.unwrap(); // must reach B
        assert_eq!(b.await.unwrap(), Some(8));
        assert_eq!(a.await.unwrap(), ("d", Some(7)));
    })
    .await;
}

// ---------------------------------------------------------------------------
// test/chan/fifo.go
// ---------------------------------------------------------------------------

/// fifo.go AsynchFifo: a buffered channel is a FIFO.
#[gort::test(procs = 2)]
async fn fifo_buffered() {
    watchdog("fifo_buffered", async {
        const N: usize = 100;
        let (tx, rx) = chan::<usize>(N);
        for i in 0..N {
            tx.send(i).await.unwrap();
        }
        for i in 0..N {
            assert_eq!(rx.recv().await, Some(i), "bad receive");
        }
    })
    .await;
}

/// fifo.go SynchFifo: a daisy chain of tasks, each allowed to receive only
/// after its predecessor did, reads the values of an unbuffered channel in
/// the order they were sent.
#[gort::test(procs = 2)]
async fn fifo_unbuffered_chain() {
    watchdog("fifo_unbuffered_chain", async {
        const N: usize = 50;
        let (tx, rx) = chan::<usize>(0);
        let (start_tx, mut link) = chan::<()>(0);
        let mut links = Vec::new();
        for i in 0..N {
            let (out_tx, out_rx) = chan::<()>(0);
            let (input, rx) = (link, rx.clone());
            links.push(gort::spawn(async move {
                input.recv().await.unwrap();
                let v = rx.recv().await.unwrap();
                assert_eq!(v, i, "link {i} received {v}");
                out_tx.send(()).await.unwrap();
            }));
            link = out_rx;
        }
        start_tx.send(()).await.unwrap();
        for i in 0..N {
            tx.send(i).await.unwrap();
        }
        link.recv().await.unwrap();
        for l in links {
            l.await.unwrap();
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// test/chan/nonblock.go
// ---------------------------------------------------------------------------

/// nonblock.go's pause between attempts: a few yields, now and then a sleep.
async fn pause(attempt: usize) {
    for _ in 0..3 {
        gort::yield_now().await;
    }
    if attempt % 8 == 7 {
        gort::time::sleep(Duration::from_micros(50)).await;
    }
}

const MAX_TRIES: usize = 10_000;

/// nonblock.go for one element type and buffer size: a non-blocking receive
/// on an empty channel takes `default`; a non-blocking send (receive)
/// retried until it succeeds reaches a receiver (from a sender) task.
async fn nonblock_roundtrip<T>(buffer: usize, for_receiver: T, from_sender: T)
where
    T: Clone + PartialEq + Debug + Send + 'static,
{
    let (tx, rx) = chan::<T>(buffer);
    let (strobe_tx, strobe) = chan::<bool>(0);

    gort::select! {
        v = rx.recv() => panic!("buffer {buffer}: received {v:?} from an empty chan"),
        default => {}
    }

    // A receiver task; we send without blocking until it succeeds.
    let receiver = {
        let (rx, strobe_tx, want) = (rx.clone(), strobe_tx.clone(), for_receiver.clone());
        gort::spawn(async move {
            assert_eq!(rx.recv().await, Some(want));
            strobe_tx.send(true).await.unwrap();
        })
    };
    let mut tries = 0;
    loop {
        gort::select! {
            r = tx.send(for_receiver.clone()) => { r.unwrap(); break; }
            default => {
                tries += 1;
                assert!(tries <= MAX_TRIES, "buffer {buffer}: receiver never ready");
                pause(tries).await;
            }
        }
    }
    assert_eq!(strobe.recv().await, Some(true));
    receiver.await.unwrap();

    // A sender task; we receive without blocking until it succeeds.
    let sender = {
        let (tx, strobe_tx, v) = (tx.clone(), strobe_tx.clone(), from_sender.clone());
        gort::spawn(async move {
            tx.send(v).await.unwrap();
            strobe_tx.send(true).await.unwrap();
        })
    };
    if buffer > 0 {
        assert_eq!(strobe.recv().await, Some(true));
    }
    let mut tries = 0;
    let got = loop {
        gort::select! {
            v = rx.recv() => break v,
            default => {
                tries += 1;
                assert!(tries <= MAX_TRIES, "buffer {buffer}: sender never ready");
                pause(tries).await;
            }
        }
    };
    assert_eq!(got, Some(from_sender), "buffer {buffer}");
    if buffer == 0 {
        assert_eq!(strobe.recv().await, Some(true));
    }
    sender.await.unwrap();
}

/// nonblock.go: the round trip for several element types, unbuffered and
/// with a buffer of one.
#[gort::test(procs = 2)]
async fn nonblock_ops_of_several_types() {
    watchdog("nonblock_ops_of_several_types", async {
        for buffer in 0..2 {
            nonblock_roundtrip::<i32>(buffer, 123, 234).await;
            nonblock_roundtrip::<i64>(buffer, 123_456, 234_567).await;
            nonblock_roundtrip::<bool>(buffer, true, true).await;
            nonblock_roundtrip::<String>(buffer, "hello".into(), "hello again".into()).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// test/chan/zerosize.go
// ---------------------------------------------------------------------------

/// zerosize.go: channels of zero-sized elements work, buffered or not.
#[gort::test(procs = 2)]
async fn zero_sized_elements() {
    watchdog("zero_sized_elements", async {
        for cap in [0usize, 1, 3] {
            let (tx, rx) = chan::<()>(cap);
            let (atx, arx) = chan::<[u8; 0]>(cap);
            let h = gort::spawn(async move {
                for _ in 0..10 {
                    tx.send(()).await.unwrap();
                    atx.send([]).await.unwrap();
                }
            });
            for _ in 0..10 {
                assert_eq!(rx.recv().await, Some(()));
                assert_eq!(arx.recv().await, Some([]));
            }
            h.await.unwrap();
            assert_eq!(rx.recv().await, None);
            assert_eq!(arx.recv().await, None);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// A regression test distilled from TestSelectStress and doubleselect.go
// ---------------------------------------------------------------------------

/// The smallest shape of doubleselect.go / TestSelectStress that lost a
/// wake-up in an earlier gort (a peer arriving between a select's first
/// look at its cases and the queueing of its waiters was never matched):
/// a one-case sending select against a plain receive, and a one-case
/// receiving select against a plain send, on an unbuffered channel, many
/// times over.
#[gort::test(procs = 2)]
async fn one_case_selects_against_plain_peers() {
    watchdog("one_case_selects_against_plain_peers", async {
        let n = scaled(20_000, 100_000) as u32;
        let (tx, rx) = chan::<u32>(0);
        let (tx2, rx2) = (tx.clone(), rx.clone());
        let h = gort::spawn(async move {
            for i in 0..n {
                gort::select! { r = tx2.send(i) => r.unwrap() }
            }
        });
        for i in 0..n {
            assert_eq!(rx.recv().await, Some(i));
        }
        h.await.unwrap();
        let h = gort::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        for i in 0..n {
            gort::select! { v = rx2.recv() => assert_eq!(v, Some(i)) }
        }
        h.await.unwrap();
    })
    .await;
}
