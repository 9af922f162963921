//! `#[gort::test]` runs with Go's deadlock detector on: a test whose tasks
//! all wait on gort primitives that nothing can complete fails with
//! "all goroutines are asleep - deadlock!" and a dump, instead of hanging.
//!
//! The firing cases run in a child process (this binary re-run on one test
//! with `GORT_DEADLOCK_CHILD` set), so the panic is observed from outside;
//! without the variable, their bodies return at once.

use std::process::Command;
use std::time::Duration;

use gort::sync::{chan, WaitGroup};

const CHILD: &str = "GORT_DEADLOCK_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs `test` alone in a child process; its stderr, after checking that
/// it failed.
fn child_panics(test: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "the child should fail; stderr: {stderr}"
    );
    stderr
}

/// As [`child_panics`], and the failure is the deadlock report.
fn child_fails(test: &str) -> String {
    let stderr = child_panics(test);
    assert!(
        stderr.contains("all goroutines are asleep - deadlock!"),
        "stderr: {stderr}"
    );
    stderr
}

/// Main receives on a channel whose sender it keeps and never uses.
async fn receive_nobody_sends() {
    let (tx, rx) = chan::<u32>(0);
    let _keep = tx;
    let _ = rx.recv().await;
}

#[gort::test]
async fn child_chan_receive_nobody_sends() {
    if !in_child() {
        return;
    }
    let (tx, rx) = chan::<u32>(0);
    let _keep = tx; // held by the test, never used: no one will send.
    let t = gort::spawn(async move { rx.recv().await });
    let _ = t.await;
}

#[test]
fn fires_on_a_chan_receive_nobody_sends_to() {
    let stderr = child_fails("child_chan_receive_nobody_sends");
    // The dump names the task and why it waits.
    assert!(stderr.contains("chan receive"), "stderr: {stderr}");
    assert!(stderr.contains("tests/deadlock.rs"), "stderr: {stderr}");
}

#[gort::test]
async fn child_select_and_waitgroup_stuck() {
    if !in_child() {
        return;
    }
    let (_tx1, rx1) = chan::<u32>(0);
    let (_tx2, rx2) = chan::<u32>(1);
    let wg = WaitGroup::new();
    wg.add(1);
    let selector = gort::spawn(async move {
        gort::select! {
            v = rx1.recv() => v,
            v = rx2.recv() => v,
        }
    });
    let waiter = {
        let wg = wg.clone();
        gort::spawn(async move { wg.wait().await })
    };
    let _ = selector.await;
    let _ = waiter.await;
}

#[test]
fn fires_on_a_select_and_a_waitgroup_nobody_completes() {
    let stderr = child_fails("child_select_and_waitgroup_stuck");
    assert!(stderr.contains("select"), "stderr: {stderr}");
    assert!(stderr.contains("WaitGroup wait"), "stderr: {stderr}");
}

/// A receive that a sleeping task will satisfy: not a deadlock.
#[gort::test]
async fn quiet_when_a_timer_will_send() {
    let (tx, rx) = chan::<u32>(0);
    gort::spawn(async move {
        gort::time::sleep(Duration::from_millis(100)).await;
        tx.send(3).await.unwrap();
    });
    assert_eq!(rx.recv().await, Some(3));
}

/// A WaitGroup that a blocking job will complete: not a deadlock.
#[gort::test]
async fn quiet_when_blocking_work_will_finish() {
    let wg = WaitGroup::new();
    wg.add(1);
    let done = wg.clone();
    gort::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(100));
        done.done();
    });
    wg.wait().await;
}

/// Go's `select {}` in a task, awaited by the test: waits forever.
#[gort::test]
async fn child_empty_select() {
    if !in_child() {
        return;
    }
    let t = gort::spawn(async {
        gort::select! {}
    });
    let _ = t.await;
}

#[test]
fn fires_on_an_empty_select() {
    let stderr = child_fails("child_empty_select");
    assert!(stderr.contains("[select,"), "stderr: {stderr}");
}

