//! The deadlock detector: fires on a program nothing can wake (checked in
//! a child process, so the panic is observed from outside), stays quiet on
//! one a timer, a socket, a task or an outside handle will wake.

use std::process::Command;
use std::time::Duration;

use gort_core::{Builder, Runtime};

fn rt() -> Runtime {
    Builder::new()
        .procs(2)
        .detect_deadlock(true)
        .build()
        .unwrap()
}

const CHILD: &str = "GORT_DEADLOCK_CHILD";

/// Runs this test binary again, running only `test`, with `CHILD` set.
fn run_child(test: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap()
}

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs `test` in a child; its stderr, after checking that the child
/// failed with the deadlock report.
fn child_deadlocks(test: &str) -> String {
    let out = run_child(test);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the child should have panicked");
    assert!(
        stderr.contains("all goroutines are asleep - deadlock!"),
        "stderr: {stderr}"
    );
    stderr
}

/// A wait nobody can end: block_on awaits a task that awaits a task that
/// waits on nothing (no waker of it exists anywhere). Every reference to
/// each is gort's own: the detector fires, and the dump lists main first.
#[test]
fn fires_on_a_wait_nobody_can_end() {
    if in_child() {
        rt().block_on(async {
            let holder = gort_core::spawn(std::future::pending::<()>());
            let waiter = gort_core::spawn(async move { holder.await.ok() });
            waiter.await.unwrap();
        });
        return;
    }
    let stderr = child_deadlocks("fires_on_a_wait_nobody_can_end");
    // Main is in the dump, first, with its wait reason and location.
    let main_line = stderr
        .lines()
        .find(|l| l.starts_with("goroutine 0 "))
        .unwrap_or_else(|| panic!("no main in the dump; stderr: {stderr}"));
    assert!(
        main_line.starts_with("goroutine 0 [join, ") && main_line.ends_with("] main:"),
        "{main_line}"
    );
    assert!(
        stderr.contains("\tblock_on at crates/gort-core/tests/rt_deadlock.rs:"),
        "stderr: {stderr}"
    );
    // The dump follows, naming the parked tasks.
    assert!(stderr.contains("goroutine "), "stderr: {stderr}");
    assert!(stderr.contains("rt_deadlock.rs"), "stderr: {stderr}");
}

/// A receive that a timer will satisfy is not a deadlock.
#[test]
fn quiet_when_a_timer_will_wake() {
    rt().block_on(async {
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        gort_core::spawn(async move {
            gort_core::time::sleep(Duration::from_millis(120)).await;
            tx.send(7).unwrap();
        });
        assert_eq!(rx.await.unwrap(), 7);
    });
}

/// A receive that a socket will satisfy is not a deadlock.
#[test]
fn quiet_when_a_socket_will_wake() {
    use gort_core::io::{Direction, Registration};
    use std::io::Write;
    rt().block_on(async {
        let mut listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let reg = Registration::new(&mut listener, mio::Interest::READABLE).unwrap();
        // A plain thread connects after a while (it holds no handle: only
        // the registered socket keeps the detector quiet).
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(120));
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"x").unwrap();
        });
        let (_s, _) = reg
            .async_io(Direction::Read, || listener.accept())
            .await
            .unwrap();
        t.join().unwrap();
    });
}

/// A thread outside the runtime holding a Handle may still spawn: quiet.
#[test]
fn quiet_while_an_outside_thread_holds_a_handle() {
    let rt = rt();
    let h = rt.handle();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(120));
        h.spawn(async move { tx.send(9).unwrap() });
    });
    assert_eq!(rt.block_on(rx).unwrap(), 9);
    t.join().unwrap();
}

/// Long CPU work in a task is not a deadlock either.
#[test]
fn quiet_while_a_task_computes() {
    rt().block_on(async {
        let v = gort_core::spawn(async {
            let t = std::time::Instant::now();
            let mut n = 0u64;
            while t.elapsed() < Duration::from_millis(120) {
                n = n.wrapping_add(1);
            }
            n
        })
        .await
        .unwrap();
        assert!(v > 0);
    });
}

/// Work on a `spawn_blocking` thread will finish and wake: quiet.
#[test]
fn quiet_while_blocking_work_runs() {
    rt().block_on(async {
        let v = gort_core::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(120));
            5
        })
        .await
        .unwrap();
        assert_eq!(v, 5);
    });
}

/// A task in `gort::syscall` will return and wake: quiet.
#[test]
fn quiet_while_a_syscall_runs() {
    rt().block_on(async {
        let v = gort_core::spawn(async {
            gort_core::syscall(|| std::thread::sleep(Duration::from_millis(120)));
            6
        })
        .await
        .unwrap();
        assert_eq!(v, 6);
    });
}

/// A std thread holding a `oneshot::Sender` will complete it: quiet. The
/// block_on future's waker is held by the oneshot, which gort does not
/// know, so its owner may be woken.
#[test]
fn quiet_while_a_foreign_thread_holds_mains_waker() {
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(7).unwrap();
    });
    assert_eq!(rt().block_on(rx).unwrap(), 7);
    t.join().unwrap();
}

/// The same with a task waiting on the oneshot, and block_on joining it.
#[test]
fn quiet_while_a_foreign_thread_holds_a_tasks_waker() {
    rt().block_on(async {
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            tx.send(8).unwrap();
        });
        let v = gort_core::spawn(async move { rx.await.unwrap() })
            .await
            .unwrap();
        assert_eq!(v, 8);
        t.join().unwrap();
    });
}

/// A foreign thread that wakes a task 10 000 times through a `futures`
/// mpsc, sleeping now and then so the runtime goes idle in between: every
/// message arrives, in order, and the detector never fires.
#[test]
fn quiet_while_a_foreign_thread_keeps_waking() {
    use futures::StreamExt;
    const N: u64 = 10_000;
    rt().block_on(async {
        let (mut tx, mut rx) = futures::channel::mpsc::channel::<u64>(16);
        let t = std::thread::spawn(move || {
            for i in 0..N {
                futures::executor::block_on(futures::SinkExt::send(&mut tx, i)).unwrap();
                if i % 2_000 == 0 {
                    std::thread::sleep(Duration::from_millis(60));
                }
            }
        });
        let got = gort_core::spawn(async move {
            let mut next = 0;
            while let Some(v) = rx.next().await {
                assert_eq!(v, next);
                next += 1;
            }
            next
        })
        .await
        .unwrap();
        assert_eq!(got, N);
        t.join().unwrap();
    });
}

/// A foreign waker that is dropped without waking leaves nothing that can
/// wake: the detector fires once it is gone.
#[test]
fn fires_once_the_foreign_waker_is_dropped() {
    if in_child() {
        rt().block_on(async {
            let (tx, rx) = futures::channel::oneshot::channel::<u32>();
            let holder = gort_core::spawn(std::future::pending::<()>());
            // The sender goes away after a while without sending: the
            // receive then ends (`Canceled`), and the wait on `holder`
            // is one nobody can end.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                drop(tx);
            });
            assert!(rx.await.is_err());
            holder.await.ok();
        });
        return;
    }
    child_deadlocks("fires_once_the_foreign_waker_is_dropped");
}
