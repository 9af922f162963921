//! Fault injection through the facade (issue 23): panics where user code
//! runs inside the runtime's machinery, descriptor exhaustion at accept, a
//! runtime dropped while tasks sit in blocking calls, and aborts racing
//! completion.
//!
//! Each test checks the same three things: nothing lost (every other task
//! finishes, every count is exact), nothing leaked (each future and each
//! output is dropped exactly once, counted by its `Drop`), and the runtime
//! keeps serving (a task spawned afterwards runs and is joined). Each body
//! runs under a watchdog (`watchdog`), so a hang fails the test instead of
//! stalling the suite.
//!
//! | Test | Fault | What must hold |
//! |---|---|---|
//! | `drop_panic_when_task_completes` | the future's `Drop` panics as it completes | the handle gives a panic `JoinError`; output and future dropped once |
//! | `drop_panic_when_task_is_aborted` | ... as it is aborted | the handle gives a `JoinError`; the future dropped once |
//! | `drop_panic_at_runtime_shutdown` | ... as the runtime drops it | the drop returns, every future dropped once, every thread stopped |
//! | `waker_wake_panics_in_channel_send` | a foreign waker's `wake` panics inside a channel's send | the sender's task panics, the value is delivered |
//! | `waker_wake_panics_in_timer_fire` | ... when the runtime fires a timer | the runtime keeps serving |
//! | `waker_wake_panics_in_netpoll` | ... when the netpoller finds a socket ready | the runtime keeps serving |
//! | `select_branch_panics` | a `select!` branch body panics | only the chosen value is consumed |
//! | `spawn_blocking_job_panics` | a `spawn_blocking` job panics | its handle gives the panic; the pool keeps serving |
//! | `accept_resumes_after_emfile` | `EMFILE` at accept, more clients than descriptors (child process) | every waiting connection is accepted once descriptors free up |
//! | `drop_waits_for_syscalls_and_long_polls` | the runtime dropped while tasks block in `syscall` and in a poll | the drop returns after them; each future dropped once; no thread left |
//! | `aborts_race_completion` | 10 000 aborts racing completion | every handle resolves; futures and outputs dropped once |

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use gort::sync::chan;

/// Runs `f` on a thread of its own and fails if it takes longer than
/// `secs` (a hang becomes a failure, not a stalled suite).
fn watchdog(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => t.join().unwrap(),
        // The body panicked: report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(t.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for {secs} s"),
    }
}

