//! A synctest bubble's two small protocols (`sched/bubble.rs`), on the real
//! `Bubble`: the Ms' kick to the monitor, and the `synctest::wait` slot.

use std::task::{Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

use crate::sched::bubble::Bubble;

/// Counts its wake-ups.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// An M's kick racing the monitor taking the previous one: the monitor's
/// last look after the M has kicked sees it. A kick lost here would leave
/// a durably blocked bubble waiting for the 20 ms safety net.
#[test]
fn loom_kick_is_never_lost() {
    loom::model(|| {
        let b = Arc::new(Bubble::new());
        let b2 = b.clone();
        let m = thread::spawn(move || b2.kick());
        let early = b.take_kick();
        m.join().unwrap();
        let late = b.take_kick();
        assert!(early ^ late, "the kick was seen exactly once");
    });
}

/// A waiter registering, the monitor releasing it, and the waiter's next
/// poll: released exactly once, and the poll after the release returns.
/// A cancel (a dropped `wait`) racing the release leaves the slot empty
/// either way, and a second waiter is refused while the first waits.
#[test]
fn loom_wait_released_or_cancelled() {
    loom::model(|| {
        let b = Arc::new(Bubble::new());
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(count.clone());
        let id = b.poll_wait(None, &w).unwrap().expect("registered");
        let other = Waker::from(std::sync::Arc::new(Count(AtomicUsize::new(0))));
        assert_eq!(b.poll_wait(None, &other), Err(()), "two waiters at once");

        let b2 = b.clone();
        let monitor = thread::spawn(move || b2.release_waiter());
        let cancel = thread::spawn({
            let b = b.clone();
            move || b.cancel_wait(id)
        });
        let released = monitor.join().unwrap();
        cancel.join().unwrap();
        assert_eq!(count.0.load(SeqCst), usize::from(released));
        // Released or withdrawn, the waiter is gone: its next poll returns
        // and a new waiter may register.
        assert_eq!(b.poll_wait(Some(id), &w), Ok(None));
        assert!(b.poll_wait(None, &other).unwrap().is_some());
    });
}
