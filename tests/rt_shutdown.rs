//! `Runtime::shutdown_timeout`, `shutdown_background`, what drop waits for,
//! and the thread hooks (`on_thread_start`, `on_thread_stop`,
//! `thread_name_fn`).
//!
//! Every wait is bounded by a generous watchdog; what is asserted is
//! ordering (a flag still unset when a call returns) and counters, never a
//! ratio of times.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// How long any wait in these tests may last before it fails the test.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Counts its own drop.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Waits until `cond` holds, failing the test after the watchdog.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WATCHDOG, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on another thread and waits for it under the watchdog, so that
/// a hang fails the test instead of stalling it.
fn returns(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(WATCHDOG)
        .unwrap_or_else(|_| panic!("{what} did not return"));
}

/// A blocking job that waits for `gate` (at most the watchdog), then sets
/// its flag.
fn gated_job(rt: &gort::Runtime) -> (gort::JoinHandle<()>, mpsc::Sender<()>, Arc<AtomicBool>) {
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let job = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv_timeout(WATCHDOG);
        d.store(true, SeqCst);
    });
    started
        .recv_timeout(WATCHDOG)
        .expect("the job never started");
    (job, release, done)
}

#[test]
fn shutdown_timeout_returns_while_a_blocking_job_runs() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let (job, release, done) = gated_job(&rt);
    returns("shutdown_timeout", move || {
        rt.shutdown_timeout(Duration::from_millis(100))
    });
    // The job is still gated: shutdown_timeout gave up waiting for it.
    assert!(!done.load(SeqCst));
    release.send(()).unwrap();
    // It finishes on its own thread, and its result still arrives.
    futures::executor::block_on(job).unwrap();
    assert!(done.load(SeqCst));
}