/// A runtime of `procs` Ps whose started and stopped threads are counted.
fn runtime(procs: usize) -> (gort::Runtime, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s1, s2) = (started.clone(), stopped.clone());
    let rt = gort::Builder::new()
        .procs(procs)
        .on_thread_start(move || {
            s1.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            s2.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    (rt, started, stopped)
}

/// The runtime still serves: 100 fresh tasks run and are joined.
fn still_serves(rt: &gort::Runtime) {
    let sum = rt.block_on(async {
        let hs: Vec<_> = (0..100u64).map(|i| gort::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

/// Counts its drops.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future that is ready after `pending` polls (waking itself in
/// between; `usize::MAX`: never), with a counted `Counted` output, and
/// whose `Drop` counts and then panics.
struct PanicOnDrop {
    pending: usize,
    drops: Arc<AtomicUsize>,
    outputs: Arc<AtomicUsize>,
}

impl Future for PanicOnDrop {
    type Output = Counted;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Counted> {
        match self.pending {
            0 => Poll::Ready(Counted(self.outputs.clone())),
            usize::MAX => Poll::Pending,
            _ => {
                self.pending -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if !std::thread::panicking() {
            panic!("PanicOnDrop: the future's destructor panics (fault injected)");
        }
    }
}

fn panic_on_drop(
    pending: usize,
    drops: &Arc<AtomicUsize>,
    outputs: &Arc<AtomicUsize>,
) -> PanicOnDrop {
    PanicOnDrop {
        pending,
        drops: drops.clone(),
        outputs: outputs.clone(),
    }
}

const N: usize = 200;

#[test]
fn drop_panic_when_task_completes() {
    watchdog(60, || {
        let (rt, _, _) = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let outputs = Arc::new(AtomicUsize::new(0));
        let results: Vec<_> = rt.block_on(async {
            let hs: Vec<_> = (0..N)
                .map(|i| gort::spawn(panic_on_drop(i % 3, &drops, &outputs)))
                .collect();
            let mut rs = Vec::new();
            for h in hs {
                rs.push(h.await);
            }
            rs
        });
        // Dropping a completed future is part of completing it: a panic
        // there is the task's panic (as in tokio), and the output that the
        // task produced is dropped with it.
        for r in &results {
            assert!(r.as_ref().unwrap_err().is_panic(), "{r:?}");
        }
        drop(results);
        assert_eq!(drops.load(SeqCst), N, "each future dropped once");
        assert_eq!(outputs.load(SeqCst), N, "each output dropped once");
        still_serves(&rt);
    });
}

#[test]
fn drop_panic_when_task_is_aborted() {
    watchdog(60, || {
        let (rt, _, _) = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let outputs = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let hs: Vec<_> = (0..N)
                .map(|_| gort::spawn(panic_on_drop(usize::MAX, &drops, &outputs)))
                .collect();
            gort::yield_now().await;
            for h in &hs {
                h.abort();
            }
            for h in hs {
                // The abort dropped the future, whose drop panicked: the
                // handle reports that panic.
                let e = h.await.unwrap_err();
                assert!(e.is_panic() || e.is_cancelled(), "{e:?}");
            }
        });
        assert_eq!(drops.load(SeqCst), N, "each future dropped once");
        assert_eq!(outputs.load(SeqCst), 0, "no output was made");
        still_serves(&rt);
    });
}

#[test]
fn drop_panic_at_runtime_shutdown() {
    watchdog(60, || {
        let (rt, started, stopped) = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let outputs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..N)
            .map(|_| rt.spawn(panic_on_drop(usize::MAX, &drops, &outputs)))
            .collect();
        rt.block_on(gort::yield_now());
        drop(rt);
        assert_eq!(drops.load(SeqCst), N, "each future dropped once");
        assert_eq!(
            started.load(SeqCst),
            stopped.load(SeqCst),
            "every thread the runtime started has stopped"
        );
        // The handles still resolve, without a runtime.
        for h in hs {
            let e = futures::executor::block_on(h).unwrap_err();
            assert!(e.is_panic() || e.is_cancelled(), "{e:?}");
        }
        assert_eq!(outputs.load(SeqCst), 0);
    });
}

/// A foreign waker whose `wake` panics, counting its calls.
struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
        panic!("PanickingWaker: wake panics (fault injected)");
    }
}

#[test]
fn waker_wake_panics_in_channel_send() {
    watchdog(60, || {
        let (rt, _, _) = runtime(2);
        rt.block_on(async {
            let (tx, rx) = chan::<u32>(0);
            let (ready_tx, ready_rx) = chan::<()>(0);
            let (go_tx, go_rx) = chan::<()>(0);
            let pw = Arc::new(PanickingWaker(AtomicUsize::new(0)));
            let receiver = gort::spawn({
                let pw = pw.clone();
                async move {
                    // A foreign future (the receive, driven by hand) is
                    // polled with the panicking waker: the receive waits,
                    // registered with that waker.
                    let waker = Waker::from(pw);
                    let mut recv = Box::pin(rx.recv());
                    assert!(recv
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_pending());
                    ready_tx.send(()).await.unwrap();
                    go_rx.recv().await.unwrap();
                    // The sender handed its value over before waking us:
                    // it is here, not lost.
                    recv.await
                }
            });
            ready_rx.recv().await.unwrap();
            // The send completes the rendezvous, then wakes the receiver
            // through its waker, which panics in the sender's task.
            let sender = gort::spawn(async move {
                tx.send(42).await.unwrap();
                "sent"
            });
            let e = sender.await.unwrap_err();
            assert!(e.is_panic(), "{e:?}");
            assert_eq!(pw.0.load(SeqCst), 1, "woken once");
            go_tx.send(()).await.unwrap();
            assert_eq!(receiver.await.unwrap(), Some(42));
        });
        still_serves(&rt);
    });
}

#[test]
fn waker_wake_panics_in_timer_fire() {
    watchdog(60, || {
        let (rt, started, stopped) = runtime(2);
        let pw = Arc::new(PanickingWaker(AtomicUsize::new(0)));
        let pw2 = pw.clone();
        let fired = rt.block_on(rt.spawn(async move {
            // A timer polled with the panicking waker: the runtime's timer
            // code calls `wake` when it fires.
            let waker = Waker::from(pw2);
            let mut sl = Box::pin(gort::time::sleep(Duration::from_millis(5)));
            assert!(sl
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            gort::time::sleep(Duration::from_millis(100)).await;
            sl.await;
            true
        }));
        assert!(fired.unwrap());
        assert_eq!(pw.0.load(SeqCst), 1, "the timer woke its waker once");
        still_serves(&rt);
        // Many tasks on both Ps, with timers, after the fault.
        rt.block_on(async {
            let hs: Vec<_> = (0..50u64)
                .map(|i| {
                    gort::spawn(async move {
                        gort::time::sleep(Duration::from_millis(i % 5)).await;
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, 1225);
        });
        drop(rt);
        assert_eq!(started.load(SeqCst), stopped.load(SeqCst));
    });
}

#[test]
fn waker_wake_panics_in_netpoll() {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use gort::net::{TcpListener, TcpStream};
    watchdog(60, || {
        let (rt, started, stopped) = runtime(2);
        let pw = Arc::new(PanickingWaker(AtomicUsize::new(0)));
        let pw2 = pw.clone();
        let got = rt.block_on(rt.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            {
                // A read polled with the panicking waker: the netpoller
                // calls `wake` when the data arrives.
                let waker = Waker::from(pw2);
                let mut read = Box::pin(server.read(&mut buf));
                assert!(read
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending());
                client.write_all(b"ping").await.unwrap();
                let mut waited = 0;
                while pw.0.load(SeqCst) == 0 {
                    assert!(waited < 2000, "the netpoller never woke the reader");
                    gort::time::sleep(Duration::from_millis(5)).await;
                    waited += 1;
                }
            }
            server.read_exact(&mut buf).await.unwrap();
            buf
        }));
        assert_eq!(&got.unwrap(), b"ping");
        still_serves(&rt);
        drop(rt);
        assert_eq!(started.load(SeqCst), stopped.load(SeqCst));
    });
}

#[test]
fn select_branch_panics() {
    watchdog(60, || {
        let (rt, _, _) = runtime(2);
        rt.block_on(async {
            let (atx, arx) = chan::<u32>(1);
            let (btx, brx) = chan::<u32>(1);
            atx.send(1).await.unwrap();
            btx.send(2).await.unwrap();
            let (arx, brx) = (Arc::new(arx), Arc::new(brx));
            let h = gort::spawn({
                let (arx, brx) = (arx.clone(), brx.clone());
                async move {
                    gort::select! {
                        v = arx.recv() => panic!("branch a panics with {v:?} (fault injected)"),
                        v = brx.recv() => panic!("branch b panics with {v:?} (fault injected)"),
                    }
                }
            });
            let e: gort::JoinError = h.await.unwrap_err();
            assert!(e.is_panic());
            // Exactly one value was taken (by the branch that panicked);
            // the other is still in its channel.
            let left = arx.try_recv().ok().into_iter().chain(brx.try_recv().ok());
            let left: Vec<u32> = left.collect();
            assert_eq!(left.len(), 1, "{left:?}");
            // The channels and select still work.
            atx.send(3).await.unwrap();
            let v = gort::select! {
                v = arx.recv() => v,
                v = brx.recv() => v,
            };
            assert_eq!(v, Some(3));
        });
        still_serves(&rt);
    });
}

#[test]
fn spawn_blocking_job_panics() {
    watchdog(60, || {
        let (rt, _, _) = runtime(2);
        let ran = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let hs: Vec<_> = (0..40usize)
                .map(|i| {
                    let ran = ran.clone();
                    gort::spawn_blocking(move || {
                        ran.fetch_add(1, SeqCst);
                        if i % 2 == 0 {
                            panic!("blocking job {i} panics (fault injected)");
                        }
                        i
                    })
                })
                .collect();
            for (i, h) in hs.into_iter().enumerate() {
                match h.await {
                    Ok(v) => assert_eq!(v, i),
                    Err(e) => assert!(e.is_panic() && i % 2 == 0, "{i}: {e:?}"),
                }
            }
            // The pool keeps serving.
            let v = gort::spawn_blocking(|| 7).await.unwrap();
            assert_eq!(v, 7);
        });
        assert_eq!(ran.load(SeqCst), 40);
        still_serves(&rt);
    });
}

// ---------------------------------------------------------------------
// EMFILE at accept, in a child process.

const EMFILE_CHILD: &str = "GORT_FAULTS_EMFILE_CHILD";

/// More clients than descriptors: with `RLIMIT_NOFILE` lowered (in a child
/// process, so no other test loses descriptors) and every descriptor used,
/// `CLIENTS` clients connect; the server's `accept` hits `EMFILE`, logs and
/// backs off (docs/semantics.md, "net"), the connections wait in the
/// backlog; once descriptors are freed every one of them is accepted and
/// served, and the error never reached the accept loop.
#[cfg(target_os = "linux")]
#[test]
fn accept_resumes_after_emfile() {
    if std::env::var_os(EMFILE_CHILD).is_some() {
        emfile_child();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "accept_resumes_after_emfile",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMFILE_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- child stdout\n{stdout}\n--- child stderr\n{stderr}");
    assert!(out.status.success(), "child failed: {:?}", out.status);
    assert!(stdout.contains("EMFILE-RESUMED"), "the child ran the body");
}

#[cfg(target_os = "linux")]
fn emfile_child() {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use gort::net::{TcpListener, TcpStream};

    const CLIENTS: usize = 6;
    let lim = libc::rlimit {
        rlim_cur: 128,
        rlim_max: 128,
    };
    // SAFETY: setrlimit reads the struct we pass; lowering our own soft and
    // hard limits affects only this (child) process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let rt = gort::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let (go_tx, go_rx) = chan::<()>(0);
        let server = gort::spawn({
            let listener = listener.clone();
            async move {
                // Accept only once every client is connected: an accept
                // racing the connects would take a descriptor a client
                // needs.
                go_rx.recv().await.unwrap();
                let mut handlers = Vec::new();
                // Only `close` ends this loop: EMFILE is never returned.
                for _ in 0..CLIENTS {
                    let (mut s, _) = listener.accept().await.unwrap();
                    handlers.push(gort::spawn(async move {
                        let mut b = [0u8; 1];
                        s.read_exact(&mut b).await.unwrap();
                        s.write_all(&b).await.unwrap();
                    }));
                }
                for h in handlers {
                    h.await.unwrap();
                }
                CLIENTS
            }
        });
        // Use up every descriptor.
        let mut ballast = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => ballast.push(f),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        // Free exactly one per client: each client socket takes one back,
        // and the connections wait in the backlog.
        ballast.truncate(ballast.len() - CLIENTS);
        let mut clients = Vec::new();
        for i in 0..CLIENTS {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&[i as u8]).await.unwrap();
            clients.push(c);
        }
        // Not one descriptor is left: the server's accepts fail.
        assert!(std::fs::File::open("/dev/null").is_err());
        go_tx.send(()).await.unwrap();
        let mut waited = 0;
        while listener.accept_stats().exhausted < 2 {
            assert!(waited < 2000, "accept never hit EMFILE twice");
            gort::time::sleep(Duration::from_millis(5)).await;
            waited += 1;
        }
        let during = listener.accept_stats();
        assert!(!server.is_finished(), "nothing could be accepted yet");
        // Free descriptors: every waiting connection is accepted.
        ballast.clear();
        for (i, c) in clients.iter_mut().enumerate() {
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], i as u8);
        }
        assert_eq!(server.await.unwrap(), CLIENTS);
        println!(
            "during exhaustion: {during:?}; after: {:?}",
            listener.accept_stats()
        );
    });
    println!("EMFILE-RESUMED");
}