/// Main itself blocked on a channel nobody sends to: Go's report lists
/// `goroutine 1 [chan receive]:`; gort's lists the test body as
/// `goroutine 0 [chan receive, ..] main:` with where it was blocked on.
#[gort::test]
async fn child_main_receive_nobody_sends() {
    if in_child() {
        receive_nobody_sends().await;
    }
}

#[test]
fn fires_with_main_in_the_dump() {
    let stderr = child_fails("child_main_receive_nobody_sends");
    let main = stderr
        .lines()
        .find(|l| l.starts_with("goroutine 0 "))
        .unwrap_or_else(|| panic!("no main in the dump; stderr: {stderr}"));
    assert!(
        main.starts_with("goroutine 0 [chan receive, ") && main.ends_with("] main:"),
        "{main}"
    );
    assert!(
        stderr.contains("\tblock_on at tests/deadlock.rs:"),
        "stderr: {stderr}"
    );
}

// The three programs: each would finish; none is a deadlock.

/// A std thread completes a `futures` oneshot after 300 ms.
#[gort::test(timeout = "30s")]
async fn quiet_while_a_std_thread_holds_a_oneshot_sender() {
    let (tx, rx) = futures::channel::oneshot::channel();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(7).unwrap();
    });
    assert_eq!(rx.await.unwrap(), 7);
    t.join().unwrap();
}

/// futures-timer's Delay, woken from its global timer thread.
#[gort::test(timeout = "30s")]
async fn quiet_on_a_futures_timer_delay() {
    futures_timer::Delay::new(Duration::from_millis(300)).await;
}

/// async-io's Timer, woken by async-io's reactor thread.
#[gort::test(timeout = "30s")]
async fn quiet_on_an_async_io_timer() {
    async_io::Timer::after(Duration::from_millis(300)).await;
}

/// The same three under `Builder::detect_deadlock(true)` + `block_on`.
#[test]
fn quiet_on_foreign_wakers_under_block_on() {
    let rt = gort::Builder::new()
        .procs(2)
        .detect_deadlock(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            tx.send(1).unwrap();
        });
        let a = gort::spawn(async move { rx.await.unwrap() });
        let b = gort::spawn(futures_timer::Delay::new(Duration::from_millis(300)));
        let c = gort::spawn(async {
            async_io::Timer::after(Duration::from_millis(300)).await;
        });
        assert_eq!(a.await.unwrap(), 1);
        b.await.unwrap();
        c.await.unwrap();
    });
}

/// `timeout = ".."`: past it, the test panics with the attribute's own text
/// and the dump. The test's body waits on a timer far past the timeout, so
/// the detector stays quiet and only the timeout can end it.
#[gort::test(timeout = "300ms")]
async fn child_runs_past_its_timeout() {
    if !in_child() {
        return;
    }
    gort::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn a_test_past_its_timeout_panics_with_the_dump() {
    let stderr = child_panics("child_runs_past_its_timeout");
    assert!(
        stderr.contains("test timed out after 300ms\n\ngoroutine 0 [sleep, "),
        "stderr: {stderr}"
    );
}

/// The timeout is not a timer: a test that deadlocks under a long timeout
/// is still reported as a deadlock, at once.
#[gort::test(timeout = "1h")]
async fn child_deadlocks_under_a_timeout() {
    if in_child() {
        receive_nobody_sends().await;
    }
}

#[test]
fn a_timeout_does_not_hide_a_deadlock() {
    child_fails("child_deadlocks_under_a_timeout");
}

/// `detect_deadlock = false`: the same stuck receive is left alone (here
/// ended by the timeout instead, so the child still fails, but not with
/// the deadlock message).
#[gort::test(detect_deadlock = false, timeout = "300ms")]
async fn child_stuck_without_the_detector() {
    if in_child() {
        receive_nobody_sends().await;
    }
}

#[test]
fn detect_deadlock_false_turns_the_detector_off() {
    let stderr = child_panics("child_stuck_without_the_detector");
    assert!(
        stderr.contains("test timed out after 300ms"),
        "stderr: {stderr}"
    );
    assert!(
        !stderr.contains("all goroutines are asleep"),
        "stderr: {stderr}"
    );
}
