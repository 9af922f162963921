//! `gort::task::LocalSet` and `spawn_local`: `!Send` futures run, and are
//! dropped, on the one thread that drives the set, whoever wakes or aborts
//! them, while the runtime's own tasks go on on the Ms.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use gort::task::{spawn_local, JoinSet, LocalSet};

fn rt() -> gort::Runtime {
    gort::Builder::new().procs(2).build().unwrap()
}

#[test]
fn local_tasks_run_on_one_thread_also_while_one_computes_for_50ms() {
    let rt = rt();
    let local = LocalSet::new();
    let me = std::thread::current().id();
    let seen: Rc<RefCell<Vec<ThreadId>>> = Rc::default();
    let computed = Rc::new(Cell::new(false));
    // Set by a runtime task on an M while the local task computes.
    let m_task_ran = Arc::new(AtomicBool::new(false));
    rt.block_on(local.run_until(async {
        let mut hs = Vec::new();
        for i in 0..20u64 {
            let seen = seen.clone();
            hs.push(spawn_local(async move {
                for _ in 0..5 {
                    seen.borrow_mut().push(std::thread::current().id());
                    if i % 2 == 0 {
                        gort::yield_now().await;
                    } else {
                        gort::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }));
        }
        let (c, flag, seen2) = (computed.clone(), m_task_ran.clone(), seen.clone());
        hs.push(spawn_local(async move {
            seen2.borrow_mut().push(std::thread::current().id());
            let flag2 = flag.clone();
            gort::spawn(async move { flag2.store(true, SeqCst) });
            // Computes for 50 ms without yielding, then until the M task
            // has run (it does, on an M, while this thread is busy).
            let start = Instant::now();
            let watchdog = start + Duration::from_secs(10);
            while start.elapsed() < Duration::from_millis(50) || !flag.load(SeqCst) {
                assert!(Instant::now() < watchdog, "the runtime's task never ran");
                std::hint::spin_loop();
            }
            seen2.borrow_mut().push(std::thread::current().id());
            c.set(true);
        }));
        for h in hs {
            h.await.unwrap();
        }
    }));
    assert!(computed.get());
    assert!(m_task_ran.load(SeqCst));
    let seen = seen.borrow();
    assert_eq!(seen.len(), 20 * 5 + 2);
    assert!(
        seen.iter().all(|&t| t == me),
        "a local task left its thread"
    );
}

/// Records the thread its future was dropped on; the `Rc` makes the
/// future holding it `!Send`.
struct DropOn(#[allow(dead_code)] Rc<()>, Arc<Mutex<Vec<ThreadId>>>);

impl Drop for DropOn {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(std::thread::current().id());
    }
}

#[test]
fn an_abort_from_another_thread_drops_the_future_on_the_sets_thread() {
    let rt = rt();
    let local = LocalSet::new();
    let me = std::thread::current().id();
    let dropped = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(local.run_until(async {
        let guard = DropOn(Rc::new(()), dropped.clone());
        let h = spawn_local(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        gort::yield_now().await; // let it start and park
        let a = h.abort_handle();
        std::thread::spawn(move || a.abort()).join().unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
    }));
    assert_eq!(*dropped.lock().unwrap(), vec![me]);
}

#[test]
fn a_wake_from_a_foreign_thread_resumes_the_task_on_the_sets_thread() {
    let rt = rt();
    let local = LocalSet::new();
    let me = std::thread::current().id();
    let out = rt.block_on(local.run_until(async {
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let h = spawn_local(async move {
            let not_send = Rc::new(rx.await.unwrap());
            (*not_send, std::thread::current().id())
        });
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            tx.send(11).unwrap();
        });
        h.await.unwrap()
    }));
    assert_eq!(out, (11, me));
}

#[test]
fn dropping_the_set_cancels_its_tasks_on_its_thread() {
    let rt = rt();
    let me = std::thread::current().id();
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let local = LocalSet::new();
    let mut handles = Vec::new();
    for _ in 0..5 {
        let guard = DropOn(Rc::new(()), dropped.clone());
        handles.push(local.spawn_local(async move {
            let _guard = guard;
            gort::time::sleep(Duration::from_secs(3600)).await;
        }));
    }
    // Run them once, so they park on their timers.
    rt.block_on(local.run_until(gort::yield_now()));
    drop(local);
    assert_eq!(*dropped.lock().unwrap(), vec![me; 5]);
    // Their outputs are Send: the handles may be awaited anywhere.
    let errs = std::thread::spawn(move || {
        futures::executor::block_on(async {
            let mut n = 0;
            for h in handles {
                n += usize::from(h.await.unwrap_err().is_cancelled());
            }
            n
        })
    })
    .join()
    .unwrap();
    assert_eq!(errs, 5);
}

#[test]
fn awaiting_the_set_runs_until_every_task_finished() {
    let rt = rt();
    let local = LocalSet::new();
    let n = Rc::new(Cell::new(0));
    for i in 0..100 {
        let n = n.clone();
        local.spawn_local(async move {
            if i % 3 == 0 {
                gort::time::sleep(Duration::from_millis(1)).await;
            }
            // Spawns from inside a local task go to the same set.
            let n2 = n.clone();
            spawn_local(async move { n2.set(n2.get() + 1) });
            n.set(n.get() + 1);
        });
    }
    assert_eq!(local.len(), 100);
    rt.block_on(local);
    assert_eq!(n.get(), 200);
}

#[test]
fn a_set_runs_on_a_plain_thread_through_a_handle() {
    let rt = rt();
    let h = rt.handle();
    let out = std::thread::spawn(move || {
        let local = LocalSet::new();
        let me = std::thread::current().id();
        h.block_on(local.run_until(async move {
            let t = spawn_local(async { std::thread::current().id() });
            t.await.unwrap() == me
        }))
    })
    .join()
    .unwrap();
    assert!(out);
}

#[test]
fn named_local_tasks_and_local_tasks_in_a_join_set() {
    let rt = rt();
    let local = LocalSet::new();
    let total = rt.block_on(local.run_until(async {
        let mut set = JoinSet::new();
        for i in 0..10 {
            let rc = Rc::new(i);
            set.spawn_local(async move { *rc });
        }
        let named = gort::task::Builder::new()
            .name("local-one")
            .spawn_local(async { 100 });
        set.insert(named);
        let mut sum = 0;
        while let Some(r) = set.join_next().await {
            sum += r.unwrap();
        }
        sum
    }));
    assert_eq!(total, 145);
}

#[test]
fn spawn_local_outside_a_set_panics_saying_so() {
    let rt = rt();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            drop(spawn_local(async {}));
        })
    }))
    .unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("outside a LocalSet"), "{msg}");
}

#[test]
fn many_local_tasks_woken_by_runtime_tasks_all_finish() {
    const N: usize = 2000;
    let rt = rt();
    let local = LocalSet::new();
    let done = Arc::new(AtomicUsize::new(0));
    rt.block_on(local.run_until(async {
        let mut hs = Vec::with_capacity(N);
        for i in 0..N {
            let (tx, rx) = futures::channel::oneshot::channel::<usize>();
            let done = done.clone();
            hs.push(spawn_local(async move {
                let v = Rc::new(rx.await.unwrap());
                done.fetch_add(1, SeqCst);
                *v
            }));
            // A runtime task on an M completes it.
            gort::spawn(async move { tx.send(i).unwrap() });
        }
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, N * (N - 1) / 2);
    }));
    assert_eq!(done.load(SeqCst), N);
}