// ---------------------------------------------------------------------
// A runtime dropped while tasks block in `syscall` and in long polls.

/// A future whose first poll blocks its thread for `ms` (a long poll, as
/// a CPU-bound or misbehaving future does), then waits forever.
struct LongPoll {
    ms: u64,
    entered: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
    _guard: Counted,
}

impl Future for LongPoll {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.ms > 0 {
            self.entered.fetch_add(1, SeqCst);
            std::thread::sleep(Duration::from_millis(self.ms));
            self.ms = 0;
            self.done.fetch_add(1, SeqCst);
        }
        Poll::Pending
    }
}

#[test]
fn drop_waits_for_syscalls_and_long_polls() {
    const SYSCALLS: usize = 4;
    const LONG_POLLS: usize = 2;
    watchdog(60, || {
        let (rt, started, stopped) = runtime(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let entered = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..SYSCALLS {
            let g = Counted(drops.clone());
            let (entered, done) = (entered.clone(), done.clone());
            rt.spawn(async move {
                let _g = g;
                entered.fetch_add(1, SeqCst);
                gort::syscall(|| std::thread::sleep(Duration::from_millis(200)));
                done.fetch_add(1, SeqCst);
                std::future::pending::<()>().await;
            });
        }
        for _ in 0..LONG_POLLS {
            rt.spawn(LongPoll {
                ms: 200,
                entered: entered.clone(),
                done: done.clone(),
                _guard: Counted(drops.clone()),
            });
        }
        // Wait until every one of them is inside its blocking call.
        let mut spins = 0;
        while entered.load(SeqCst) < SYSCALLS + LONG_POLLS {
            assert!(spins < 10_000, "the tasks never started");
            std::thread::sleep(Duration::from_millis(1));
            spins += 1;
        }
        // Usually none has ended yet (each blocks 200 ms): printed, not
        // asserted, so that a stalled machine cannot fail the test.
        let done_before = done.load(SeqCst);
        println!(
            "{done_before} of {} blocking calls ended before the drop",
            SYSCALLS + LONG_POLLS
        );
        drop(rt);
        // The drop returned after every blocking call ended ...
        assert_eq!(done.load(SeqCst), SYSCALLS + LONG_POLLS);
        // ... dropped each future exactly once ...
        assert_eq!(drops.load(SeqCst), SYSCALLS + LONG_POLLS);
        // ... and left no thread behind.
        assert_eq!(started.load(SeqCst), stopped.load(SeqCst));
    });
}

// ---------------------------------------------------------------------
// Aborts racing completion.

/// 10 000 tasks that complete at once or after a yield, aborted at the
/// same time from another thread (half) and from another task (half):
/// every handle resolves, to its output or to a cancellation; each future
/// is dropped exactly once; each output made is dropped exactly once.
#[test]
fn aborts_race_completion() {
    const TASKS: usize = 10_000;
    watchdog(120, || {
        let (rt, started, stopped) = runtime(2);
        let futures_dropped = Arc::new(AtomicUsize::new(0));
        let outputs_made = Arc::new(AtomicUsize::new(0));
        let outputs_dropped = Arc::new(AtomicUsize::new(0));
        let (ok, cancelled) = rt.block_on(async {
            let hs: Vec<_> = (0..TASKS)
                .map(|i| {
                    let g = Counted(futures_dropped.clone());
                    let made = outputs_made.clone();
                    let out = outputs_dropped.clone();
                    gort::spawn(async move {
                        let _g = g;
                        if i % 2 == 1 {
                            gort::yield_now().await;
                        }
                        made.fetch_add(1, SeqCst);
                        Counted(out)
                    })
                })
                .collect();
            let aborts: Vec<_> = hs.iter().map(|h| h.abort_handle()).collect();
            let (from_thread, from_task): (Vec<_>, Vec<_>) =
                aborts.into_iter().enumerate().partition(|(i, _)| i % 4 < 2);
            let t = std::thread::spawn(move || {
                for (_, a) in from_thread {
                    a.abort();
                }
            });
            let task = gort::spawn(async move {
                for (_, a) in from_task {
                    a.abort();
                }
            });
            let (mut ok, mut cancelled) = (0, 0);
            for h in hs {
                match h.await {
                    Ok(out) => {
                        ok += 1;
                        drop(out);
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "{e:?}");
                        cancelled += 1;
                    }
                }
            }
            task.await.unwrap();
            gort::syscall(|| t.join().unwrap());
            (ok, cancelled)
        });
        println!("{ok} completed, {cancelled} cancelled");
        assert_eq!(ok + cancelled, TASKS);
        assert_eq!(
            futures_dropped.load(SeqCst),
            TASKS,
            "each future dropped once"
        );
        // A task's output is made in the poll that completes it, and an
        // abort takes effect only between polls: so every output made
        // reached its handle, and was dropped exactly once.
        assert_eq!(outputs_dropped.load(SeqCst), outputs_made.load(SeqCst));
        assert_eq!(outputs_made.load(SeqCst), ok);
        still_serves(&rt);
        drop(rt);
        assert_eq!(started.load(SeqCst), stopped.load(SeqCst));
    });
}
