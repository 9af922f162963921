//! `gort::synctest`: virtual time in a bubble (Go 1.25's `testing/synctest`).
//!
//! Every assertion on time here is on the bubble's clock, exact to the
//! nanosecond; the one real-time bound (an hour of sleeps) is a watchdog
//! two orders of magnitude above what it takes.

use std::future::pending;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::sync::{chan, WaitGroup};
use gort::synctest;
use gort::time::{now, sleep, timeout, Ticker};

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e
            .downcast::<&'static str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn an_hour_of_sleeps_takes_no_real_time() {
    let wall = Instant::now();
    let virtual_elapsed = synctest::run(async {
        let t0 = now();
        let mut naps = Vec::new();
        for i in 0..10u32 {
            naps.push(gort::spawn(async move {
                // Ten tasks, each 3600 one-second sleeps in different phases.
                sleep(Duration::from_millis(u64::from(i) * 10)).await;
                for _ in 0..360 {
                    sleep(10 * SEC).await;
                }
            }));
        }
        for n in naps {
            n.await.unwrap();
        }
        now() - t0
    });
    assert_eq!(virtual_elapsed, HOUR + Duration::from_millis(90));
    // A watchdog, not a ratio: 3,610 clock jumps take milliseconds.
    assert!(
        wall.elapsed() < Duration::from_secs(30),
        "an hour of virtual sleeps took {:?} of wall time",
        wall.elapsed()
    );
}

#[test]
fn a_one_minute_ticker_ticks_sixty_times_in_an_hour() {
    let ticks = synctest::run(async {
        let t0 = now();
        let ticker = Arc::new(Ticker::new(MIN));
        let t = ticker.clone();
        let counter = gort::spawn(async move {
            let mut at = Vec::new();
            while let Some(tick) = t.recv().await {
                at.push(tick - t0);
            }
            at
        });
        // Half a period past the hour, so the 60th tick is in and the 61st
        // is not.
        sleep(HOUR + 30 * SEC).await;
        ticker.stop();
        counter.await.unwrap()
    });
    assert_eq!(ticks.len(), 60);
    for (k, at) in ticks.iter().enumerate() {
        assert_eq!(*at, MIN * (k as u32 + 1), "tick {k}");
    }
}

#[test]
fn a_ten_minute_timeout_on_a_pending_future_elapses() {
    synctest::run(async {
        let t0 = now();
        let r = timeout(10 * MIN, pending::<()>()).await;
        assert!(r.is_err());
        assert_eq!(now() - t0, 10 * MIN);
    });
}

/// Several sleeping, messaging tasks (periods chosen so no two events
/// share an instant), a WaitGroup and a context deadline: the log of who
/// did what when.
fn event_log() -> Vec<(Duration, String)> {
    synctest::run(async {
        let t0 = now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = chan::<(usize, u32)>(0);
        let wg = WaitGroup::new();
        for (id, period) in [7u64, 11, 13].into_iter().enumerate() {
            let tx = tx.clone();
            let wg = wg.clone();
            wg.add(1);
            gort::spawn(async move {
                let mut k = 0;
                while now() - t0 + Duration::from_secs(period) <= 60 * SEC {
                    sleep(Duration::from_secs(period)).await;
                    k += 1;
                    tx.send((id, k)).await.unwrap();
                }
                wg.done();
            });
        }
        drop(tx);
        let l = log.clone();
        let collector = gort::spawn(async move {
            while let Some((id, k)) = rx.recv().await {
                l.lock()
                    .unwrap()
                    .push((now() - t0, format!("worker {id} #{k}")));
            }
        });
        let (ctx, _cancel) = gort::context::with_timeout(&gort::context::background(), 50 * SEC);
        let l = log.clone();
        gort::spawn(async move {
            ctx.done().await;
            l.lock()
                .unwrap()
                .push((now() - t0, format!("context: {:?}", ctx.err())));
        });
        wg.wait().await;
        // The collector logs the last value at the instant the WaitGroup
        // opens: wait for it, so the log's order is the program's.
        collector.await.unwrap();
        log.lock()
            .unwrap()
            .push((now() - t0, "workers done".to_string()));
        let out = log.lock().unwrap().clone();
        out
    })
}

