//! Scheduling behaviour observed through metrics and the current P.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

use gort_core::{Builder, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// A one-slot mailbox whose waker is the last receiver's: the minimum a
/// ping-pong needs, without depending on a channel crate.
#[derive(Default)]
struct Mailbox {
    slot: std::sync::Mutex<(Option<u64>, Option<std::task::Waker>)>,
}

impl Mailbox {
    fn put(&self, v: u64) {
        let w = {
            let mut s = self.slot.lock().unwrap();
            s.0 = Some(v);
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    async fn take(&self) -> u64 {
        std::future::poll_fn(|cx| {
            let mut s = self.slot.lock().unwrap();
            match s.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Two tasks waking each other run back to back on one P through runnext
/// (Go's goready), instead of bouncing between Ps.
#[test]
fn runnext_ping_pong_stays_on_one_p() {
    const ROUNDS: u64 = 10_000;
    let rt = rt(2);
    let (ping, pong) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
    let moves = Arc::new(AtomicUsize::new(0));
    let before = rt.metrics();
    rt.block_on({
        let (ping, pong, moves) = (ping.clone(), pong.clone(), moves.clone());
        async move {
            let a = {
                let (ping, pong, moves) = (ping.clone(), pong.clone(), moves.clone());
                gort_core::spawn(async move {
                    let mut at = gort_core::runtime::current_proc();
                    for i in 0..ROUNDS {
                        ping.put(i);
                        assert_eq!(pong.take().await, i);
                        let now = gort_core::runtime::current_proc();
                        if now != at {
                            moves.fetch_add(1, SeqCst);
                            at = now;
                        }
                    }
                })
            };
            let b = gort_core::spawn(async move {
                for _ in 0..ROUNDS {
                    let v = ping.take().await;
                    pong.put(v);
                }
            });
            a.await.unwrap();
            b.await.unwrap();
        }
    });
    let after = rt.metrics();
    let hits = after.runnext_hits - before.runnext_hits;
    // Every round trip wakes twice; nearly all of those must be runnext
    // hits, and the pinger must almost never change P. Bounds leave room
    // for an OS preemption letting the other M steal a few times.
    assert!(
        hits >= 2 * ROUNDS * 9 / 10,
        "runnext hits {hits} of {} wake-ups",
        2 * ROUNDS
    );
    let moved = moves.load(SeqCst) as u64;
    assert!(
        moved <= ROUNDS / 20,
        "the pinger changed P {moved} times in {ROUNDS} rounds"
    );
}

/// Work spawned on one P spreads to the others by stealing.
#[test]
fn work_is_stolen_by_idle_ps() {
    let rt = rt(2);
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let s2 = seen.clone();
    rt.block_on(async move {
        gort_core::spawn(async move {
            // Fewer than a local queue's 256: nothing overflows to the global
            // queue, so the other P can only get work by stealing.
            let hs: Vec<_> = (0..200)
                .map(|_| {
                    let s = s2.clone();
                    gort_core::spawn(async move {
                        // Long enough that one P cannot drain the queue
                        // before the other M comes up.
                        let t0 = std::time::Instant::now();
                        while t0.elapsed() < std::time::Duration::from_micros(100) {
                            std::hint::spin_loop();
                        }
                        let p = gort_core::runtime::current_proc().unwrap();
                        s[p].fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    let m = rt.metrics();
    assert!(m.steals > 0, "{m:?}");
    assert_eq!(seen[0].load(SeqCst) + seen[1].load(SeqCst), 200);
    assert!(
        seen[0].load(SeqCst) > 0 && seen[1].load(SeqCst) > 0,
        "both Ps ran tasks"
    );
}

/// An idle runtime parks its Ms: no M is left spinning or holding a P.
#[test]
fn idle_runtime_parks_every_m() {
    let rt = rt(2);
    rt.block_on(async {
        let hs: Vec<_> = (0..100)
            .map(|i| gort_core::spawn(async move { i }))
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    // Parking is asynchronous; wait for it by polling the metric (bounded).
    let mut m = rt.metrics();
    for _ in 0..2000 {
        if m.idle_procs == 2 && m.spinning_threads == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        m = rt.metrics();
    }
    assert_eq!(m.idle_procs, 2, "{m:?}");
    assert_eq!(m.spinning_threads, 0, "{m:?}");
    assert!(m.threads <= 2, "no more Ms than Ps without syscalls: {m:?}");
}

/// A task that yields in a loop does not starve a task woken from outside:
/// the global queue is checked at least every 61 schedules.
#[test]
fn yield_loop_does_not_starve_global_queue() {
    let rt = rt(1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let h = rt.handle();
    rt.block_on(async move {
        let spinner = gort_core::spawn(async move {
            let mut n = 0u64;
            while !s2.load(SeqCst) {
                gort_core::yield_now().await;
                n += 1;
            }
            n
        });
        // Spawned from a plain thread: lands in the global queue.
        let outside =
            std::thread::spawn(move || futures::executor::block_on(h.spawn(async { 7 })).unwrap());
        // Wait for the outside thread without blocking the only P.
        while !outside.is_finished() {
            gort_core::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let v = outside.join().unwrap();
        stop.store(true, SeqCst);
        assert_eq!(v, 7);
        spinner.await.unwrap();
    });
}

#[test]
fn gomaxprocs_and_num_goroutines() {
    let rt = rt(3);
    rt.block_on(async {
        assert_eq!(gort_core::runtime::gomaxprocs(), 3);
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let h = gort_core::spawn(async move {
            let _ = rx.await;
        });
        assert_eq!(gort_core::runtime::num_goroutines(), 1);
        let dump = gort_core::runtime::dump();
        assert!(dump.contains("rt_sched.rs"), "{dump}");
        tx.send(()).unwrap();
        h.await.unwrap();
        assert_eq!(gort_core::runtime::num_goroutines(), 0);
    });
    assert_eq!(gort_core::runtime::gomaxprocs(), 0, "outside any runtime");
}

/// The scheduling-latency histogram samples one wake-up in 32 per M,
/// and a task held runnable behind a long poll shows up in a bucket at
/// least as long as the hold.
#[test]
fn sched_latencies_sample_wakeups_and_see_a_held_task() {
    const TASKS: u64 = 800;
    let rt = rt(1);
    let before = rt.metrics().sched_latencies;
    let sum = rt.block_on(rt.spawn(async {
        // On the only P: this task keeps it for 2 ms after spawning, so
        // every task it spawned waits at least that long to run.
        let hs: Vec<_> = (0..TASKS)
            .map(|i| gort_core::spawn(async move { i }))
            .collect();
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    }));
    assert_eq!(sum.unwrap(), TASKS * (TASKS - 1) / 2);
    let lat = rt.metrics().sched_latencies.since(&before);
    // 800 spawns in a row on one M: exactly every 32nd is stamped, and
    // each of those waited over 2 ms, past bucket 20's lower edge
    // (2^20 ns, about 1.05 ms).
    let held: u64 = lat.counts[20..].iter().sum();
    assert!(held >= TASKS / 32, "{lat:?}");
    assert_eq!(
        lat.bucket_bounds(20).0,
        std::time::Duration::from_nanos(1 << 20)
    );
}

/// Ten tasks sleep until the same instant; the first to wake computes
/// without awaiting. The other nine are as runnable as any task: an idle P
/// takes them (or sysmon hands the busy P's queues over) while the busy
/// task still computes. The busy task stops as soon as all nine have woken,
/// or after a second; a task that wakes after it stopped waited behind it.
#[test]
fn timer_woken_tasks_do_not_wait_behind_a_task_that_computes() {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};
    const TASKS: usize = 10;
    let rt = rt(2);
    for round in 0..3 {
        let late = rt.block_on(async {
            gort_core::spawn(async move {
                let deadline = Instant::now() + Duration::from_millis(30);
                let claimed = Arc::new(AtomicBool::new(false));
                let busy_done = Arc::new(AtomicBool::new(false));
                let woken = Arc::new(AtomicUsize::new(0));
                let late = Arc::new(AtomicUsize::new(0));
                let mut handles = Vec::new();
                for _ in 0..TASKS {
                    let (claimed, busy_done, woken, late) = (
                        claimed.clone(),
                        busy_done.clone(),
                        woken.clone(),
                        late.clone(),
                    );
                    handles.push(gort_core::spawn(async move {
                        gort_core::time::sleep_until(deadline).await;
                        if !claimed.swap(true, SeqCst) {
                            let start = Instant::now();
                            while woken.load(SeqCst) < TASKS - 1
                                && start.elapsed() < Duration::from_secs(1)
                            {
                                std::hint::spin_loop();
                            }
                            busy_done.store(true, SeqCst);
                        } else {
                            if busy_done.load(SeqCst) {
                                late.fetch_add(1, SeqCst);
                            }
                            woken.fetch_add(1, SeqCst);
                        }
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
                assert_eq!(woken.load(SeqCst), TASKS - 1);
                late.load(SeqCst)
            })
            .await
            .unwrap()
        });
        assert_eq!(late, 0, "round {round}: tasks woke only after the busy one");
    }
}

/// Go's `sync_runtime_canSpin`, as `gort_core::runtime::sync_can_spin`:
/// never off an M or on a runtime of one P; on two Ps, only while the other
/// P runs a task (here one that computes until told to stop), and never a
/// fifth time. A machine with one CPU never spins: the test then checks
/// only the `false` cases.
#[test]
fn spinning_needs_another_running_p() {
    use gort_core::runtime::sync_can_spin;
    use std::sync::atomic::AtomicBool;

    assert!(!sync_can_spin(0), "off an M");
    let one = rt(1);
    assert!(!one.block_on(async { gort_core::spawn(async { sync_can_spin(0) }).await.unwrap() }));
    drop(one);

    let multi = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
    let two = rt(2);
    let (started, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    // The checks run in a task (`block_on`'s own future runs on this
    // thread, which is no M).
    let checker = two.spawn({
        let (started, stop) = (started.clone(), stop.clone());
        async move {
            // The other P idle: nothing to spin for.
            let alone = gort_core::spawn(async { sync_can_spin(0) }).await.unwrap();
            let (s2, t2) = (started.clone(), stop.clone());
            let busy = gort_core::spawn(async move {
                s2.store(true, SeqCst);
                while !t2.load(SeqCst) {
                    std::hint::spin_loop();
                }
            });
            // Wait (yielding) until the busy task runs: on the other P,
            // since this task holds its own.
            while !started.load(SeqCst) {
                gort_core::yield_now().await;
            }
            let first = sync_can_spin(0);
            let fifth = sync_can_spin(4);
            stop.store(true, SeqCst);
            busy.await.unwrap();
            (alone, first, fifth)
        }
    });
    let checks = two.block_on(checker);
    assert_eq!(checks.unwrap(), (false, multi, false));
}

/// `Metrics::ms` lists every M with what it does, as `scheddetail`: a task
/// that computes shows as its M's task, `Running` on a P; a task blocked in
/// `gort::syscall` shows its M in `Syscall`. Each state is waited for (a
/// 10 s watchdog), not assumed at one instant.
#[test]
fn metrics_list_each_m_with_its_state_and_task() {
    use gort_core::{MState, MStatus};
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    /// Stops the busy task and the syscall however the test ends: a
    /// runtime cannot drop while a task computes forever.
    struct Release(Arc<AtomicBool>, Option<std::sync::mpsc::Sender<()>>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
            if let Some(tx) = self.1.take() {
                let _ = tx.send(());
            }
        }
    }

    let rt = rt(2);
    let stop = Arc::new(AtomicBool::new(false));
    let busy = rt.spawn({
        let stop = stop.clone();
        async move {
            while !stop.load(SeqCst) {
                std::hint::spin_loop();
            }
        }
    });
    let (release, held) = std::sync::mpsc::channel::<()>();
    let release = Release(stop.clone(), Some(release));
    let blocked = rt.spawn(async move {
        gort_core::syscall(move || {
            let _ = held.recv();
        });
    });
    let wait_for = |what: &str, ok: &dyn Fn(&[MStatus]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ms = rt.metrics().ms;
            if ok(&ms) {
                return ms;
            }
            assert!(Instant::now() < deadline, "no M {what}: {ms:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let ms = wait_for("runs the busy task", &|ms| {
        ms.iter()
            .any(|m| m.state == MState::Running && m.task == Some(busy.id()) && m.p.is_some())
    });
    assert!(
        ms.windows(2).all(|w| w[0].id < w[1].id),
        "one row per M, in start order: {ms:?}"
    );
    wait_for("is in the syscall", &|ms| {
        ms.iter()
            .any(|m| m.state == MState::Syscall && m.p.is_none() && m.task.is_none())
    });
    drop(release);
    let busy_id = busy.id();
    rt.block_on(async {
        busy.await.unwrap();
        blocked.await.unwrap();
    });
    let done = busy_id;
    wait_for("that forgot the finished task", &|ms| {
        ms.iter().all(|m| m.task != Some(done))
    });
}
