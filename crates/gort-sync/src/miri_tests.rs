//! gort-sync on a real runtime, small enough for Miri: channels (buffered
//! and unbuffered, closed), select (two selects on the same two channels,
//! a send case, a `time::after` timer case), a `WaitGroup`, and the
//! sync.Map with concurrent deletes on two threads, through its *real*
//! reclamation path (`syncmap/reclaim.rs`: crossbeam-epoch, the per-thread
//! limbo, the batches and their recycling), with every value counted so
//! that a lost or a doubled drop fails the test and Miri sees every free.
//!
//! The runtime tests start a `gort_core::Builder` runtime with one P and
//! with two, so the channel's waiters are woken across Ms (the injector,
//! `wakep`, steals), not only by a no-op waker as in `chan/tests.rs`.
//! Every wait is bounded by a count; no assertion reads the clock.
//!
//! Under Miri they are run by `.ci/run` with Tree Borrows and without the
//! leak check (`-Zmiri-tree-borrows -Zmiri-ignore-leaks`,
//! `--include-ignored`): crossbeam-epoch, under the sync.Map and gort-core's
//! run queues, fails Stacked Borrows in its own intrusive list
//! (`Local::element_of`), and its global collector's garbage queue
//! outlives the process, linked through tagged integers that Miri's leak
//! check cannot follow. That is why the tests count drops themselves: the
//! leak check they give up is replaced by an exact count of values made
//! and dropped, reached by driving the epochs (`drain`).

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use gort_core::{Builder, Runtime};

use crate::select::{kind::IntoChanCase, map, Case, Select, Selected};
use crate::{chan, Map, Receiver, SendError, WaitGroup};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// Values each producer sends: few under Miri.
fn per() -> u32 {
    if cfg!(miri) {
        5
    } else {
        300
    }
}

/// Drives crossbeam-epoch (pin and flush: each flush moves this thread's
/// bag to the global queue and collects what every thread has unpinned
/// since) until `done` holds. A thread pinned by another test can hold an
/// epoch back for a while, so the bound is generous; it only ends early
/// once `done` holds.
fn drain(done: impl Fn() -> bool) -> bool {
    for _ in 0..100_000 {
        if done() {
            return true;
        }
        crossbeam_epoch::pin().flush();
        thread::yield_now();
    }
    done()
}

/// Two producers on each of an unbuffered and a buffered channel, one P
/// and two: every value is received exactly once, and after both
/// producers are done and the channel is closed, `recv` reports it.
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn channels_across_ps() {
    for procs in [1, 2] {
        for cap in [0, 2] {
            let rt = rt(procs);
            let n = per();
            let seen = rt.block_on(async move {
                let (tx, rx) = chan::<u32>(cap);
                let tx = Arc::new(tx);
                let producers: Vec<_> = (0..2u32)
                    .map(|p| {
                        let tx = tx.clone();
                        gort_core::spawn(async move {
                            for i in 0..n {
                                tx.send(p * n + i).await.unwrap();
                            }
                        })
                    })
                    .collect();
                let closer = gort_core::spawn(async move {
                    for h in producers {
                        h.await.unwrap();
                    }
                    tx.close();
                });
                let mut seen = vec![0u8; 2 * n as usize];
                while let Some(v) = rx.recv().await {
                    seen[v as usize] += 1;
                }
                closer.await.unwrap();
                assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Closed));
                seen
            });
            assert!(
                seen.iter().all(|&c| c == 1),
                "procs {procs} cap {cap}: {seen:?}"
            );
        }
    }
}

/// One select over `rx1`, `rx2` and a `time::after` timer.
async fn select_recv(rx1: &Receiver<u32>, rx2: &Receiver<u32>) -> Option<Option<u32>> {
    let timer = crate::time::after(Duration::from_millis(2));
    let mut sel = Select::new();
    let mut c0 = Some(map(rx1.recv().into_chan_case(), Some));
    let mut c1 = Some(map(rx2.recv().into_chan_case(), Some));
    let mut c2 = Some(map(timer.recv().into_chan_case(), |_| None));
    let r = poll_fn(|cx| {
        let cases: &mut [&mut dyn Case<Option<Option<u32>>>] = &mut [&mut c0, &mut c1, &mut c2];
        sel.poll(cx, cases, false)
    })
    .await;
    match r {
        Selected::Case(_, v) => v,
        Selected::Default => unreachable!("no default case"),
    }
}