#[test]
fn two_runs_give_the_identical_event_log() {
    let first = event_log();
    let second = event_log();
    assert_eq!(first, second);
    // 8 + 5 + 4 worker events, the context's, the WaitGroup's.
    assert_eq!(first.len(), 19, "{first:?}");
    assert!(first.contains(&(7 * SEC, "worker 0 #1".to_string())));
    assert!(first.contains(&(52 * SEC, "worker 2 #4".to_string())));
    assert!(first
        .iter()
        .any(|(at, what)| *at == 50 * SEC && what.starts_with("context: Some(")));
    assert_eq!(
        first.last().unwrap(),
        &(56 * SEC, "workers done".to_string())
    );
}

#[test]
fn wait_observes_a_buffered_send_by_a_task_that_then_blocked() {
    synctest::run(async {
        let (tx, rx) = chan::<u32>(1);
        let sent = Arc::new(AtomicUsize::new(0));
        let s = sent.clone();
        gort::spawn(async move {
            tx.send(1).await.unwrap(); // into the buffer
            s.store(1, SeqCst);
            tx.send(2).await.unwrap(); // blocks: the buffer is full
            s.store(2, SeqCst);
        });
        synctest::wait().await;
        assert_eq!(sent.load(SeqCst), 1);
        assert_eq!(rx.try_recv().unwrap(), 1);
        synctest::wait().await;
        // The receive made room: the second send went into the buffer.
        assert_eq!(sent.load(SeqCst), 2);
        assert_eq!(rx.try_recv().unwrap(), 2);
    });
}

#[test]
fn wait_comes_before_the_clock_moves() {
    synctest::run(async {
        let t0 = now();
        let woke = Arc::new(AtomicBool::new(false));
        let w = woke.clone();
        gort::spawn(async move {
            sleep(SEC).await;
            w.store(true, SeqCst);
        });
        synctest::wait().await;
        // Every other task is asleep, and the clock has not jumped for it.
        assert_eq!(now(), t0);
        assert!(!woke.load(SeqCst));
        sleep(2 * SEC).await;
        assert!(woke.load(SeqCst));
    });
}

#[test]
fn a_durably_blocked_bubble_panics_with_the_dump() {
    let e = catch_unwind(AssertUnwindSafe(|| {
        synctest::run(async {
            let (tx, rx) = chan::<()>(0);
            let _keep = tx.clone();
            gort::task::Builder::new()
                .name("stuck-receiver")
                .spawn(async move {
                    rx.recv().await;
                });
            // Main waits for a value nobody will send.
            let (_tx2, rx2) = chan::<()>(0);
            rx2.recv().await;
        })
    }))
    .unwrap_err();
    let msg = panic_text(e);
    assert!(
        msg.contains("all goroutines are asleep - deadlock!"),
        "{msg}"
    );
    assert!(msg.contains("durably blocked"), "{msg}");
    assert!(msg.contains("goroutine 0 [chan receive"), "{msg}");
    assert!(msg.contains("stuck-receiver"), "{msg}");
}

#[test]
fn tasks_left_blocked_after_the_body_returns_are_a_deadlock() {
    let e = catch_unwind(AssertUnwindSafe(|| {
        synctest::run(async {
            let (tx, rx) = chan::<()>(0);
            std::mem::forget(tx);
            gort::spawn(async move {
                rx.recv().await;
            });
        })
    }))
    .unwrap_err();
    let msg = panic_text(e);
    assert!(
        msg.contains("main bubble goroutine has exited but blocked goroutines remain"),
        "{msg}"
    );
}

#[test]
fn run_returns_once_every_task_has_finished() {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    synctest::run(async move {
        gort::spawn(async move {
            sleep(HOUR).await;
            d.store(true, SeqCst);
        });
        // The body returns at once; its task is still asleep.
    });
    assert!(done.load(SeqCst));
}

