//! Go's channel test programs (`test/chan/*.go`), re-expressed as gort tests.
//!
//! Ported from Go's `test/chan/` directory (Go 1.19), BSD license,
//! Copyright The Go Authors. Rewritten in Rust rather than translated line
//! by line; iteration counts are scaled down (more so in debug builds).
//!
//! | Rust test                                  | Go original                      |
//! |--------------------------------------------|----------------------------------|
//! | `sieve_of_chained_filters`                 | test/chan/sieve1.go              |
//! | `sieve_of_merged_multiples`                | test/chan/sieve2.go              |
//! | `double_select_never_duplicates`           | test/chan/doubleselect.go        |
//! | `chain_of_tasks_passes_a_value`            | test/chan/goroutines.go          |
//! | `select3_*`                                | test/chan/select3.go             |
//! | `select_evaluates_enabled_cases_only`      | test/chan/select.go (adapted)    |
//! | `select_proceeds_when_a_value_is_ready`    | test/chan/select4.go             |
//! | `select_leaves_other_waiters_intact`       | test/chan/select6.go             |
//! | `select_discarding_values`                 | test/chan/select7.go             |
//! | `break_inside_select_bodies`               | test/chan/select8.go             |
//! | `channel_of_channels`                      | test/chan/sendstmt.go            |
//!
//! Not ported: perm.go (compile-time direction checks), select2.go (memory
//! use of the Go runtime), select5.go (generated), powser*.go.
//!
//! Every test body runs under a 30 s watchdog that fails with a task dump
//! instead of hanging, should a wake-up ever be lost.
//!
//! Go's infinite generator goroutines leak when `main` returns; here each
//! generator stops when its send fails because every receiver is gone.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::time::Duration;

use futures::FutureExt;
use gort::sync::{chan, Receiver, SendError, Sender};

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

/// The first `n` primes, by trial division.
fn reference_primes(n: usize) -> Vec<u64> {
    let mut primes: Vec<u64> = Vec::new();
    let mut k = 2u64;
    while primes.len() < n {
        if primes
            .iter()
            .take_while(|&&p| p * p <= k)
            .all(|&p| k % p != 0)
        {
            primes.push(k);
        }
        k += 1;
    }
    primes
}

// ---------------------------------------------------------------------------
// sieve1.go
// ---------------------------------------------------------------------------

