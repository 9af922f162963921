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
fn child_fails(test: &str) -> String {
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
    assert!(
        stderr.contains("all goroutines are asleep - deadlock!"),
        "stderr: {stderr}"
    );
    stderr
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
