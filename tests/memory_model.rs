//! Go's memory model on a real runtime (`procs = 2`): the buffered channel
//! as a counting semaphore (the k-th receive before the (k+C)-th send
//! completes), and a smoke test of each happens-before rule that
//! `docs/semantics.md`, "Memory model", lists. The proofs are the loom
//! models (`loom_mm_*` in gort-sync and gort-core); these runs check the
//! same rules through the public API, with the scheduler, wake-ups and
//! stealing in the way. Values are `Relaxed` atomics written before the
//! operation and read after the matching one: only the operation's edge
//! makes the read see the write (a plain value would be undefined
//! behaviour if the rule failed).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use gort::context;
use gort::sync::{chan, Mutex, Once, RwMutex, WaitGroup};

/// Rounds per rule: enough to put the two sides on different Ms often.
const ROUNDS: usize = 200;

/// Go's semaphore idiom: `sem := make(chan struct{}, N)`; each of `M`
/// tasks sends to enter and receives to leave. At most `N` are inside at
/// once, and exactly `N` at some point: the first `N` to enter wait at a
/// gate that opens (closes) only when `N` are inside, so the count reaches
/// `N` whatever the schedule (no timing involved).
#[gort::test(procs = 2, timeout = "30s")]
async fn buffered_channel_as_a_counting_semaphore() {
    const N: usize = 3;
    const M: usize = 40;
    let (sem_tx, sem_rx) = chan::<()>(N);
    let (gate_tx, gate_rx) = chan::<()>(0);
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..M {
        let (sem_tx, sem_rx) = (sem_tx.clone(), sem_rx.clone());
        let (gate_tx, gate_rx) = (gate_tx.clone(), gate_rx.clone());
        let (inside, max, done) = (inside.clone(), max.clone(), done.clone());
        tasks.push(gort::spawn(async move {
            sem_tx.send(()).await.unwrap(); // acquire a slot
            let now = inside.fetch_add(1, Relaxed) + 1;
            assert!(now <= N, "{now} tasks inside a {N}-slot semaphore");
            max.fetch_max(now, Relaxed);
            if now == N {
                gate_tx.close(); // N inside: open the gate
            }
            assert_eq!(gate_rx.recv().await, None);
            inside.fetch_sub(1, Relaxed);
            done.fetch_add(1, Relaxed);
            sem_rx.recv().await.unwrap(); // release the slot
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done.load(Relaxed), M);
    assert_eq!(max.load(Relaxed), N, "the semaphore never filled");
    assert_eq!(sem_rx.len(), 0);
}

/// A send happens before the matching receive completes (buffered and
/// unbuffered).
#[gort::test(procs = 2, timeout = "30s")]
async fn send_before_receive_completes() {
    for cap in [0, 1] {
        let data = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = chan::<usize>(cap);
        let d = data.clone();
        let sender = gort::spawn(async move {
            for i in 1..=ROUNDS {
                d.store(i, Relaxed);
                tx.send(i).await.unwrap();
            }
        });
        for i in 1..=ROUNDS {
            assert_eq!(rx.recv().await, Some(i));
            assert!(data.load(Relaxed) >= i, "cap {cap}: round {i} unseen");
        }
        sender.await.unwrap();
    }
}

/// A close happens before a receive that returns because of it.
#[gort::test(procs = 2, timeout = "30s")]
async fn close_before_receive_of_closed() {
    for _ in 0..ROUNDS {
        let data = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = chan::<()>(0);
        let d = data.clone();
        let closer = gort::spawn(async move {
            d.store(1, Relaxed);
            tx.close();
        });
        assert_eq!(rx.recv().await, None);
        assert_eq!(data.load(Relaxed), 1);
        closer.await.unwrap();
    }
}

/// Unbuffered: the receive happens before the send completes; cap C: the
/// k-th receive before the (k+C)-th send completes.
#[gort::test(procs = 2, timeout = "30s")]
async fn receive_before_send_completes() {
    for cap in [0usize, 2] {
        let data = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = chan::<usize>(cap);
        for k in 1..=cap {
            tx.send(k).await.unwrap(); // sends 1..=C fill the buffer
        }
        let d = data.clone();
        let receiver = gort::spawn(async move {
            for k in 1..=ROUNDS {
                d.store(k, Relaxed);
                assert_eq!(rx.recv().await, Some(k)); // receive k
            }
            rx
        });
        for k in 1..=ROUNDS - cap {
            tx.send(k + cap).await.unwrap(); // send k + C
            assert!(data.load(Relaxed) >= k, "cap {cap}: receive {k} unseen");
        }
        drop(receiver.await.unwrap());
    }
}

/// A select's chosen case obeys its channel's rule.
#[gort::test(procs = 2, timeout = "30s")]
async fn select_case_obeys_its_channel() {
    let data = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<usize>(0);
    let (_idle_tx, idle_rx) = chan::<usize>(0);
    let d = data.clone();
    let sender = gort::spawn(async move {
        for i in 1..=ROUNDS {
            d.store(i, Relaxed);
            tx.send(i).await.unwrap();
        }
    });
    for i in 1..=ROUNDS {
        gort::select! {
            v = rx.recv() => assert_eq!(v, Some(i)),
            _ = idle_rx.recv() => unreachable!("nobody sends on it"),
        }
        assert!(data.load(Relaxed) >= i);
    }
    sender.await.unwrap();
}

/// Mutex and RwMutex: an unlock happens before the next lock returns.
/// Each critical section reads, then writes, a `Relaxed` counter (not an
/// atomic increment): a lost update means two sections overlapped or one
/// did not see the previous one's write.
#[gort::test(procs = 2, timeout = "30s")]
async fn unlock_before_next_lock() {
    let m = Arc::new(Mutex::new(()));
    let rw = Arc::new(RwMutex::new(()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (m, rw, count) = (m.clone(), rw.clone(), count.clone());
        tasks.push(gort::spawn(async move {
            for _ in 0..ROUNDS {
                if t % 2 == 0 {
                    let _g = m.lock().await;
                    let _w = rw.write().await;
                    let v = count.load(Relaxed);
                    gort::yield_now().await;
                    count.store(v + 1, Relaxed);
                } else {
                    let _g = m.lock().await;
                    let v = count.load(Relaxed);
                    count.store(v + 1, Relaxed);
                    drop(_g);
                    let _r = rw.read().await;
                    assert!(count.load(Relaxed) > v);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(count.load(Relaxed), 4 * ROUNDS);
}

/// Once: `f` completes before any `call_once` returns; WaitGroup: each
/// `done` before the wait it releases returns.
#[gort::test(procs = 2, timeout = "30s")]
async fn once_and_waitgroup() {
    let once = Arc::new(Once::new());
    let data = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    let slots: Arc<Vec<AtomicUsize>> = Arc::new((0..16).map(|_| AtomicUsize::new(0)).collect());
    for i in 0..16 {
        let (once, data, slots) = (once.clone(), data.clone(), slots.clone());
        wg.go(async move {
            once.call_once(|| data.store(7, Relaxed)).await;
            assert_eq!(data.load(Relaxed), 7);
            slots[i].store(i + 1, Relaxed);
        });
    }
    wg.wait().await;
    for (i, s) in slots.iter().enumerate() {
        assert_eq!(s.load(Relaxed), i + 1);
    }
}

/// Context: a cancel happens before `done()` returns and before `err()`
/// reports it.
#[gort::test(procs = 2, timeout = "30s")]
async fn cancel_before_done() {
    for _ in 0..ROUNDS {
        let data = Arc::new(AtomicUsize::new(0));
        let (ctx, cancel) = context::with_cancel(&context::background());
        let d = data.clone();
        let canceller = gort::spawn(async move {
            d.store(1, Relaxed);
            cancel.cancel();
        });
        ctx.done().await;
        assert!(ctx.err().is_some());
        assert_eq!(data.load(Relaxed), 1);
        canceller.await.unwrap();
    }
}

/// A task's completion happens before its awaited `JoinHandle` returns;
/// the spawn happens before the task starts.
#[gort::test(procs = 2, timeout = "30s")]
async fn spawn_before_start_and_completion_before_join() {
    for i in 1..=ROUNDS {
        let data = Arc::new(AtomicUsize::new(0));
        data.store(i, Relaxed);
        let d = data.clone();
        let seen = gort::spawn(async move {
            let seen = d.load(Relaxed);
            d.store(i + 1, Relaxed);
            seen
        })
        .await
        .unwrap();
        assert_eq!(
            seen, i,
            "the task did not see what was written before spawn"
        );
        assert_eq!(data.load(Relaxed), i + 1);
    }
}
