//! `spawn_blocking`: results and panics come back, every job runs once, the
//! thread cap holds, idle threads retire, a waiting task holds no P, abort
//! before start, and shutdown with queued and running jobs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use gort_core::{Builder, Runtime};

fn rt(procs: usize, max_blocking: usize) -> Runtime {
    Builder::new()
        .procs(procs)
        .max_blocking_threads(max_blocking)
        .thread_name("t")
        .build()
        .unwrap()
}

#[test]
fn result_and_panic_come_back() {
    let rt = rt(2, 8);
    rt.block_on(async {
        assert_eq!(gort_core::spawn_blocking(|| 6 * 7).await.unwrap(), 42);
        let name = gort_core::spawn_blocking(|| std::thread::current().name().map(String::from));
        let name = name.await.unwrap().unwrap();
        assert!(name.starts_with("t-blocking-"), "{name}");
        let err = gort_core::spawn_blocking(|| -> u32 { panic!("boom") })
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
        // The runtime is entered on pool threads.
        let procs = gort_core::spawn_blocking(gort_core::runtime::gomaxprocs);
        assert_eq!(procs.await.unwrap(), 2);
    });
}

#[test]
#[should_panic(expected = "spawn_blocking called outside a gort runtime")]
fn outside_a_runtime_panics() {
    drop(gort_core::spawn_blocking(|| ()));
}

#[test]
fn thousand_jobs_from_many_tasks_run_once() {
    let rt = rt(4, 16);
    let hits: Arc<Vec<AtomicUsize>> = Arc::new((0..1000).map(|_| AtomicUsize::new(0)).collect());
    let sum = rt.block_on({
        let hits = hits.clone();
        async move {
            let tasks: Vec<_> = (0..20)
                .map(|t| {
                    let hits = hits.clone();
                    gort_core::spawn(async move {
                        let jobs: Vec<_> = (0..50)
                            .map(|j| {
                                let i = t * 50 + j;
                                let hits = hits.clone();
                                gort_core::spawn_blocking(move || {
                                    hits[i].fetch_add(1, SeqCst);
                                    i
                                })
                            })
                            .collect();
                        let mut sum = 0;
                        for j in jobs {
                            sum += j.await.unwrap();
                        }
                        sum
                    })
                })
                .collect();
            let mut sum = 0;
            for t in tasks {
                sum += t.await.unwrap();
            }
            sum
        }
    });
    assert_eq!(sum, (0..1000).sum::<usize>());
    for (i, h) in hits.iter().enumerate() {
        assert_eq!(h.load(SeqCst), 1, "job {i}");
    }
}

#[test]
fn cap_holds() {
    let rt = rt(2, 4);
    let running = Arc::new(AtomicUsize::new(0));
    let high = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let (running, high) = (running.clone(), high.clone());
        async move {
            let jobs: Vec<_> = (0..64)
                .map(|_| {
                    let (running, high) = (running.clone(), high.clone());
                    gort_core::spawn_blocking(move || {
                        let now = running.fetch_add(1, SeqCst) + 1;
                        high.fetch_max(now, SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        running.fetch_sub(1, SeqCst);
                        gort_core::runtime::metrics().blocking_threads
                    })
                })
                .collect();
            for j in jobs {
                assert!(j.await.unwrap() <= 4);
            }
        }
    });
    let high = high.load(SeqCst);
    assert!((1..=4).contains(&high), "{high} jobs ran at once");
}

#[test]
fn idle_thread_retires_after_keep_alive() {
    let rt = Builder::new()
        .procs(1)
        .blocking_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let during = rt.block_on(rt.spawn_blocking(|| gort_core::runtime::metrics().blocking_threads));
    assert_eq!(during.unwrap(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().blocking_threads > 0 {
        assert!(Instant::now() < deadline, "the idle thread never retired");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A later job starts a fresh thread.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
}

#[test]
fn waiting_task_holds_no_p() {
    let rt = rt(1, 4);
    let done = Arc::new(AtomicBool::new(false));
    let progressed_before_done = rt.block_on({
        let done = done.clone();
        async move {
            let d = done.clone();
            let blocked = gort_core::spawn(async move {
                gort_core::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    d.store(true, SeqCst);
                })
                .await
                .unwrap()
            });
            // With one P, this task runs only if the one above parked.
            let other = gort_core::spawn(async move {
                for _ in 0..10 {
                    gort_core::yield_now().await;
                }
                !done.load(SeqCst)
            });
            let progressed = other.await.unwrap();
            blocked.await.unwrap();
            progressed
        }
    });
    assert!(progressed_before_done);
    assert!(done.load(SeqCst));
}

#[test]
fn abort_before_start_prevents_running() {
    let rt = rt(2, 1);
    let ran = Arc::new(AtomicBool::new(false));
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    rt.block_on({
        let ran = ran.clone();
        async move {
            // Occupies the only pool thread.
            let first = gort_core::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                gate.recv().unwrap();
                "first"
            });
            started.recv().unwrap();
            let second = gort_core::spawn_blocking(move || ran.store(true, SeqCst));
            second.abort();
            // A running job cannot be stopped: abort is a no-op.
            first.abort();
            release.send(()).unwrap();
            assert_eq!(first.await.unwrap(), "first");
            assert!(second.await.unwrap_err().is_cancelled());
        }
    });
    assert!(!ran.load(SeqCst));
}

#[test]
fn shutdown_cancels_queued_and_leaves_running_to_finish() {
    let rt = rt(2, 1);
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let queued_ran = Arc::new(AtomicBool::new(false));
    let running = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
        7
    });
    started.recv().unwrap();
    let q = queued_ran.clone();
    let queued = rt.spawn_blocking(move || q.store(true, SeqCst));
    let handle = rt.handle();
    // Shut down on another thread, so that a hang fails the test instead
    // of stalling it. The running job is still gated: the shutdown gives
    // up waiting for it.
    let (dropped_tx, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        rt.shutdown_timeout(Duration::from_millis(20));
        dropped_tx.send(()).unwrap();
    });
    dropped
        .recv_timeout(Duration::from_secs(10))
        .expect("shutdown_timeout hung on a running blocking job");
    assert!(futures::executor::block_on(queued)
        .unwrap_err()
        .is_cancelled());
    // After shutdown a new job is cancelled at once.
    let late = handle.spawn_blocking(|| 1);
    assert!(futures::executor::block_on(late)
        .unwrap_err()
        .is_cancelled());
    // The running job finishes, and its result still arrives.
    release.send(()).unwrap();
    assert_eq!(futures::executor::block_on(running).unwrap(), 7);
    assert!(!queued_ran.load(SeqCst));
}

#[test]
fn drop_waits_for_a_running_job() {
    let rt = rt(2, 1);
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let running = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
        d.store(true, SeqCst);
    });
    started.recv().unwrap();
    let (dropped_tx, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        dropped_tx.send(()).unwrap();
    });
    // The job is gated, so the drop cannot have returned.
    assert!(dropped.recv_timeout(Duration::from_millis(100)).is_err());
    release.send(()).unwrap();
    dropped
        .recv_timeout(Duration::from_secs(10))
        .expect("dropping the runtime hung after its job finished");
    // The job finished before the drop returned.
    assert!(done.load(SeqCst));
    futures::executor::block_on(running).unwrap();
}
