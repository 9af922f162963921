//! The seed notes' worked Go programs (`../shared/seeds/`), restated as
//! gort tests: racing replicas where the first answer wins (`First()`),
//! the done channel that stops a producer, a worker pool over a
//! WaitGroup, and a pipeline cancelled through a Context. Each runs under
//! `#[gort::test]`, so a deadlock fails with the goroutine dump, and the
//! leak checks say no task is left behind.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::context;
use gort::sync::{chan, Receiver, WaitGroup};

/// How long a check that expects no leak may wait: it returns as soon as
/// the tasks are gone.
const LONG: Duration = Duration::from_secs(10);

/// Spawns `n` replicas that each send their answer on one channel of
/// capacity `cap` and returns the receiver (`First()`'s body).
fn query_replicas(n: usize, cap: usize) -> Receiver<usize> {
    let (tx, rx) = chan::<usize>(cap);
    for replica in 0..n {
        let tx = tx.clone();
        gort::spawn(async move {
            // The send fails (and the task ends) if nobody will receive.
            let _ = tx.send(replica).await;
        });
    }
    rx
}

/// `First()` with a result channel of capacity N: the first answer wins and
/// every other replica's send completes into the buffer, so no task is
/// left once the caller has its answer.
#[gort::test(procs = 2, leak_check, timeout = "30s")]
async fn first_answer_wins_and_a_buffer_of_n_leaves_no_sender_behind() {
    const N: usize = 8;
    let rx = query_replicas(N, N);
    let first = rx.recv().await.expect("one answer");
    assert!(first < N);
    gort::runtime::check_leaks(LONG).expect("every replica finished");
    assert_eq!(gort::runtime::num_goroutines(), 0);
    assert_eq!(rx.len(), N - 1, "the losers' answers wait in the buffer");
}