/// Two selecting receivers on the same two unbuffered channels (so a
/// select meets a select's sudogs and a plain sender's), each also
/// waiting on a timer; a producer feeds each channel by a select with a
/// send case. Every value is received exactly once, whether a select
/// ends by a value or by its timer (they fire while the producers pause,
/// and a consumer still waiting once the last value is taken ends by its
/// timer).
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn selects_on_shared_channels_with_timers() {
    for procs in [1, 2] {
        let rt = rt(procs);
        let n = per();
        let counts = rt.block_on(async move {
            let (tx1, rx1) = chan::<u32>(0);
            let (tx2, rx2) = chan::<u32>(0);
            // The senders stay alive to the end (dropping a channel's last
            // sender closes it, and the consumers count on open channels).
            let (tx1, tx2) = (Arc::new(tx1), Arc::new(tx2));
            let _keep = (tx1.clone(), tx2.clone());
            let (rx1, rx2) = (Arc::new(rx1), Arc::new(rx2));
            let got = Arc::new(AtomicUsize::new(0));
            let seen: Arc<Vec<AtomicUsize>> =
                Arc::new((0..2 * n).map(|_| AtomicUsize::new(0)).collect());
            let total = 2 * n as usize;
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let (rx1, rx2) = (rx1.clone(), rx2.clone());
                    let (got, seen) = (got.clone(), seen.clone());
                    gort_core::spawn(async move {
                        while got.load(SeqCst) < total {
                            match select_recv(&rx1, &rx2).await {
                                Some(Some(v)) => {
                                    seen[v as usize].fetch_add(1, SeqCst);
                                    got.fetch_add(1, SeqCst);
                                }
                                Some(None) => unreachable!("the channels stay open"),
                                None => {} // the timer case
                            }
                        }
                    })
                })
                .collect();
            // One producer per channel, sending through a select's send
            // case; the idle channel's receive case makes it a real select.
            let (_idle_tx, idle_rx) = chan::<u32>(0);
            let idle_rx = Arc::new(idle_rx);
            let producers: Vec<_> = [(tx1, 0u32), (tx2, n)]
                .into_iter()
                .map(|(tx, base)| {
                    let idle_rx = idle_rx.clone();
                    gort_core::spawn(async move {
                        for i in 0..n {
                            let mut sel = Select::new();
                            let mut c0 = Some(map(
                                tx.send(base + i).into_chan_case(),
                                |r: Result<(), SendError<u32>>| r.is_ok(),
                            ));
                            let mut c1 = Some(map(idle_rx.recv().into_chan_case(), |_| false));
                            let r = poll_fn(|cx| {
                                let cases: &mut [&mut dyn Case<bool>] = &mut [&mut c0, &mut c1];
                                sel.poll(cx, cases, false)
                            })
                            .await;
                            assert!(matches!(r, Selected::Case(0, true)), "the send wins");
                            if i % 2 == 0 && i < 6 {
                                // A few pauses that outlast the consumers'
                                // timers.
                                gort_core::time::sleep(Duration::from_millis(3)).await;
                            }
                        }
                    })
                })
                .collect();
            for h in producers {
                h.await.unwrap();
            }
            // A consumer may sit in a select until its timer fires: each
            // one ends at its next pass once every value is counted.
            for h in consumers {
                h.await.unwrap();
            }
            seen.iter().map(|c| c.load(SeqCst)).collect::<Vec<_>>()
        });
        assert!(counts.iter().all(|&c| c == 1), "procs {procs}: {counts:?}");
    }
}

/// A `WaitGroup` across Ps: `wait` returns after every `done`, and the
/// group can be reused for a second round.
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn waitgroup_across_ps() {
    for procs in [1, 2] {
        let rt = rt(procs);
        rt.block_on(async {
            let wg = Arc::new(WaitGroup::new());
            let done = Arc::new(AtomicUsize::new(0));
            for round in 1..=2 {
                let k = if cfg!(miri) { 3 } else { 50 };
                wg.add(k as isize);
                for _ in 0..k {
                    let (wg, done) = (wg.clone(), done.clone());
                    drop(gort_core::spawn(async move {
                        gort_core::yield_now().await;
                        done.fetch_add(1, SeqCst);
                        wg.done();
                    }));
                }
                wg.wait().await;
                assert_eq!(done.load(SeqCst), round * k);
                assert_eq!(wg.count(), 0);
            }
        });
    }
}

/// A value that counts its clones and drops in per-test statics.
struct Counted {
    v: u64,
    made: &'static AtomicUsize,
    dropped: &'static AtomicUsize,
}

