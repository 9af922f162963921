//! Spawning, joining, panics, abort, shutdown.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort_core::{Builder, Handle, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

#[test]
fn hundred_thousand_tasks_all_complete() {
    let rt = rt(2);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let sum = rt.block_on(async move {
        let hs: Vec<_> = (0..100_000u64)
            .map(|i| {
                let d = d.clone();
                gort_core::spawn(async move {
                    d.fetch_add(1, SeqCst);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(done.load(SeqCst), 100_000);
    assert_eq!(sum, (0..100_000u64).sum::<u64>());
}

#[test]
fn tasks_spawned_from_tasks_complete() {
    let rt = rt(2);
    let n = rt.block_on(async {
        let outer: Vec<_> = (0..100)
            .map(|_| {
                gort_core::spawn(async {
                    let inner: Vec<_> = (0..100)
                        .map(|j| gort_core::spawn(async move { j }))
                        .collect();
                    let mut s = 0;
                    for h in inner {
                        s += h.await.unwrap();
                    }
                    s
                })
            })
            .collect();
        let mut s = 0;
        for h in outer {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(n, 100 * 4950);
}

#[test]
fn panic_is_isolated_and_reported() {
    let rt = rt(2);
    rt.block_on(async {
        let bad = gort_core::spawn(async {
            panic!("boom");
        });
        let good = gort_core::spawn(async { 5 });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert!(err.to_string().contains("boom"), "{err}");
        let payload = err.into_panic();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");
        assert_eq!(good.await.unwrap(), 5);
        // The runtime still runs tasks afterwards.
        assert_eq!(gort_core::spawn(async { 6 }).await.unwrap(), 6);
    });
}

#[test]
fn abort_cancels_a_pending_task_and_drops_its_future() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let rt = rt(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    rt.block_on(async move {
        let flag = Flag(d);
        let h = gort_core::spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        gort_core::yield_now().await;
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
    });
    assert_eq!(dropped.load(SeqCst), 1);
}

#[test]
fn abort_on_finished_task_is_a_noop() {
    let rt = rt(1);
    rt.block_on(async {
        let h = gort_core::spawn(async { 3 });
        while !h.is_finished() {
            gort_core::time::sleep(Duration::from_millis(1)).await;
        }
        h.abort();
        assert_eq!(h.await.unwrap(), 3);
    });
}

#[test]
fn dropping_join_handle_detaches() {
    let rt = rt(2);
    let hits = Arc::new(AtomicUsize::new(0));
    let h2 = hits.clone();
    rt.block_on(async move {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(gort_core::spawn(async move {
            gort_core::time::sleep(Duration::from_millis(5)).await;
            h2.fetch_add(1, SeqCst);
            tx.send(()).unwrap();
        }));
        while hits_or_wait(&rx) {
            gort_core::time::sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(hits.load(SeqCst), 1);
}

#[test]
fn spawn_from_eight_outside_threads() {
    let rt = rt(2);
    let handle = rt.handle();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let h = handle.clone();
            let c = count.clone();
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..1000)
                    .map(|_| {
                        let c = c.clone();
                        h.spawn(async move {
                            c.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                // Join from a plain thread via any executor.
                futures::executor::block_on(async {
                    for h in hs {
                        h.await.unwrap();
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(SeqCst), 8000);
}

#[test]
fn dropping_runtime_drops_pending_futures_and_cancels_handles() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = rt(2);
    let mut handles = Vec::new();
    for _ in 0..100 {
        let f = Flag(dropped.clone());
        handles.push(rt.spawn(async move {
            let _f = f;
            std::future::pending::<()>().await;
        }));
    }
    rt.block_on(gort_core::yield_now());
    drop(rt);
    assert_eq!(dropped.load(SeqCst), 100);
    for h in handles {
        let err = futures::executor::block_on(h).unwrap_err();
        assert!(err.is_cancelled());
    }
}

#[test]
fn spawn_after_shutdown_is_cancelled() {
    let rt = rt(1);
    let handle: Handle = rt.handle();
    drop(rt);
    let h = handle.spawn(async { 1 });
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
#[should_panic(expected = "outside a gort runtime")]
fn spawn_outside_runtime_panics() {
    drop(gort_core::spawn(async {}));
}

#[test]
fn bad_config_is_an_error_not_a_hang() {
    let e = Builder::new().procs(0).build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = Builder::new().procs(4).max_threads(2).build().unwrap_err();
    assert!(e.to_string().contains("max_threads"), "{e}");
}

#[test]
fn futures_spawn_trait() {
    use futures::task::SpawnExt;
    let rt = rt(2);
    let handle = rt.handle();
    let (tx, rx) = futures::channel::oneshot::channel();
    handle
        .spawn_with_handle(async move { tx.send(9).unwrap() })
        .unwrap()
        .forget();
    assert_eq!(rt.block_on(rx).unwrap(), 9);
}

fn hits_or_wait(rx: &std::sync::mpsc::Receiver<()>) -> bool {
    rx.try_recv().is_err()
}

/// The contract's shape: `rt.handle()` is an owned `Handle` that moves to
/// another thread and spawns there.
#[test]
fn an_owned_handle_moves_to_another_thread() {
    let rt = gort_core::Runtime::new().unwrap();
    let h = rt.handle();
    let t = std::thread::spawn(move || h.spawn(async { 6 * 7 }));
    let jh = t.join().unwrap();
    assert_eq!(rt.block_on(jh).unwrap(), 42);
}
