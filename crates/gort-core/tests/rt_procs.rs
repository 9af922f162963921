//! `runtime::set_gomaxprocs` (Go's `GOMAXPROCS(n)`): shrinking and growing
//! the Ps while tasks run, with exact task counts; the Ps a shrink removes
//! stop running tasks within a scheduling round; the deadlock detector
//! still fires (and only then) after a shrink.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort_core::runtime::{current_proc, gomaxprocs, set_gomaxprocs};
use gort_core::{Builder, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// Waits (really) until `f` holds, failing after a generous watchdog.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn zero_only_asks_and_outside_a_runtime_nothing_changes() {
    assert_eq!(set_gomaxprocs(3), 0, "outside any runtime");
    assert_eq!(gomaxprocs(), 0);
    let rt = rt(3);
    rt.block_on(async {
        assert_eq!(set_gomaxprocs(0), 3);
        assert_eq!(gomaxprocs(), 3);
        assert_eq!(set_gomaxprocs(3), 3, "the same value changes nothing");
        assert_eq!(gort_core::runtime::metrics().local_queue_lens.len(), 3);
    });
}

/// Work of every kind in flight (tasks yielding, tasks asleep on timers of
/// every P, tasks woken by others) while the Ps shrink from 4 to 1: every
/// task finishes, exactly once.
#[test]
fn shrinking_under_load_loses_no_task_and_no_timer() {
    const TASKS: usize = 4_000;
    let rt = rt(4);
    let done: Arc<Vec<AtomicBool>> = Arc::new((0..TASKS).map(|_| AtomicBool::new(false)).collect());
    let started = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let (done, started) = (done.clone(), started.clone());
        async move {
            let mut hs = Vec::with_capacity(TASKS);
            for i in 0..TASKS {
                let (done, started) = (done.clone(), started.clone());
                hs.push(gort_core::spawn(async move {
                    started.fetch_add(1, SeqCst);
                    for _ in 0..3 {
                        gort_core::yield_now().await;
                    }
                    if i % 4 == 0 {
                        // Timers land on whichever P runs the task.
                        gort_core::time::sleep(Duration::from_millis(1 + (i % 7) as u64)).await;
                    }
                    assert!(!done[i].swap(true, SeqCst), "task {i} ran twice");
                }));
            }
            // Shrink with most of them queued, asleep or running.
            while started.load(SeqCst) < TASKS / 4 {
                gort_core::yield_now().await;
            }
            assert_eq!(set_gomaxprocs(1), 4);
            for h in hs {
                h.await.unwrap();
            }
            assert_eq!(gomaxprocs(), 1);
        }
    });
    assert!(done.iter().all(|d| d.load(SeqCst)));
    let m = rt.metrics();
    assert_eq!(m.local_queue_lens.len(), 1);
}

/// After a shrink from 4 to 1, an M that holds a removed P polls at most
/// one more task (the one it is polling, or had picked, when the shrink
/// came) before it lets the P go. Four tasks that never stop yielding are
/// spread over the Ps first; once `set_gomaxprocs(1)` has returned, their
/// polls are counted by P: at most 3 (one per removed P) run elsewhere
/// than on P0. Without the hand-over, each M would go on polling its own
/// P's task for ever.
#[test]
fn removed_ps_stop_running_tasks_within_a_round() {
    const ROUNDS: usize = 500;
    let rt = rt(4);
    let shrunk = Arc::new(AtomicBool::new(false));
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let seen_ps = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let churners: Vec<_> = (0..4)
        .map(|_| {
            let (shrunk, elsewhere, seen_ps) = (shrunk.clone(), elsewhere.clone(), seen_ps.clone());
            rt.spawn(async move {
                let mut after = 0;
                while after < ROUNDS {
                    let p = current_proc().unwrap();
                    if shrunk.load(SeqCst) {
                        after += 1;
                        if p != 0 {
                            elsewhere.fetch_add(1, SeqCst);
                        }
                    } else {
                        seen_ps.lock().unwrap().insert(p);
                    }
                    gort_core::yield_now().await;
                }
            })
        })
        .collect();
    eventually("the churners to run on at least two Ps", || {
        seen_ps.lock().unwrap().len() >= 2
    });
    // From this thread, not a task: no M is inside the caller's poll.
    rt.block_on(async { assert_eq!(set_gomaxprocs(1), 4) });
    shrunk.store(true, SeqCst);
    rt.block_on(async move {
        for h in churners {
            h.await.unwrap();
        }
    });
    let elsewhere = elsewhere.load(SeqCst);
    assert!(elsewhere <= 3, "{elsewhere} polls ran on removed Ps");
}

