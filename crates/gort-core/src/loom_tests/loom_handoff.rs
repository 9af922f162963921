//! The P hand-off protocol (`p.rs`, "Hand-off"): an owner inside a poll
//! touching its queue, ending its poll, or leaving a syscall, racing
//! sysmon's retake and the next owner. The owner-only data is modelled by a
//! loom `UnsafeCell`, so loom fails the model if two Ms ever touch it
//! concurrently.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use crate::sched::p::{state, P, PPOLLING, PSYSCALL};

struct Shared {
    p: P,
    /// Stands for the owner-only queue.
    queue: UnsafeCell<u32>,
}

/// Sysmon's side: retake the P if its status is in `want` (the blocked
/// state it saw), then act as the next owner and touch the queue. Returns
/// whether it retook the P.
fn sysmon_retakes(s: Arc<Shared>, want: u64) -> thread::JoinHandle<bool> {
    thread::spawn(move || {
        let seen = s.p.status.load(std::sync::atomic::Ordering::Acquire);
        if state(seen) == want && s.p.retake(seen) {
            s.p.acquire();
            // SAFETY: the retake made this thread the next owner.
            s.queue.with_mut(|q| unsafe { *q += 10 });
            s.p.release();
            true
        } else {
            false
        }
    })
}

/// Owner: inside a poll, touches the queue (guarded), then ends the poll.
/// Sysmon: retakes the poll it saw, and the "next owner" touches the queue.
/// Never both at once; the owner learns it lost the P.
#[test]
fn loom_handoff_poll_vs_retake() {
    loom::model(|| {
        let s = Arc::new(Shared {
            p: P::new(0),
            queue: UnsafeCell::new(0),
        });
        s.p.acquire();
        let word = s.p.begin_poll();
        let sysmon = sysmon_retakes(s.clone(), PPOLLING);
        let touched = if s.p.lock_owner(word) {
            // SAFETY: the owner holds the P (lock_owner succeeded).
            s.queue.with_mut(|q| unsafe { *q += 1 });
            s.p.unlock_owner(word);
            true
        } else {
            false
        };
        let kept = s.p.end_poll(word);
        let retook = sysmon.join().unwrap();
        assert_ne!(
            kept, retook,
            "exactly one of owner and sysmon ends up with the P"
        );
        // SAFETY: both threads are done with it.
        let q = s.queue.with(|q| unsafe { *q });
        assert_eq!(q, u32::from(touched) + if retook { 10 } else { 0 });
        if kept {
            s.p.release();
        }
    });
}

/// A syscall racing its retake: the owner either gets its P back on exit
/// or learns it was handed off; sysmon retakes only a syscall it saw.
#[test]
fn loom_handoff_syscall_vs_retake() {
    loom::model(|| {
        let s = Arc::new(Shared {
            p: P::new(0),
            queue: UnsafeCell::new(0),
        });
        s.p.acquire();
        let word = s.p.begin_poll();
        let sys = s.p.enter_syscall(word).expect("not retaken yet");
        let sysmon = sysmon_retakes(s.clone(), PSYSCALL);
        let back = s.p.exit_syscall(sys);
        if let Some(w) = back {
            assert!(s.p.lock_owner(w));
            // SAFETY: the owner holds the P (lock_owner succeeded).
            s.queue.with_mut(|q| unsafe { *q += 1 });
            s.p.unlock_owner(w);
            assert!(s.p.end_poll(w));
        }
        let retook = sysmon.join().unwrap();
        assert_ne!(back.is_some(), retook);
    });
}