/// sieve1.go: a generator of 2, 3, 4, ... feeds a growing chain of filter
/// tasks, one per prime found, each dropping the multiples of its prime.
#[gort::test(procs = 2)]
async fn sieve_of_chained_filters() {
    watchdog("sieve_of_chained_filters", async {
        const N: usize = 100;
        let (primes_tx, primes) = chan::<u64>(0);
        gort::spawn(async move {
            let (gen_tx, mut ch) = chan::<u64>(0);
            gort::spawn(async move {
                for i in 2.. {
                    if gen_tx.send(i).await.is_err() {
                        return;
                    }
                }
            });
            loop {
                let Some(prime) = ch.recv().await else { return };
                if primes_tx.send(prime).await.is_err() {
                    return;
                }
                let (filtered_tx, filtered) = chan::<u64>(0);
                let input = ch;
                gort::spawn(async move {
                    while let Some(i) = input.recv().await {
                        if i % prime != 0 && filtered_tx.send(i).await.is_err() {
                            return;
                        }
                    }
                });
                ch = filtered;
            }
        });
        for (i, want) in reference_primes(N).into_iter().enumerate() {
            assert_eq!(primes.recv().await, Some(want), "prime #{i}");
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// sieve2.go
// ---------------------------------------------------------------------------

/// A task sending `first, first + step, ...` until its receiver is gone.
fn arithmetic(first: u64, step: u64, cap: usize) -> Receiver<u64> {
    let (tx, rx) = chan(cap);
    gort::spawn(async move {
        let mut n = first;
        while tx.send(n).await.is_ok() {
            n += step;
        }
    });
    rx
}

/// A sender whose sends never block: a task buffers in a growing queue
/// whatever it receives and forwards it to `out` when `out` can take it (a
/// select whose send case is disabled while the queue is empty).
fn unbounded_proxy(out: Sender<u64>) -> Sender<u64> {
    let (proxy_tx, proxy) = chan::<u64>(10);
    gort::spawn(async move {
        let mut queue: VecDeque<u64> = VecDeque::new();
        loop {
            let head = queue.front().copied();
            gort::select! {
                v = proxy.recv() => match v {
                    Some(v) => queue.push_back(v),
                    None => return,
                },
                r = out.send(head.unwrap_or_default()), if head.is_some() => match r {
                    Ok(()) => { queue.pop_front(); }
                    Err(_) => return,
                },
            }
        }
    });
    proxy_tx
}

/// sieve2.go: an Eratosthenes-like sieve over odd candidates. A merger task
/// keeps a heap of streams of odd multiples (p*p, p*p + 2p, ...), one per
/// prime fed back to it, and emits the composites in increasing order; a
/// sieving task passes the candidates that are not composites, and feeds
/// each new prime back to the merger through an unbounded proxy.
fn sieve_of_merged_multiples_stream() -> Receiver<u64> {
    let (out_tx, out) = chan::<u64>(10);
    out_tx.try_send(2).unwrap();
    out_tx.try_send(3).unwrap();
    let (composites_tx, composites) = chan::<u64>(50);
    let (primes_tx, primes) = chan::<u64>(10);
    primes_tx.try_send(3).unwrap();

    // Merger: emits every odd composite >= 9 in increasing order (no
    // repeats), which needs only the primes up to its square root.
    gort::spawn(async move {
        let mut streams: Vec<Receiver<u64>> = Vec::new();
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut last = 0;
        loop {
            let Some(p) = primes.recv().await else { return };
            let m = arithmetic(p * p, 2 * p, 10);
            let Some(head) = m.recv().await else { return };
            // Everything below p*p is now complete: flush it.
            while let Some(&Reverse((c, idx))) = heap.peek() {
                if c > head {
                    break;
                }
                heap.pop();
                if c < head && c > last {
                    if composites_tx.send(c).await.is_err() {
                        return;
                    }
                    last = c;
                }
                let Some(next) = streams[idx].recv().await else {
                    return;
                };
                heap.push(Reverse((next, idx)));
            }
            if composites_tx.send(head).await.is_err() {
                return;
            }
            last = head;
            let Some(next) = m.recv().await else { return };
            heap.push(Reverse((next, streams.len())));
            streams.push(m);
        }
    });

    // Sieve: a candidate below the next composite is a prime.
    gort::spawn(async move {
        let primes_tx = unbounded_proxy(primes_tx);
        let candidates = arithmetic(5, 2, 50);
        let Some(mut p) = candidates.recv().await else {
            return;
        };
        loop {
            let Some(c) = composites.recv().await else {
                return;
            };
            while p < c {
                if primes_tx.send(p).await.is_err() || out_tx.send(p).await.is_err() {
                    return;
                }
                let Some(next) = candidates.recv().await else {
                    return;
                };
                p = next;
            }
            if p == c {
                let Some(next) = candidates.recv().await else {
                    return;
                };
                p = next;
            }
        }
    });
    out
}

#[gort::test(procs = 2)]
async fn sieve_of_merged_multiples() {
    watchdog("sieve_of_merged_multiples", async {
        const N: usize = 300;
        let primes = sieve_of_merged_multiples_stream();
        for (i, want) in reference_primes(N).into_iter().enumerate() {
            assert_eq!(primes.recv().await, Some(want), "prime #{i}");
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// doubleselect.go
// ---------------------------------------------------------------------------

/// doubleselect.go: a sender selects among four unbuffered channels for each
/// counter value; four forwarding tasks merge them into one channel. If two
/// cases of one select ever both ran, a value would arrive twice.
#[gort::test(procs = 2)]
async fn double_select_never_duplicates() {
    watchdog("double_select_never_duplicates", async {
        let n = scaled(20_000, 100_000);
        let chans: Vec<_> = (0..4).map(|_| chan::<usize>(0)).collect();
        let txs: Vec<Sender<usize>> = chans.iter().map(|(t, _)| t.clone()).collect();
        let (mux_tx, mux) = chan::<usize>(0);
        let mut forwarders = Vec::new();
        for (_, rx) in chans {
            let out = mux_tx.clone();
            forwarders.push(gort::spawn(async move {
                while let Some(v) = rx.recv().await {
                    out.send(v).await.unwrap();
                }
            }));
        }
        drop(mux_tx); // mux closes when the last forwarder ends
        let sender = gort::spawn(async move {
            for i in 0..n {
                gort::select! {
                    r = txs[0].send(i) => r.unwrap(),
                    r = txs[1].send(i) => r.unwrap(),
                    r = txs[2].send(i) => r.unwrap(),
                    r = txs[3].send(i) => r.unwrap(),
                }
            }
            // dropping txs closes the four channels
        });
        let mut seen = HashSet::with_capacity(n);
        while let Some(v) = mux.recv().await {
            assert!(seen.insert(v), "got duplicate value: {v}");
        }
        assert_eq!(seen.len(), n, "every value arrives");
        sender.await.unwrap();
        for f in forwarders {
            f.await.unwrap();
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// goroutines.go
// ---------------------------------------------------------------------------

/// goroutines.go: a chain of many tasks, each receiving from its right
/// neighbour and passing the value on to its left; a value sent into the
/// rightmost end comes out of the leftmost, and everything tears down.
#[gort::test(procs = 2)]
async fn chain_of_tasks_passes_a_value() {
    watchdog("chain_of_tasks_passes_a_value", async {
        let n = scaled(10_000, 10_000);
        let (leftmost_tx, leftmost) = chan::<u64>(0);
        let mut left = leftmost_tx;
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            let (right_tx, right) = chan::<u64>(0);
            let l = left;
            links.push(gort::spawn(async move {
                let v = right.recv().await.unwrap();
                l.send(v + 1).await.unwrap();
            }));
            left = right_tx;
        }
        let rightmost = left;
        let first = gort::spawn(async move { rightmost.send(1).await.unwrap() });
        assert_eq!(leftmost.recv().await, Some(1 + n as u64));
        first.await.unwrap();
        for l in links {
            l.await.unwrap();
        }
        // Everything tears down. (A task's JoinHandle can resolve a moment
        // before the task leaves the runtime's count, see the next test, so
        // allow it a little while.)
        for _ in 0..1000 {
            if gort::runtime::num_goroutines() == 0 {
                break;
            }
            gort::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(gort::runtime::num_goroutines(), 0);
    })
    .await;
}

/// goroutines.go's clean teardown, strictly: once every task has been
/// joined, none is counted as live (contract: `num_goroutines` counts "not
/// finished ones").
#[gort::test(procs = 2)]
async fn joined_tasks_are_not_counted() {
    watchdog("joined_tasks_are_not_counted", async {
        for i in 0..scaled(20_000, 100_000) {
            let (tx, rx) = chan::<usize>(0);
            let h = gort::spawn(async move { tx.send(i).await.unwrap() });
            assert_eq!(rx.recv().await, Some(i));
            h.await.unwrap();
            assert_eq!(
                gort::runtime::num_goroutines(),
                0,
                "iteration {i}: a joined task is still counted"
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// select3.go: what blocks and what does not
// ---------------------------------------------------------------------------

/// Go's testBlock(always, f): the operation does not complete on its first
/// poll, nor within a few milliseconds.
async fn assert_blocks<F: std::future::Future>(what: &str, f: F) {
    let mut f = Box::pin(f);
    assert!(
        (&mut f).now_or_never().is_none(),
        "{what}: completed at once"
    );
    let r = gort::time::timeout(Duration::from_millis(5), f).await;
    assert!(r.is_err(), "{what}: completed, expected it to block");
}

/// Go's testBlock(never, f): the operation completes on its first poll.
fn assert_ready<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match f.now_or_never() {
        Some(v) => v,
        None => panic!("{what}: blocked, expected it to complete at once"),
    }
}

/// select3.go, nil channels: a disabled case never fires; a select whose
/// cases are all disabled blocks without `default` and takes `default`
/// with it; a disabled case's expression is not evaluated.
#[gort::test(procs = 2)]
async fn select3_disabled_cases() {
    watchdog("select3_disabled_cases", async {
        let (tx, rx) = chan::<i32>(1);
        tx.send(1).await.unwrap(); // ready, yet disabled below
        let mut evaluated = 0;
        let mut touch = |n: i32| {
            evaluated += 1;
            n
        };

        // with default: never chosen, default runs
        let r = gort::select! {
            _ = tx.send(touch(7)), if false => unreachable!(),
            default => "default",
        };
        assert_eq!(r, "default");
        let r = gort::select! {
            _ = rx.recv(), if false => unreachable!(),
            default => "default",
        };
        assert_eq!(r, "default");

        // without default: blocks
        assert_blocks("select on a disabled receive", async {
            gort::select! { _ = rx.recv(), if false => unreachable!() }
        })
        .await;
        assert_blocks("select on a disabled send", async {
            gort::select! { _ = tx.send(7), if false => unreachable!() }
        })
        .await;
        assert_blocks("select on disabled send and receive", async {
            gort::select! {
                _ = rx.recv(), if false => unreachable!(),
                _ = tx.send(7), if false => unreachable!(),
            }
        })
        .await;
        assert_eq!(evaluated, 0);
        assert_eq!(rx.len(), 1, "nothing taken or added");
    })
    .await;
}

/// select3.go, plain operations: a send into free buffer space and a
/// receive from a closed channel never block; a receive from a channel with
/// nothing to offer always does; a send on a closed channel fails (Go
/// panics).
#[gort::test(procs = 2)]
async fn select3_plain_operations() {
    watchdog("select3_plain_operations", async {
        let (tx, rx) = chan::<i32>(1);
        assert_ready("send to a buffer with room", tx.send(7)).unwrap();
        assert_blocks("send to a full buffer", tx.send(8)).await;
        assert_eq!(rx.recv().await, Some(7));

        let (closed_tx, closed) = chan::<i32>(0);
        closed_tx.close();
        for _ in 0..10 {
            assert_eq!(
                assert_ready("receive from a closed chan", closed.recv()),
                None
            );
        }
        match assert_ready("send on a closed chan", closed_tx.send(7)) {
            Err(SendError(7)) => {}
            other => panic!("send on a closed chan gave {other:?}"),
        }

        let (_keep, empty) = chan::<i32>(0);
        assert_blocks("receive from an empty chan", empty.recv()).await;
    })
    .await;
}

/// select3.go, selects: `default` never blocks; ready cases never block;
/// closed channels behave as in plain operations; non-ready cases block;
/// a select never pairs with itself.
#[gort::test(procs = 2)]
async fn select3_selects() {
    watchdog("select3_selects", async {
        // Go's `select { default: }`, and the same with a disabled case.
        let r = assert_ready("default alone", async {
            gort::select! { default => 1 }
        });
        assert_eq!(r, 1);
        let (_keep, idle) = chan::<i32>(0);
        let r = assert_ready("default with a disabled case", async {
            gort::select! { _ = idle.recv(), if false => 0, default => 1 }
        });
        assert_eq!(r, 1);

        // `default` as the "would block" observer
        let (tx, rx) = chan::<i32>(1);
        let would_block_send =
            gort::select! { r = tx.send(7) => { r.unwrap(); false } default => true };
        assert!(!would_block_send, "send with room");
        let would_block_send = gort::select! { _ = tx.send(8) => false, default => true };
        assert!(would_block_send, "send on a full chan");
        let would_block_recv =
            gort::select! { v = rx.recv() => { assert_eq!(v, Some(7)); false } default => true };
        assert!(!would_block_recv, "receive with a value buffered");
        let would_block_recv = gort::select! { _ = rx.recv() => false, default => true };
        assert!(would_block_recv, "receive from an empty chan");

        // ready selects complete at once without default too
        assert_ready("select send with room", async {
            gort::select! { r = tx.send(7) => r.unwrap() }
        });
        assert_ready("select receive of a buffered value", async {
            gort::select! { v = rx.recv() => assert_eq!(v, Some(7)) }
        });

        // closed channels
        let (closed_tx, closed) = chan::<i32>(0);
        closed_tx.close();
        let v = assert_ready("select receive on a closed chan", async {
            gort::select! { v = closed.recv() => v }
        });
        assert_eq!(v, None);
        let r = assert_ready("select send on a closed chan", async {
            gort::select! { r = closed_tx.send(7) => r }
        });
        assert!(matches!(r, Err(SendError(7))), "{r:?}");

        // non-ready channels
        let (_keep, empty) = chan::<i32>(0);
        assert_blocks("select on an empty chan", async {
            gort::select! { v = empty.recv() => v }
        })
        .await;

        // a select does not pair its own send and receive
        let (self_tx, self_rx) = chan::<i32>(0);
        assert_blocks("select sending to itself", async {
            gort::select! {
                r = self_tx.send(1) => r.is_ok(),
                v = self_rx.recv() => v.is_some(),
            }
        })
        .await;
        let would_block = gort::select! {
            _ = self_tx.send(1) => false,
            _ = self_rx.recv() => false,
            default => true,
        };
        assert!(would_block, "self-select with default");
    })
    .await;
}

// ---------------------------------------------------------------------------
// select.go, select4.go, select6.go, select7.go, select8.go, sendstmt.go
// ---------------------------------------------------------------------------

/// select.go's `Send`: sends into whichever of `a` and `b` can take a value
/// (each at most once, a used one disabled like Go's nil channel) until a
/// select takes `default`. Returns how many sends happened.
async fn send_until_default(
    mut a: Option<&Sender<u32>>,
    mut b: Option<&Sender<u32>>,
    counter: &mut u32,
    shift: &mut u32,
) -> u32 {
    fn value(counter: &mut u32, shift: u32) -> u32 {
        *counter += 1;
        1 << shift
    }
    let mut sent = 0;
    loop {
        let progressed = gort::select! {
            r = a.unwrap().send(value(counter, *shift)), if a.is_some() => {
                r.unwrap();
                a = None;
                true
            }
            r = b.unwrap().send(value(counter, *shift)), if b.is_some() => {
                r.unwrap();
                b = None;
                true
            }
            default => false,
        };
        if !progressed {
            return sent;
        }
        sent += 1;
        *shift += 1;
    }
}

/// select.go, adapted: each time a select runs it evaluates the value of
/// every enabled send case once. Go also evaluates the cases of nil
/// channels (its count is 10); gort does not evaluate a disabled case, so
/// here the count is 2 + 1 + 0 for the first call and 1 + 0 for the second.
#[gort::test(procs = 1)]
async fn select_evaluates_enabled_cases_only() {
    watchdog("select_evaluates_enabled_cases_only", async {
        let (a_tx, a) = chan::<u32>(1);
        let (b_tx, b) = chan::<u32>(1);
        let (mut counter, mut shift) = (0, 0);
        let sent = send_until_default(Some(&a_tx), Some(&b_tx), &mut counter, &mut shift).await;
        assert_eq!(sent, 2);
        let (av, bv) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert_eq!(av | bv, 3, "bad values {av} {bv}");
        let sent = send_until_default(Some(&a_tx), None, &mut counter, &mut shift).await;
        assert_eq!(sent, 1);
        assert_eq!(counter, 4, "value expressions evaluated");
    })
    .await;
}

/// select4.go: a select proceeds with the case whose value is ready, and
/// the body of the other case does not run.
#[gort::test(procs = 1)]
async fn select_proceeds_when_a_value_is_ready() {
    watchdog("select_proceeds_when_a_value_is_ready", async {
        let (c_tx, c) = chan::<i32>(1);
        let (_c1_tx, c1) = chan::<i32>(0);
        c_tx.send(42).await.unwrap();
        let x = gort::select! {
            _ = c1.recv() => panic!("ran the body of a case that was not ready"),
            v = c.recv() => v.unwrap(),
        };
        assert_eq!(x, 42);
    })
    .await;
}

/// select6.go (Go issue 2075): a select that loses on c1 while another
/// receiver also waits on c1 must leave c1's queue intact, so that later
/// receivers on c1 (including the same task) are still woken.
#[gort::test(procs = 2)]
async fn select_leaves_other_waiters_intact() {
    watchdog("select_leaves_other_waiters_intact", async {
        let (c1_tx, c1) = chan::<bool>(0);
        let (c2_tx, c2) = chan::<bool>(0);
        let (c3_tx, c3) = chan::<bool>(0);
        let plain = {
            let c1 = c1.clone();
            gort::spawn(async move { c1.recv().await })
        };
        let selecting = gort::spawn(async move {
            gort::select! {
                _ = c1.recv() => panic!("c1 must not be chosen"),
                _ = c2.recv() => c3_tx.send(true).await.unwrap(),
            }
            c1.recv().await
        });
        let trigger = gort::spawn(async move { c2_tx.send(true).await.unwrap() });
        assert_eq!(c3.recv().await, Some(true));
        c1_tx.send(true).await.unwrap();
        c1_tx.send(true).await.unwrap();
        assert_eq!(plain.await.unwrap(), Some(true));
        assert_eq!(selecting.await.unwrap(), Some(true));
        trigger.await.unwrap();
    })
    .await;
}

/// The three receive shapes of select7.go: a plain receive, a one-case
/// select, a select with a second never-ready channel.
async fn receive_shape(shape: usize, c: Receiver<i32>) -> Option<i32> {
    match shape {
        0 => c.recv().await,
        1 => gort::select! { v = c.recv() => v },
        _ => {
            let (_keep, never) = chan::<i32>(0);
            gort::select! {
                v = c.recv() => v,
                _ = never.recv() => panic!("never-ready channel fired"),
            }
        }
    }
}

/// select7.go: every combination of the three send shapes with the three
/// receive shapes delivers the value (the receiver discards nothing it
/// should not, the sender's spare cases deliver nothing).
#[gort::test(procs = 2)]
async fn select_discarding_values() {
    watchdog("select_discarding_values", async {
        for recv_shape in 0..3 {
            for send_shape in 0..3 {
                let (tx, rx) = chan::<i32>(0);
                let receiver = gort::spawn(receive_shape(recv_shape, rx));
                gort::yield_now().await;
                match send_shape {
                    0 => tx.send(1).await.unwrap(),
                    1 => gort::select! { r = tx.send(1) => r.unwrap() },
                    _ => {
                        let (spare_tx, _spare) = chan::<i32>(0);
                        gort::select! {
                            r = tx.send(1) => r.unwrap(),
                            _ = spare_tx.send(1) => panic!("no receiver on the spare channel"),
                        }
                    }
                }
                assert_eq!(
                    receiver.await.unwrap(),
                    Some(1),
                    "receive shape {recv_shape}, send shape {send_shape}"
                );
            }
        }
    })
    .await;
}

/// select8.go: `break` inside select bodies leaves the enclosing loop, for
/// one-, two- and three-case selects, with and without `default`.
#[gort::test(procs = 2)]
// The loops exist only to be left by a `break` inside a select body.
#[allow(clippy::never_loop)]
async fn break_inside_select_bodies() {
    watchdog("break_inside_select_bodies", async {
        let (tx, rx) = chan::<i32>(0);
        let feeder = gort::spawn(async move { while tx.send(5).await.is_ok() {} });
        let mut reached = 0;
        loop {
            gort::select! {
                v = rx.recv() => { assert_eq!(v, Some(5)); break; }
            }
        }
        reached += 1;
        // Go's one-case `select { default: break }`; gort's `select!` cannot
        // have `default` alone yet (see above), so it gets a disabled case.
        loop {
            gort::select! {
                _ = rx.recv(), if false => panic!("disabled"),
                default => break,
            }
        }
        reached += 1;
        loop {
            gort::select! {
                _ = rx.recv() => break,
                default => break,
            }
        }
        reached += 1;
        let (never_tx, _never) = chan::<i32>(0);
        loop {
            gort::select! {
                _ = rx.recv() => break,
                _ = never_tx.send(10) => panic!("no receiver for this send"),
                default => break,
            }
        }
        reached += 1;
        assert_eq!(reached, 4);
        drop(rx);
        feeder.await.unwrap();
    })
    .await;
}

/// sendstmt.go: a channel can carry channel ends; a value is sent, without
/// blocking, on a channel that was itself received from a channel.
#[gort::test(procs = 1)]
async fn channel_of_channels() {
    watchdog("channel_of_channels", async {
        let (cc_tx, cc) = chan::<Sender<i32>>(1);
        let (c_tx, c) = chan::<i32>(1);
        cc_tx.send(c_tx).await.unwrap();
        let inner = cc.recv().await.unwrap();
        gort::select! {
            r = inner.send(2) => r.unwrap(),
            default => panic!("nonblock"),
        }
        assert_eq!(c.recv().await, Some(2), "bad receive");
    })
    .await;
}