/// `First()` over an unbuffered channel: the losers block in `chan send`
/// (Go leaks them for ever). gort frees them when the last receiver is
/// dropped: their sends fail, give their values back, and the tasks end.
#[gort::test(procs = 2, leak_check, timeout = "30s")]
async fn unbuffered_first_blocks_the_losers_until_the_receiver_is_dropped() {
    const N: usize = 6;
    let rx = query_replicas(N, 0);
    let first = rx.recv().await.expect("one answer");
    assert!(first < N);
    // The N - 1 losers park on the send; wait until the dump shows them.
    let mut dump = String::new();
    for _ in 0..10_000 {
        dump = gort::runtime::dump();
        if dump.matches("[chan send").count() == N - 1 {
            break;
        }
        gort::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(dump.matches("[chan send").count(), N - 1, "{dump}");
    let leaked = gort::runtime::check_leaks(Duration::from_millis(50))
        .expect_err("the losers are still blocked");
    assert_eq!(leaked.count(), N - 1, "{leaked}");
    drop(rx);
    gort::runtime::check_leaks(LONG).expect("dropping the receiver freed them");
    assert_eq!(gort::runtime::num_goroutines(), 0);
}

/// The done channel: a producer sends values until the consumer closes
/// `done`; it selects on both, so it never blocks for ever on a send that
/// nobody will receive.
#[gort::test(procs = 2, leak_check, timeout = "30s")]
async fn done_channel_stops_the_producer() {
    let (done_tx, done_rx) = chan::<()>(0);
    let (tx, rx) = chan::<u64>(0);
    let sent = Arc::new(AtomicUsize::new(0));
    let s = sent.clone();
    let producer = gort::spawn(async move {
        let mut n = 0u64;
        loop {
            gort::select! {
                r = tx.send(n) => {
                    r.expect("the consumer keeps its receiver");
                    s.fetch_add(1, SeqCst);
                    n += 1;
                }
                _ = done_rx.recv() => return n,
            }
        }
    });
    for want in 0..100 {
        assert_eq!(rx.recv().await, Some(want));
    }
    done_tx.close();
    let produced = producer.await.unwrap();
    // Each value the producer counted was received: the unbuffered send
    // completes only with a receive.
    assert_eq!(produced, 100);
    assert_eq!(sent.load(SeqCst), 100);
    drop(rx); // still open until here: the producer left because of `done`
}

/// A worker pool: W workers take jobs from one channel, send results on
/// another; a WaitGroup closes the results when the last worker is done.
/// Every job is done exactly once.
#[gort::test(procs = 2, leak_check, timeout = "30s")]
async fn worker_pool_with_waitgroup_and_results_channel() {
    const WORKERS: usize = 4;
    const JOBS: u64 = 200;
    let (jobs_tx, jobs_rx) = chan::<u64>(16);
    let (results_tx, results_rx) = chan::<(usize, u64)>(16);
    let wg = WaitGroup::new();
    for w in 0..WORKERS {
        let (jobs_rx, results_tx) = (jobs_rx.clone(), results_tx.clone());
        wg.go(async move {
            while let Some(j) = jobs_rx.recv().await {
                results_tx.send((w, j * j)).await.unwrap();
            }
        });
    }
    drop((jobs_rx, results_tx));
    let closer = {
        let wg = wg.clone();
        gort::spawn(async move { wg.wait().await }) // then the last sender drops
    };
    gort::spawn(async move {
        for j in 0..JOBS {
            jobs_tx.send(j).await.unwrap();
        }
        // Dropping `jobs_tx` closes the jobs: the workers' loops end.
    });
    let mut per_worker = [0usize; WORKERS];
    let mut sum = 0;
    let mut count = 0;
    while let Some((w, r)) = results_rx.recv().await {
        per_worker[w] += 1;
        sum += r;
        count += 1;
    }
    closer.await.unwrap();
    assert_eq!(count, JOBS);
    assert_eq!(sum, (0..JOBS).map(|j| j * j).sum::<u64>());
    assert_eq!(per_worker.iter().sum::<usize>() as u64, JOBS);
    assert_eq!(wg.count(), 0);
}

/// A pipeline (generate → square → sum) whose stages each select on the
/// context's `done()`. Cancelled midway, every stage exits; the counts are
/// consistent (nothing summed that was not squared, nothing squared that
/// was not generated).
#[gort::test(procs = 2, leak_check, timeout = "30s")]
async fn pipeline_cancelled_through_a_context() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    let generated = Arc::new(AtomicUsize::new(0));
    let squared = Arc::new(AtomicUsize::new(0));

    let (nums_tx, nums_rx) = chan::<u64>(0);
    let (sq_tx, sq_rx) = chan::<u64>(0);
    let (c, g) = (ctx.clone(), generated.clone());
    let gen = gort::spawn(async move {
        for n in 0.. {
            gort::select! {
                r = nums_tx.send(n) => {
                    if r.is_err() { return; }
                    g.fetch_add(1, SeqCst);
                }
                _ = c.done() => return,
            }
        }
    });
    let (c, s) = (ctx.clone(), squared.clone());
    let square = gort::spawn(async move {
        loop {
            let n = gort::select! {
                v = nums_rx.recv() => match v { Some(n) => n, None => return },
                _ = c.done() => return,
            };
            gort::select! {
                r = sq_tx.send(n * n) => {
                    if r.is_err() { return; }
                    s.fetch_add(1, SeqCst);
                }
                _ = c.done() => return,
            }
        }
    });
    let mut summed = 0usize;
    let mut total = 0u64;
    while summed < 50 {
        let v = sq_rx
            .recv()
            .await
            .expect("the pipeline runs until cancelled");
        assert_eq!(v, (summed as u64) * (summed as u64), "in order");
        total += v;
        summed += 1;
    }
    cancel.cancel(); // midway: the stages may be blocked on a send or a receive
    gen.await.unwrap();
    square.await.unwrap();
    gort::runtime::check_leaks(LONG).expect("every stage exited");
    let (g, s) = (generated.load(SeqCst), squared.load(SeqCst));
    assert_eq!(s, summed, "every squared value was summed");
    assert!(g >= s && g <= s + 1, "generated {g}, squared {s}");
    assert_eq!(total, (0..50u64).map(|n| n * n).sum::<u64>());
    assert!(ctx.err().is_some());
}
