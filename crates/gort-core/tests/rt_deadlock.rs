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

/// A receive nobody can send to: a task waits on a oneshot whose sender
/// lives in another parked task, and block_on waits on the first task.
#[test]
fn fires_on_a_receive_nobody_can_send_to() {
    if in_child() {
        rt().block_on(async {
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            let holder = gort_core::spawn(async move {
                // Keeps the sender alive, never sends.
                std::future::pending::<()>().await;
                drop(tx);
            });
            let waiter = gort_core::spawn(async move { rx.await.ok() });
            waiter.await.unwrap();
            holder.abort();
        });
        return;
    }
    let out = run_child("fires_on_a_receive_nobody_can_send_to");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child should have panicked");
    assert!(
        stderr.contains("all goroutines are asleep - deadlock!"),
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
    let h = rt.handle().clone();
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