/// Growing from 1 to 3: the new Ps are idle at once and take work. A task
/// blocks its M (and so P0's M) on a plain channel; the task that unblocks
/// it is run by an M on one of the new Ps.
#[test]
fn growing_adds_ps_that_run_tasks() {
    let rt = rt(1);
    rt.block_on(async {
        assert_eq!(set_gomaxprocs(3), 1);
        assert_eq!(gomaxprocs(), 3);
        assert_eq!(gort_core::runtime::metrics().local_queue_lens.len(), 3);
    });
    eventually("the two new Ps to go idle", || rt.metrics().idle_procs >= 2);
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let blocker_p = Arc::new(AtomicUsize::new(usize::MAX));
    let retakes_before = rt.metrics().sysmon_retakes;
    let blocker = rt.spawn({
        let blocker_p = blocker_p.clone();
        async move {
            blocker_p.store(current_proc().unwrap(), SeqCst);
            // Blocks this M (a poll that does not yield) until the sender runs.
            rx.recv_timeout(Duration::from_secs(20))
                .expect("the sender never ran")
        }
    });
    eventually("the blocker to start", || {
        blocker_p.load(SeqCst) != usize::MAX
    });
    let sender = rt.spawn(async move {
        let p = current_proc().unwrap();
        tx.send(p).unwrap();
    });
    let sender_p = rt.block_on(async move {
        sender.await.unwrap();
        blocker.await.unwrap()
    });
    let blocker_p = blocker_p.load(SeqCst);
    assert!(blocker_p < 3 && sender_p < 3, "{blocker_p} {sender_p}");
    if rt.metrics().sysmon_retakes == retakes_before {
        // With one P, the sender could only have run after sysmon took P0
        // from the blocked M (10 ms): on the same P.
        assert_ne!(sender_p, blocker_p, "the sender ran on the blocked P");
    }
}

/// Past the Ps made at start (`allp` grows in segments), down to one and
/// up again, with work each time: every task runs once, on a P below the
/// value in force.
#[test]
fn grow_past_the_first_ps_shrink_and_grow_again() {
    let rt = rt(2);
    let ran = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let ran = ran.clone();
        async move {
            for (n, tasks) in [(9, 900), (1, 300), (5, 500), (2, 200)] {
                set_gomaxprocs(n);
                let hs: Vec<_> = (0..tasks)
                    .map(|_| {
                        let ran = ran.clone();
                        gort_core::spawn(async move {
                            gort_core::yield_now().await;
                            ran.fetch_add(1, SeqCst);
                            current_proc().unwrap()
                        })
                    })
                    .collect();
                let mut highest = 0;
                for h in hs {
                    highest = highest.max(h.await.unwrap());
                }
                // Ps made past the first two run tasks when asked to.
                assert!(highest < 9, "P{highest}");
            }
        }
    });
    assert_eq!(ran.load(SeqCst), 900 + 300 + 500 + 200);
    assert_eq!(rt.metrics().local_queue_lens.len(), 2);
}

/// Several tasks resizing at once while others work: every task finishes.
#[test]
fn concurrent_resizes_while_tasks_run() {
    const WORKERS: usize = 2_000;
    let rt = rt(3);
    let ran = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let ran = ran.clone();
        async move {
            let resizers: Vec<_> = (0..4)
                .map(|k| {
                    gort_core::spawn(async move {
                        for i in 0..50 {
                            set_gomaxprocs(1 + (i * 7 + k * 3) % 6);
                            gort_core::yield_now().await;
                        }
                    })
                })
                .collect();
            let workers: Vec<_> = (0..WORKERS)
                .map(|i| {
                    let ran = ran.clone();
                    gort_core::spawn(async move {
                        if i % 10 == 0 {
                            gort_core::time::sleep(Duration::from_micros(200)).await;
                        }
                        gort_core::yield_now().await;
                        ran.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for h in resizers.into_iter().chain(workers) {
                h.await.unwrap();
            }
            let n = gomaxprocs();
            assert!((1..=6).contains(&n));
        }
    });
    assert_eq!(ran.load(SeqCst), WORKERS);
}

const CHILD: &str = "GORT_PROCS_CHILD";

/// After a shrink, a program nothing can wake is still reported (the Ps
/// removed count as idle), and one that a timer will wake is not.
#[test]
fn the_deadlock_detector_counts_removed_ps_as_idle() {
    if std::env::var_os(CHILD).is_some() {
        let rt = Builder::new()
            .procs(3)
            .detect_deadlock(true)
            .build()
            .unwrap();
        rt.block_on(async {
            set_gomaxprocs(1);
            // A timer will wake this one: no report.
            gort_core::time::sleep(Duration::from_millis(30)).await;
            let never = gort_core::spawn(std::future::pending::<()>());
            never.await.ok();
        });
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_deadlock_detector_counts_removed_ps_as_idle",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child should have panicked");
    assert!(
        stderr.contains("all goroutines are asleep - deadlock!"),
        "stderr: {stderr}"
    );
}
