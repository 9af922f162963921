//! `gort::time::after_func` (Go's `time.AfterFunc`, Go 1.23's `Stop` and
//! `Reset` results), on a synctest bubble's clock so every instant is exact.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gort::synctest;
use gort::time::{after_func, now, sleep, Instant};

const SEC: Duration = Duration::from_secs(1);

/// When the recorded functions ran.
type Runs = Arc<Mutex<Vec<Instant>>>;
/// A function for `after_func`.
type Func = Box<dyn FnOnce() + Send>;

/// A maker of functions that record when they ran.
fn recorder() -> (Runs, impl Fn() -> Func) {
    let runs = Arc::new(Mutex::new(Vec::new()));
    let r = runs.clone();
    let make = move || {
        let r = r.clone();
        Box::new(move || r.lock().unwrap().push(now())) as Func
    };
    (runs, make)
}

#[test]
fn f_runs_once_after_d_in_a_task_of_its_own() {
    synctest::run(async {
        let t0 = now();
        let procs_seen = Arc::new(AtomicUsize::new(usize::MAX));
        let p = procs_seen.clone();
        let (runs, _) = recorder();
        let r = runs.clone();
        let _t = after_func(5 * SEC, move || {
            // A task runs on a P; the timer fired on an M or the monitor.
            p.store(gort::runtime::current_proc().unwrap_or(usize::MAX), SeqCst);
            r.lock().unwrap().push(now());
        });
        sleep(10 * SEC).await;
        assert_eq!(*runs.lock().unwrap(), vec![t0 + 5 * SEC]);
        assert_ne!(procs_seen.load(SeqCst), usize::MAX, "f ran outside a task");
    });
}

#[test]
fn stop_before_it_fires_prevents_it_and_reports_true() {
    synctest::run(async {
        let (runs, make) = recorder();
        let t = after_func(5 * SEC, make());
        sleep(2 * SEC).await;
        assert!(t.stop());
        assert!(!t.stop(), "stopped already");
        sleep(HOUR).await;
        assert!(runs.lock().unwrap().is_empty());
    });
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn stop_after_it_fired_reports_false() {
    synctest::run(async {
        let (runs, make) = recorder();
        let t = after_func(SEC, make());
        sleep(2 * SEC).await;
        assert!(!t.stop());
        assert_eq!(runs.lock().unwrap().len(), 1);
    });
}

#[test]
fn reset_moves_an_armed_timer_and_reports_true() {
    synctest::run(async {
        let t0 = now();
        let (runs, make) = recorder();
        let t = after_func(5 * SEC, make());
        sleep(2 * SEC).await;
        assert!(t.reset(10 * SEC));
        sleep(HOUR).await;
        // Not at 5 s (no stale fire), at 2 + 10 s.
        assert_eq!(*runs.lock().unwrap(), vec![t0 + 12 * SEC]);
    });
}

#[test]
fn reset_of_a_stopped_timer_arms_it_and_reports_false() {
    synctest::run(async {
        let t0 = now();
        let (runs, make) = recorder();
        let t = after_func(5 * SEC, make());
        assert!(t.stop());
        assert!(!t.reset(3 * SEC));
        sleep(HOUR).await;
        assert_eq!(*runs.lock().unwrap(), vec![t0 + 3 * SEC]);
    });
}

#[test]
fn reset_after_f_ran_arms_nothing() {
    synctest::run(async {
        let (runs, make) = recorder();
        let t = after_func(SEC, make());
        sleep(2 * SEC).await;
        assert!(!t.reset(SEC));
        sleep(HOUR).await;
        assert_eq!(runs.lock().unwrap().len(), 1);
    });
}

#[test]
fn dropping_the_timer_does_not_stop_it_and_zero_fires_at_once() {
    synctest::run(async {
        let t0 = now();
        let (runs, make) = recorder();
        drop(after_func(7 * SEC, make()));
        let _zero = after_func(Duration::ZERO, make());
        sleep(HOUR).await;
        assert_eq!(*runs.lock().unwrap(), vec![t0, t0 + 7 * SEC]);
    });
}

#[gort::test]
async fn on_the_real_clock_too() {
    let (tx, rx) = gort::sync::chan(1);
    let t = after_func(Duration::from_millis(5), move || tx.try_send(()).unwrap());
    assert_eq!(rx.recv().await, Some(()));
    assert!(!t.stop());
}
