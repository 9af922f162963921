//! `gort::task::JoinSet` and `AbortHandle`: joining in completion order,
//! abort on drop, `abort_all` / `detach_all` / `shutdown` / `join_all`, and
//! the deadlock detector's view of a task waiting in `join_next`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::chan;
use gort::task::JoinSet;

/// Counts its drops: a task's future dropped (finished or cancelled).
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Waits (yielding to the runtime) until `f` holds; panics after 10 s.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        gort::time::sleep(Duration::from_millis(1)).await;
    }
}

#[gort::test(procs = 2)]
async fn a_hundred_thousand_tasks_join_with_an_exact_sum() {
    const N: u64 = 100_000;
    let mut set = JoinSet::new();
    for i in 0..N {
        set.spawn(async move { i });
    }
    assert_eq!(set.len(), N as usize);
    let mut sum = 0;
    let mut joined = 0;
    while let Some(r) = set.join_next().await {
        sum += r.unwrap();
        joined += 1;
    }
    assert_eq!(joined, N);
    assert_eq!(sum, N * (N - 1) / 2);
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
}

#[gort::test(procs = 2)]
async fn tasks_join_in_the_order_they_finish() {
    let mut set = JoinSet::new();
    let (tx, rx) = chan::<()>(0);
    set.spawn(async move {
        rx.recv().await;
        "second"
    });
    set.spawn(async { "first" });
    assert_eq!(set.join_next().await.unwrap().unwrap(), "first");
    tx.send(()).await.unwrap();
    assert_eq!(set.join_next().await.unwrap().unwrap(), "second");
    assert!(set.join_next().await.is_none());
}

#[gort::test(procs = 2)]
async fn dropping_a_set_aborts_every_task() {
    const N: usize = 1000;
    let drops = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..N {
        let guard = DropCount(drops.clone());
        set.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
    }
    drop(set);
    eventually("every future dropped", || drops.load(SeqCst) == N).await;
    eventually("no task left", || gort::runtime::num_goroutines() == 0).await;
}

#[gort::test(procs = 2)]
async fn abort_all_reports_each_task_cancelled_and_len_counts_until_joined() {
    let mut set = JoinSet::new();
    for _ in 0..10 {
        set.spawn(std::future::pending::<()>());
    }
    set.spawn(async {});
    set.abort_all();
    assert_eq!(set.len(), 11);
    let (mut cancelled, mut ok) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r {
            Ok(()) => ok += 1,
            Err(e) => {
                assert!(e.is_cancelled(), "{e}");
                cancelled += 1;
            }
        }
        assert_eq!(set.len(), 11 - cancelled - ok);
    }
    // The ready task may have finished before the abort reached it.
    assert_eq!(cancelled + ok, 11);
    assert!(cancelled >= 10);
}

#[gort::test(procs = 2)]
async fn detach_all_lets_the_tasks_run_on() {
    const N: usize = 50;
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan::<()>(0);
    let mut set = JoinSet::new();
    for _ in 0..N {
        let (rx, done) = (rx.clone(), done.clone());
        set.spawn(async move {
            rx.recv().await;
            done.fetch_add(1, SeqCst);
        });
    }
    set.detach_all();
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
    drop(set);
    for _ in 0..N {
        tx.send(()).await.unwrap();
    }
    eventually("every detached task finished", || done.load(SeqCst) == N).await;
}

#[gort::test(procs = 2)]
async fn shutdown_drops_every_future_before_it_returns() {
    const N: usize = 100;
    let drops = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..N {
        let guard = DropCount(drops.clone());
        set.spawn(async move {
            let _guard = guard;
            gort::time::sleep(Duration::from_secs(3600)).await;
        });
    }
    set.shutdown().await;
    assert_eq!(drops.load(SeqCst), N);
    assert!(set.is_empty());
}