#[test]
fn a_foreign_waker_keeps_the_clock_still() {
    let log = synctest::run(async {
        let t0 = now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        // A std thread holds the sender: the waiting task's waker is
        // somebody else's, so the bubble is not durably blocked.
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send(()).unwrap();
        });
        let l = log.clone();
        let foreign = gort::spawn(async move {
            rx.await.unwrap();
            l.lock().unwrap().push(("foreign", now() - t0));
        });
        let l = log.clone();
        let sleeper = gort::spawn(async move {
            sleep(SEC).await;
            l.lock().unwrap().push(("sleep", now() - t0));
        });
        foreign.await.unwrap();
        sleeper.await.unwrap();
        thread.join().unwrap();
        let out = log.lock().unwrap().clone();
        out
    });
    assert_eq!(log, vec![("foreign", Duration::ZERO), ("sleep", SEC)]);
}

#[test]
fn time_after_and_context_deadlines_read_the_bubble_clock() {
    synctest::run(async {
        let t0 = now();
        let at = gort::time::after(90 * SEC).recv().await.unwrap();
        assert_eq!(at - t0, 90 * SEC);
        let (ctx, _cancel) = gort::context::with_timeout(&gort::context::background(), 5 * MIN);
        ctx.done().await;
        assert_eq!(ctx.err(), Some(gort::context::Error::DeadlineExceeded));
        assert_eq!(now() - t0, 90 * SEC + 5 * MIN);
    });
}

#[test]
fn locks_and_waitgroups_are_durable_waits() {
    synctest::run(async {
        let t0 = now();
        let m = Arc::new(gort::sync::Mutex::new(0u32));
        let wg = WaitGroup::new();
        for _ in 0..4 {
            let (m, wg) = (m.clone(), wg.clone());
            wg.add(1);
            gort::spawn(async move {
                let mut g = m.lock().await;
                // Hold the lock across a sleep: the others wait on it.
                sleep(10 * SEC).await;
                *g += 1;
                drop(g);
                wg.done();
            });
        }
        wg.wait().await;
        assert_eq!(*m.lock().await, 4);
        assert_eq!(now() - t0, 40 * SEC);
    });
}

#[test]
fn an_idle_socket_does_not_stop_the_clock() {
    let b = gort::__private::Builder::new().procs(1).__synctest();
    let rt = b.build().unwrap();
    rt.block_on(async {
        let t0 = now();
        let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        sleep(HOUR).await;
        assert_eq!(now() - t0, HOUR);
        drop(listener);
    });
}

#[test]
fn bubbles_in_parallel_are_independent() {
    std::thread::scope(|s| {
        let runs: Vec<_> = (1..=4u32)
            .map(|i| {
                s.spawn(move || {
                    synctest::run(async move {
                        let t0 = now();
                        if i == 1 {
                            // This bubble waits on real time for a while:
                            // the others' clocks do not wait for it.
                            gort::spawn_blocking(|| std::thread::sleep(Duration::from_millis(100)))
                                .await
                                .unwrap();
                        }
                        for _ in 0..i {
                            sleep(HOUR).await;
                        }
                        now() - t0
                    })
                })
            })
            .collect();
        for (i, r) in runs.into_iter().enumerate() {
            assert_eq!(r.join().unwrap(), HOUR * (i as u32 + 1));
        }
    });
    // Outside a bubble the clock is the real one.
    let a = now();
    assert!(Instant::now() >= a);
}

#[test]
fn wait_outside_a_bubble_panics() {
    let rt = gort::Runtime::new().unwrap();
    let e = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(synctest::wait());
    }))
    .unwrap_err();
    assert!(panic_text(e).contains("outside a synctest bubble"));
}

#[test]
fn run_inside_a_task_panics() {
    let rt = gort::Runtime::new().unwrap();
    let r = rt.block_on(async {
        gort::spawn(async {
            synctest::run(async {});
        })
        .await
    });
    let e = r.unwrap_err();
    assert!(e.is_panic());
}

