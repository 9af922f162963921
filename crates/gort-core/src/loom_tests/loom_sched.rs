//! The scheduler's real loop under loom: a `Runtime` with two Ps whose Ms
//! are model threads (`crate::loom::thread`), running `find_runnable`,
//! `stop`, `startm`, `wakep` and `park_m` as they are, with no sysmon (its
//! retake has its own models, `loom_handoff.rs`) and no netpoller (compiled
//! out under loom). A task is woken from outside the runtime (the model's
//! main thread, which holds no P, like a foreign reactor's thread): it
//! must run, whatever the Ms were doing when the wake came: spinning,
//! deciding to park (the last spinning M's "delicate dance", `park.rs`
//! steps 1-3), or parked. A lost wake-up leaves every model thread blocked,
//! which loom reports as a deadlock.
//!
//! What this proves, at the CI's preemption bound: the submitter side
//! (`inject` + `wakep`: a SeqCst fence, then `npidle`/`nmspinning`) and the
//! parking side (`put_p`, `drop_spinning`, the fence, the re-check of every
//! queue) never both miss each other on the real code, with two Ps and the
//! Ms' own wake-up chain (`reset_spinning` waking the next M). What it does
//! not: the netpoller, sysmon, more than two Ps (the timer-readied model
//! covers one timer's path).
//!
//! Depth: the two-P models pass at `LOOM_MAX_PREEMPTIONS=2` (about 70 s
//! each on 2 cores) and at 3: the timer-readied one in 1164 s, the
//! outside-wake one in 2775 s (`LOOM_DEEP_SCHED=1 .ci/loom-deep`, niced
//! on a shared 2-core machine). The one-P
//! variants (`_one_p`: one P, one M, the outside waker) pass at 3 (7 s),
//! 4 (46 s) and 5 (182 s); `.ci/loom-deep` runs them at 3.

use std::future::poll_fn;
use std::task::{Poll, Waker};

use loom::sync::{Arc, Condvar, Mutex};

/// A latch the model's main thread waits on (a loom condvar, so a latch
/// never set is a deadlock loom reports).
#[derive(Default)]
struct Latch {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn set(&self) {
        *self.set.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// Loom names the caller in a deadlock report (which latch).
    #[track_caller]
    fn wait(&self) {
        let at = std::panic::Location::caller();
        let mut g = self.set.lock().unwrap();
        while !*g {
            let _ = at;
            g = self.cv.wait(g).unwrap();
        }
    }
}

fn runtime(procs: usize) -> crate::Runtime {
    crate::Builder::new()
        .procs(procs)
        .max_threads(procs)
        .build()
        .unwrap()
}

/// A task parks, handing its waker out; the main thread (no P) wakes it,
/// racing the Ms going idle after the task's first poll. The task must
/// run its second poll.
#[test]
fn loom_sched_outside_wake_is_never_lost() {
    outside_wake(2);
}

/// [`loom_sched_outside_wake_is_never_lost`] with one P and one M: the
/// M's own park (`stop`: drop the P, the fence, the re-check) against the
/// outside `inject` + `wakep`, with no second M to cover for a miss. Small
/// enough for `.ci/loom-deep`'s preemption bound 3.
#[test]
fn loom_sched_outside_wake_one_p() {
    outside_wake(1);
}

fn outside_wake(procs: usize) {
    loom::model(move || {
        let rt = runtime(procs);
        let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let parked = Arc::new(Latch::default());
        let ran = Arc::new(Latch::default());
        let (w2, p2, r2) = (waker.clone(), parked.clone(), ran.clone());
        let mut first = true;
        drop(rt.spawn(poll_fn(move |cx| {
            if std::mem::take(&mut first) {
                *w2.lock().unwrap() = Some(cx.waker().clone());
                p2.set();
                return Poll::Pending;
            }
            r2.set();
            Poll::Ready(())
        })));
        parked.wait();
        let w = waker.lock().unwrap().take().expect("the task parked");
        w.wake();
        ran.wait();
        // Not `drop`: it waits for the Ms on a `std` condvar (`shutdown.rs`:
        // it counts OS threads), which would block loom's one OS thread.
        // The Ms see the shutdown and exit; loom waits for them.
        rt.shutdown_background();
    });
}

/// The timer-readied path: a task arms a timer on its P and parks; the
/// Ms go idle, one of them sleeping until the timer (`park.rs` step 4);
/// the clock reaches the deadline (the sleep's timeout, which the model
/// delivers: `Shared::loom_time_passes`). The M that fires the timer must
/// get the task run: onto its own P's timer-ready queue if it took one,
/// else the global queue with an M woken for it.
#[test]
fn loom_sched_timer_readied_task_runs() {
    timer_readied(2);
}

/// [`loom_sched_timer_readied_task_runs`] with one P and one M: the M
/// sleeps until the timer holding no P, wakes, takes the P back and must
/// fire the timer and run the task. Small enough for preemption bound 3.
#[test]
fn loom_sched_timer_readied_one_p() {
    timer_readied(1);
}

fn timer_readied(procs: usize) {
    loom::model(move || {
        crate::time::clock::loom_set_now(1);
        let rt = runtime(procs);
        let parked = Arc::new(Latch::default());
        let ran = Arc::new(Latch::default());
        let (p2, r2) = (parked.clone(), ran.clone());
        let mut entry = None;
        drop(rt.spawn(poll_fn(move |cx| match &entry {
            None => {
                entry = Some(crate::sched::add_timer(11, cx.waker()).expect("not due yet"));
                p2.set();
                Poll::Pending
            }
            Some(e) if e.is_fired() => {
                r2.set();
                Poll::Ready(())
            }
            Some(_) => Poll::Pending,
        })));
        parked.wait();
        rt.handle().shared.loom_time_passes(11);
        ran.wait();
        rt.shutdown_background();
    });
}
