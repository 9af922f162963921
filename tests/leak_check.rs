//! Leak checks (goleak's `VerifyNone`): `gort::runtime::check_leaks` and
//! `#[gort::test(leak_check)]` report the spawned tasks still alive after
//! the grace period, each with its name and the line that spawned it; tasks
//! that finish within the grace, the `block_on` future and the caller are
//! not reported, and a check from inside a task does not stall its P.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::runtime::check_leaks;
use gort::sync::chan;

/// The grace of the checks that expect a leak: short, since it is waited
/// out in full.
const SHORT: Duration = Duration::from_millis(100);
/// The grace of the checks that expect none: generous, since it returns as
/// soon as the tasks are gone.
const LONG: Duration = Duration::from_secs(10);

#[test]
fn a_task_parked_forever_is_reported_with_its_name_and_spawn_site() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let (tx, rx) = chan::<u32>(0);
        let reader = async move { rx.recv().await };
        let builder = gort::task::Builder::new().name("stuck-reader");
        let named = builder.spawn(reader);
        let named_line = line!() - 1;
        let (tx2, rx2) = chan::<u32>(0);
        let plain = gort::spawn(async move { rx2.recv().await });
        let plain_line = line!() - 1;

        let leaked = check_leaks(SHORT).unwrap_err();
        let text = leaked.to_string();
        assert_eq!(leaked.count(), 2, "{text}");
        assert!(text.starts_with("leaked goroutines:\ngoroutine "), "{text}");
        assert_eq!(text, format!("leaked goroutines:\n{}", leaked.dump()));
        let block = |id: gort::task::Id| {
            let start = text
                .find(&format!("goroutine {id} ["))
                .unwrap_or_else(|| panic!("goroutine {id} not reported:\n{text}"));
            text[start..].lines().take(2).collect::<Vec<_>>().join("\n")
        };
        let named_block = block(named.id());
        assert!(
            named_block.starts_with(&format!("goroutine {} [chan receive, ", named.id())),
            "{named_block}"
        );
        assert!(named_block.contains("] stuck-reader:\n"), "{named_block}");
        assert!(
            named_block.ends_with(&format!("\tspawned at {}:{named_line}", file!())),
            "{named_block}"
        );
        let plain_block = block(plain.id());
        assert!(plain_block.contains("]:\n"), "{plain_block}");
        assert!(
            plain_block.ends_with(&format!("\tspawned at {}:{plain_line}", file!())),
            "{plain_block}"
        );
        // The Error and Debug faces.
        let e: &dyn std::error::Error = &leaked;
        assert_eq!(e.to_string(), text);
        assert!(format!("{leaked:?}").contains("count: 2"));

        // Unblocked, both finish, and the next check passes.
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        assert_eq!(named.await.unwrap(), Some(1));
        assert_eq!(plain.await.unwrap(), Some(2));
        check_leaks(LONG).unwrap();
    });
}

#[test]
fn tasks_that_finish_within_the_grace_are_not_reported() {
    let rt = gort::Builder::new().procs(2).build().unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    rt.block_on(async move {
        // One sleeps a while; one is parked on a channel and woken during
        // the grace by a third.
        let f1 = f.clone();
        gort::spawn(async move {
            gort::time::sleep(Duration::from_millis(30)).await;
            f1.fetch_add(1, SeqCst);
        });
        let (tx, rx) = chan::<u32>(0);
        let f2 = f.clone();
        gort::spawn(async move {
            assert_eq!(rx.recv().await, Some(7));
            f2.fetch_add(1, SeqCst);
        });
        gort::spawn(async move {
            gort::time::sleep(Duration::from_millis(20)).await;
            tx.send(7).await.unwrap();
        });
        // None is awaited: the check itself waits for them.
        check_leaks(LONG).unwrap();
        assert_eq!(f.load(SeqCst), 2);
    });
    assert_eq!(finished.load(SeqCst), 2);
}

#[test]
fn no_tasks_is_ok_at_once_and_the_block_on_future_is_not_counted() {
    let rt = gort::Builder::new().procs(1).build().unwrap();
    rt.block_on(async {
        check_leaks(Duration::ZERO).unwrap();
        assert_eq!(gort::spawn(async { 3 }).await.unwrap(), 3);
        check_leaks(Duration::ZERO).unwrap();
    });
    rt.handle().check_leaks(Duration::ZERO).unwrap();
}

#[test]
fn from_inside_a_task_it_skips_the_caller_and_does_not_stall_its_p() {
    let rt = gort::Builder::new().procs(1).build().unwrap();
    rt.block_on(async {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let checker = gort::spawn(async move {
            // With one P, `other` can only run while this task waits in
            // the check if the wait hands the P off.
            let other = gort::spawn(async move {
                r.store(true, SeqCst);
            });
            let clean = check_leaks(LONG);
            let ran_meanwhile = ran.load(SeqCst);
            assert!(other.is_finished());
            (clean, ran_meanwhile)
        });
        let (clean, ran_meanwhile) = checker.await.unwrap();
        // Ok: the caller itself was not counted, and `other` finished.
        clean.unwrap();
        assert!(ran_meanwhile);

        // A leak seen from inside a task is reported without the caller.
        let (tx, rx) = chan::<u32>(0);
        let parked = gort::spawn(async move { rx.recv().await });
        let parked_id = parked.id();
        let checker = gort::spawn(async move { check_leaks(SHORT).unwrap_err() });
        let checker_id = checker.id();
        let leaked = checker.await.unwrap();
        assert_eq!(leaked.count(), 1, "{leaked}");
        assert!(
            leaked
                .dump()
                .starts_with(&format!("goroutine {parked_id} [")),
            "{leaked}"
        );
        assert!(
            !leaked.dump().contains(&format!("goroutine {checker_id} [")),
            "{leaked}"
        );
        tx.send(5).await.unwrap();
        assert_eq!(parked.await.unwrap(), Some(5));
    });
}

#[test]
#[should_panic(expected = "gort::runtime::check_leaks called outside a gort runtime")]
fn outside_a_runtime_it_panics() {
    let _ = check_leaks(SHORT);
}

#[gort::test(leak_check)]
#[should_panic(expected = "leaked goroutines:\ngoroutine ")]
async fn the_attribute_fails_a_test_that_leaks() {
    gort::spawn(std::future::pending::<()>());
}

#[gort::test(leak_check)]
async fn the_attribute_passes_a_clean_test() {
    assert_eq!(gort::spawn(async { 1 }).await.unwrap(), 1);
    // Not awaited, but done well within the 1 s grace.
    gort::spawn(async {
        gort::time::sleep(Duration::from_millis(10)).await;
    });
}

#[gort::test(procs = 1, leak_check, timeout = "30s")]
async fn options_combine() {
    assert_eq!(gort::runtime::gomaxprocs(), 1);
    let (tx, rx) = chan::<u32>(1);
    gort::spawn(async move { tx.send(1).await.unwrap() });
    assert_eq!(rx.recv().await, Some(1));
}

#[gort::test(leak_check)]
#[should_panic(expected = "boom")]
async fn a_panicking_body_keeps_its_panic() {
    gort::spawn(std::future::pending::<()>());
    panic!("boom");
}

#[gort::test(procs = 1, synctest, leak_check)]
async fn with_synctest_too() {
    // In the bubble the sleep is virtual; the check's grace is real time.
    let h = gort::spawn(async {
        gort::time::sleep(Duration::from_secs(3600)).await;
        7
    });
    assert_eq!(h.await.unwrap(), 7);
}