#[gort::test(procs = 2)]
async fn join_all_gives_every_output() {
    let set: JoinSet<u32> = (0..20u32).map(|i| async move { i * 2 }).collect();
    let mut out = set.join_all().await;
    out.sort_unstable();
    assert_eq!(out, (0..20).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn join_all_resumes_a_tasks_panic() {
    let rt = gort::Runtime::new().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { 1 });
            set.spawn(async { panic!("boom in the set") });
            set.join_all().await
        })
    }));
    let payload = r.unwrap_err();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str()))
        .unwrap_or("");
    assert_eq!(msg, "boom in the set");
}

#[gort::test(procs = 2)]
async fn try_join_next_gives_only_finished_tasks() {
    let mut set = JoinSet::new();
    assert!(set.try_join_next().is_none());
    let (tx, rx) = chan::<u8>(0);
    let abort = set.spawn(async move { rx.recv().await.unwrap() });
    assert!(set.try_join_next().is_none());
    assert!(!abort.is_finished());
    tx.send(7).await.unwrap();
    eventually("the task finished", || abort.is_finished()).await;
    // Finished: its completion was queued to the set.
    assert_eq!(set.try_join_next().unwrap().unwrap(), 7);
    assert!(set.try_join_next().is_none());
}

#[gort::test(procs = 2)]
async fn join_next_is_cancel_safe() {
    let mut set = JoinSet::new();
    let (tx, rx) = chan::<u8>(0);
    set.spawn(async move { rx.recv().await.unwrap() });
    let r = gort::time::timeout(Duration::from_millis(10), set.join_next()).await;
    assert!(r.is_err(), "nothing finished yet");
    tx.send(9).await.unwrap();
    assert_eq!(set.join_next().await.unwrap().unwrap(), 9);
}

#[test]
fn spawn_on_and_insert_take_tasks_from_anywhere() {
    let rt = gort::Runtime::new().unwrap();
    let other = gort::Runtime::new().unwrap();
    let h = other.handle();
    rt.block_on(async move {
        let mut set = JoinSet::new();
        set.spawn_on(async { 1u32 }, &h);
        set.insert(gort::spawn(async { 2 }));
        set.spawn_blocking(|| 3);
        set.insert(gort::task::Builder::new().name("named").spawn(async { 4 }));
        let mut sum = 0;
        while let Some(r) = set.join_next().await {
            sum += r.unwrap();
        }
        assert_eq!(sum, 10);
    });
}

#[gort::test(procs = 2)]
async fn abort_handles_cross_threads_and_outlive_the_join_handle() {
    let h = gort::spawn(std::future::pending::<()>());
    let a = h.abort_handle();
    let b = a.clone();
    assert_eq!(a.id(), h.id());
    std::thread::spawn(move || b.abort()).join().unwrap();
    assert!(h.await.unwrap_err().is_cancelled());
    assert!(a.is_finished());
    a.abort(); // a no-op on a finished task
}

/// A set's task waits on a channel nobody else can send on, and the main
/// future waits in `join_next`: every party is asleep in gort, which the
/// detector sees through the set's parked waker.
#[test]
#[should_panic(expected = "all goroutines are asleep - deadlock!")]
fn join_next_on_tasks_that_can_never_finish_is_a_deadlock() {
    let rt = gort::Builder::new()
        .procs(2)
        .detect_deadlock(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = chan::<()>(0);
        let mut set = JoinSet::new();
        set.spawn(async move { rx.recv().await });
        let _never = tx;
        set.join_next().await
    });
}

/// The live counterpart: the task sleeps, so the timer keeps the detector
/// quiet until the task finishes.
#[gort::test(procs = 2)]
async fn join_next_on_a_sleeping_task_is_not_a_deadlock() {
    let mut set = JoinSet::new();
    set.spawn(async {
        gort::time::sleep(Duration::from_millis(60)).await;
        5
    });
    assert_eq!(set.join_next().await.unwrap().unwrap(), 5);
}