#[test]
fn shutdown_timeout_waits_for_threads_that_finish_in_time() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = gort::Builder::new()
        .procs(2)
        .on_thread_start(move || {
            s.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    rt.block_on(async {
        gort::spawn(async {}).await.unwrap();
        gort::spawn_blocking(|| ()).await.unwrap();
    });
    // Nothing is stuck: every thread exits well within the limit, and
    // shutdown_timeout returns after their stop hooks.
    rt.shutdown_timeout(WATCHDOG);
    assert!(started.load(SeqCst) >= 3, "an M, sysmon, an offload thread");
    assert_eq!(stopped.load(SeqCst), started.load(SeqCst));
}

#[test]
fn join_handles_report_cancellation_after_shutdown() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    rt.shutdown_timeout(Duration::from_millis(100));
    // Awaited from another runtime's block_on thread.
    let other = gort::Builder::new().procs(1).build().unwrap();
    other.block_on(async {
        for t in tasks {
            assert!(t.await.unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn shutdown_drops_every_future_including_one_mid_poll() {
    const N: usize = 16;
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let idle_drops = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicUsize::new(0));
    for _ in 0..N {
        let g = DropGuard(idle_drops.clone());
        let polled = polled.clone();
        rt.spawn(async move {
            let _g = g;
            polled.fetch_add(1, SeqCst);
            std::future::pending::<()>().await
        });
    }
    // A task whose poll blocks its M until released.
    let long_drops = Arc::new(AtomicUsize::new(0));
    let (release, gate) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let g = DropGuard(long_drops.clone());
    let long = rt.spawn(async move {
        let _g = g;
        entered_tx.send(()).unwrap();
        let _ = gate.recv_timeout(WATCHDOG);
        std::future::pending::<()>().await
    });
    entered
        .recv_timeout(WATCHDOG)
        .expect("the long poll never started");
    // Let the idle tasks reach their first `Pending` (then they are idle,
    // and shutdown drops them in place).
    wait_until("the idle tasks to be polled", || polled.load(SeqCst) == N);
    // The last of them may still be inside its poll: wait until its M is
    // back in the scheduler (a task idle between polls is dropped by the
    // shutdown itself).
    wait_until("the idle tasks' polls to return", || {
        rt.metrics().polls >= N as u64
    });
    returns("shutdown_timeout", move || {
        rt.shutdown_timeout(Duration::from_millis(50))
    });
    // Every future nobody was polling is gone when shutdown returns.
    assert_eq!(idle_drops.load(SeqCst), N);
    // The one being polled cannot be dropped under its poll.
    assert_eq!(long_drops.load(SeqCst), 0);
    release.send(()).unwrap();
    // Its M drops it when the poll returns.
    wait_until("the long-polled future's drop", || {
        long_drops.load(SeqCst) == 1
    });
    assert!(futures::executor::block_on(long)
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn shutdown_background_returns_at_once_and_tasks_are_cancelled() {
    const N: usize = 32;
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..N {
        let g = DropGuard(drops.clone());
        rt.spawn(async move {
            let _g = g;
            gort::time::sleep(Duration::from_secs(3600)).await;
        });
    }
    let (job, release, done) = gated_job(&rt);
    returns("shutdown_background", move || rt.shutdown_background());
    // It did not wait for the job.
    assert!(!done.load(SeqCst));
    wait_until("every task's drop", || drops.load(SeqCst) == N);
    release.send(()).unwrap();
    futures::executor::block_on(job).unwrap();
}

#[test]
fn shutdown_background_from_inside_its_own_task() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let h = rt.handle();
    let drops = Arc::new(AtomicUsize::new(0));
    let g = DropGuard(drops.clone());
    let other = h.spawn(async move {
        let _g = g;
        std::future::pending::<()>().await
    });
    let (tx, rx) = mpsc::channel();
    // The runtime moves into one of its own tasks, which shuts it down
    // (a drop there would panic: it would wait for its own M).
    drop(h.spawn(async move {
        rt.shutdown_background();
        tx.send(()).unwrap();
    }));
    rx.recv_timeout(WATCHDOG)
        .expect("shutdown_background inside a task did not return");
    wait_until("the other task's drop", || drops.load(SeqCst) == 1);
    assert!(futures::executor::block_on(other)
        .unwrap_err()
        .is_cancelled());
}

/// What the hooks saw: thread names started and stopped (a multiset each),
/// and the threads they ran on.
#[derive(Default)]
struct Seen {
    started: BTreeMap<String, usize>,
    stopped: BTreeMap<String, usize>,
    threads: Vec<ThreadId>,
}

fn hooked(seen: &Arc<Mutex<Seen>>) -> gort::Builder {
    let (a, b) = (seen.clone(), seen.clone());
    let kind = |n: Option<&str>| -> String {
        let n = n.unwrap_or("?");
        if n.contains("sysmon") {
            "sysmon".into()
        } else if n.contains("blocking") {
            "blocking".into()
        } else {
            "m".into()
        }
    };
    gort::Builder::new()
        .procs(2)
        .thread_name("hk")
        .on_thread_start(move || {
            let t = std::thread::current();
            let mut s = a.lock().unwrap();
            *s.started.entry(kind(t.name())).or_default() += 1;
            s.threads.push(t.id());
        })
        .on_thread_stop(move || {
            let t = std::thread::current();
            let mut s = b.lock().unwrap();
            *s.stopped.entry(kind(t.name())).or_default() += 1;
            s.threads.push(t.id());
        })
}

#[test]
fn hooks_cover_ms_sysmon_and_offload_threads_and_drop_waits_for_stops() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rt = hooked(&seen).build().unwrap();
    let (job, release, done) = gated_job(&rt);
    rt.block_on(async {
        let hs: Vec<_> = (0..16).map(|i| gort::spawn(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    // Drop waits for the gated job's thread, and for every stop hook.
    let (dropped_tx, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        dropped_tx.send(()).unwrap();
    });
    // The job is gated: the drop cannot have returned yet.
    assert!(dropped.recv_timeout(Duration::from_millis(100)).is_err());
    release.send(()).unwrap();
    dropped
        .recv_timeout(WATCHDOG)
        .expect("drop did not return after the job finished");
    assert!(done.load(SeqCst));
    futures::executor::block_on(job).unwrap();
    let s = seen.lock().unwrap();
    assert_eq!(s.started, s.stopped, "every started thread stopped");
    for kind in ["m", "sysmon", "blocking"] {
        assert!(s.started.get(kind).copied().unwrap_or(0) >= 1, "{kind}");
    }
    assert_eq!(s.started["sysmon"], 1);
    // Never on the thread that called block_on (and dropped nothing).
    assert!(!s.threads.contains(&std::thread::current().id()));
}

#[test]
fn stop_hook_runs_when_an_idle_offload_thread_retires() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rt = hooked(&seen)
        .blocking_keep_alive(Duration::ZERO)
        .build()
        .unwrap();
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    // The thread retires as soon as it finds the queue empty, long before
    // the runtime is dropped.
    wait_until("the offload thread's stop hook", || {
        seen.lock().unwrap().stopped.get("blocking") == Some(&1)
    });
    drop(rt);
    let s = seen.lock().unwrap();
    assert_eq!(s.started, s.stopped);
}

#[test]
fn thread_name_fn_names_every_runtime_thread() {
    static N: AtomicUsize = AtomicUsize::new(0);
    let rt = gort::Builder::new()
        .procs(2)
        .thread_name("ignored")
        .thread_name_fn(|| format!("named-{}", N.fetch_add(1, SeqCst)))
        .build()
        .unwrap();
    let name = || std::thread::current().name().map(String::from);
    let (in_task, in_job) = rt.block_on(async move {
        let t = gort::spawn(async move { name() }).await.unwrap();
        let j = gort::spawn_blocking(name).await.unwrap();
        (t, j)
    });
    for n in [in_task, in_job] {
        let n = n.expect("a runtime thread has a name");
        assert!(n.starts_with("named-"), "{n}");
    }
    // The block_on thread is the caller's, named as before.
    let caller = std::thread::current().name().map(String::from);
    assert!(!caller.unwrap_or_default().starts_with("named-"));
}

#[test]
fn builder_debug_says_which_hooks_are_set() {
    let b = gort::Builder::new().on_thread_stop(|| ());
    let text = format!("{:?}", b.clone());
    assert!(text.contains("start: false"), "{text}");
    assert!(text.contains("stop: true"), "{text}");
    assert!(text.contains("name: false"), "{text}");
}

/// The child's program: a `#[gort::main]` whose blocking job is stuck
/// reading stdin (which the parent keeps open) when main returns.
#[gort::main]
async fn stuck_reader_main() {
    let _job = gort::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    });
    // Let the job start reading.
    gort::time::sleep(Duration::from_millis(20)).await;
}

/// Go's program exits when main returns; so does a `#[gort::main]` one,
/// though a blocking job is stuck (its runtime ends with
/// `shutdown_background`, not a drop that would wait for the job).
#[test]
fn gort_main_returns_while_a_blocking_job_reads_stdin() {
    if std::env::var_os("GORT_RT_SHUTDOWN_CHILD").is_some() {
        stuck_reader_main();
        println!("main returned");
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "gort_main_returns_while_a_blocking_job_reads_stdin",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GORT_RT_SHUTDOWN_CHILD", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Held open, so the child's read never ends on its own.
    let stdin = child.stdin.take();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            panic!("the #[gort::main] program did not exit while its job read stdin");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(stdin);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("main returned"), "{out}");
}