#[test]
fn cond_semaphore_rwmutex_once_select_and_join_are_durable_waits() {
    synctest::run(async {
        let t0 = now();
        // Cond: a waiter woken by a signal made after a sleep.
        let m = Arc::new(gort::sync::Mutex::new(false));
        let cond = Arc::new(gort::sync::Cond::new());
        let (m2, c2) = (m.clone(), cond.clone());
        let waiter = gort::spawn(async move {
            let mut g = m2.lock().await;
            while !*g {
                g = c2.wait(g).await;
            }
            now() - t0
        });
        sleep(SEC).await;
        *m.lock().await = true;
        cond.signal();
        assert_eq!(waiter.await.unwrap(), SEC);

        // Semaphore: two permits, four holders of 5 s each.
        let sem = Arc::new(gort::sync::Semaphore::new(2));
        let t1 = now();
        let holders: Vec<_> = (0..4)
            .map(|_| {
                let sem = sem.clone();
                gort::spawn(async move {
                    sem.acquire(1).await.unwrap();
                    sleep(5 * SEC).await;
                    sem.release(1);
                })
            })
            .collect();
        for h in holders {
            h.await.unwrap();
        }
        assert_eq!(now() - t1, 10 * SEC);

        // RwMutex: a writer waits for a reader that sleeps with the lock.
        let rw = Arc::new(gort::sync::RwMutex::new(0u32));
        let t2 = now();
        let r = rw.clone();
        let reader = gort::spawn(async move {
            let g = r.read().await;
            sleep(3 * SEC).await;
            *g
        });
        synctest::wait().await; // the reader holds the lock
        *rw.write().await += 1;
        assert_eq!(now() - t2, 3 * SEC);
        assert_eq!(reader.await.unwrap(), 0);

        // Once: a second caller waits for the first's slow initializer.
        let once = Arc::new(gort::sync::Once::new());
        let t3 = now();
        let o = once.clone();
        let first = gort::spawn(async move {
            o.do_once(|| sleep(7 * SEC)).await;
        });
        synctest::wait().await;
        once.do_once(|| async { unreachable!("ran twice") }).await;
        assert_eq!(now() - t3, 7 * SEC);
        first.await.unwrap();

        // select!: a channel case and a timer case, the timer first.
        let (_tx, rx) = chan::<u32>(0);
        let t4 = now();
        let got = gort::select! {
            v = rx.recv() => v,
            _ = gort::time::after(4 * SEC) => None,
        };
        assert_eq!(got, None);
        assert_eq!(now() - t4, 4 * SEC);
    });
}

#[gort::test(synctest)]
async fn the_attribute_runs_the_body_in_a_bubble() {
    let t0 = now();
    let (tx, rx) = chan::<Duration>(0);
    gort::spawn(async move {
        sleep(HOUR).await;
        tx.send(now() - t0).await.unwrap();
    });
    assert_eq!(rx.recv().await, Some(HOUR));
}

#[gort::test(procs = 1, synctest, leak_check, timeout = "60s")]
async fn options_combine_with_synctest() {
    assert_eq!(gort::runtime::gomaxprocs(), 1);
    let t0 = now();
    let h = gort::spawn(sleep(10 * MIN));
    h.await.unwrap();
    assert_eq!(now() - t0, 10 * MIN);
}

#[gort::test(synctest)]
#[should_panic(expected = "main bubble goroutine has exited but blocked goroutines remain")]
async fn a_bubble_test_that_leaves_a_task_blocked_fails() {
    let (tx, rx) = chan::<()>(0);
    std::mem::forget(tx);
    gort::spawn(async move {
        rx.recv().await;
    });
}

#[test]
fn the_clock_stands_still_while_a_task_runs() {
    synctest::run(async {
        let t0 = now();
        let computing = Arc::new(AtomicBool::new(true));
        let c = computing.clone();
        let sleeper = gort::spawn(async move {
            sleep(SEC).await;
            // The sleep cannot end while the other task runs.
            assert!(
                !c.load(SeqCst),
                "woke while a task of the bubble was running"
            );
            now() - t0
        });
        // A task computes for 50 ms of real time without awaiting, while
        // the body waits for both.
        let c = computing.clone();
        let worker = gort::spawn(async move {
            let real = Instant::now();
            while real.elapsed() < Duration::from_millis(50) {
                assert_eq!(now(), t0);
                std::hint::spin_loop();
            }
            c.store(false, SeqCst);
        });
        assert_eq!(sleeper.await.unwrap(), SEC);
        worker.await.unwrap();
    });
}