impl Counted {
    fn new(v: u64, made: &'static AtomicUsize, dropped: &'static AtomicUsize) -> Counted {
        made.fetch_add(1, Relaxed);
        Counted { v, made, dropped }
    }
}

impl Clone for Counted {
    fn clone(&self) -> Counted {
        Counted::new(self.v, self.made, self.dropped)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Relaxed);
    }
}

/// The sync.Map's real reclamation with deletes racing on two threads:
/// one stores and deletes, the other loads, load-and-deletes,
/// compare-and-deletes and ranges over the same few keys, so that replaced
/// and deleted values (and read snapshots, on promotions) are retired
/// while the other thread may be reading them. A value read is always one
/// that was stored for its key. Once both threads have exited (each
/// exit defers its limbo) and the map is dropped, the epochs are driven
/// until every value made has been dropped: exactly once each (a double
/// drop would overshoot the count and, under Miri, be a double free).
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn syncmap_concurrent_deletes_reclaim() {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let ops: u64 = if cfg!(miri) { 40 } else { 5_000 };
    let keys = 4u64;
    let m = Arc::new(Map::<u64, Counted>::new());
    let m2 = m.clone();
    let writer = thread::spawn(move || {
        for i in 0..ops {
            let k = i % keys;
            // Values for key k are k, k + keys, k + 2 * keys, ...
            m2.store(k, Counted::new(k + keys * i, &MADE, &DROPPED));
            if i % 3 == 0 {
                m2.delete(&((i + 1) % keys));
            }
            if i % 7 == 0 {
                let _ = m2.swap(k, Counted::new(k, &MADE, &DROPPED));
            }
        }
    });
    let m3 = m.clone();
    let reader = thread::spawn(move || {
        let mut hits = 0u64;
        for i in 0..ops {
            let k = (i * 3) % keys;
            if let Some(c) = m3.load(&k) {
                assert_eq!(c.v % keys, k, "a value stored for another key");
                hits += 1;
            }
            match i % 4 {
                0 => {
                    if let Some(c) = m3.load_and_delete(&k) {
                        assert_eq!(c.v % keys, k);
                    }
                }
                1 => {
                    if let Some(c) = m3.load(&k) {
                        // Deletes only if nobody replaced it meanwhile.
                        let _ = m3.compare_and_delete(&k, &c);
                    }
                }
                2 => m3.range(|key, c| {
                    assert_eq!(c.v % keys, *key);
                    true
                }),
                _ => m3.delete(&k),
            }
        }
        hits
    });
    writer.join().unwrap();
    let _hits = reader.join().unwrap();
    drop(m);
    let exact = drain(|| DROPPED.load(Relaxed) == MADE.load(Relaxed));
    let (made, dropped) = (MADE.load(Relaxed), DROPPED.load(Relaxed));
    assert!(exact, "{dropped} drops of {made} values");
}

impl PartialEq for Counted {
    fn eq(&self, other: &Counted) -> bool {
        self.v == other.v
    }
}

/// The sync.Map used from tasks on two Ps, with deletes: the retiring
/// threads are the runtime's Ms, whose limbos are deferred when the
/// runtime's threads exit (at the runtime's drop). Every value is dropped
/// exactly once after the epochs are driven.
#[test]
#[cfg_attr(
    miri,
    ignore = "run by .ci/run with -Zmiri-tree-borrows -Zmiri-ignore-leaks"
)]
fn syncmap_from_tasks_on_two_ps() {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let ops: u64 = if cfg!(miri) { 20 } else { 2_000 };
    let rt = rt(2);
    let m = Arc::new(Map::<u64, Counted>::new());
    rt.block_on({
        let m = m.clone();
        async move {
            let hs: Vec<_> = (0..2u64)
                .map(|t| {
                    let m = m.clone();
                    gort_core::spawn(async move {
                        for i in 0..ops {
                            let k = (i + t) % 3;
                            m.store(k, Counted::new(k, &MADE, &DROPPED));
                            if (i + t) % 2 == 0 {
                                m.delete(&((k + 1) % 3));
                            }
                            if i % 5 == 0 {
                                gort_core::yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
    drop(rt);
    drop(m);
    let exact = drain(|| DROPPED.load(Relaxed) == MADE.load(Relaxed));
    let (made, dropped) = (MADE.load(Relaxed), DROPPED.load(Relaxed));
    assert!(exact, "{dropped} drops of {made} values");
}
