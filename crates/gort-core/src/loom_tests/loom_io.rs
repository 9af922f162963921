//! The readiness protocol of `io::PollDesc`: an event racing a task's
//! registration (no lost wake-up), and a clear racing a newer event (the
//! newer readiness is kept).

use std::sync::Arc;
use std::task::{Context, Poll};

use loom::future::block_on;
use loom::thread;

use crate::io::{Direction, PollDesc};

const READABLE: usize = 1;

/// A task that saw "not ready" and is registering races the poller's
/// event: it either sees the readiness on its re-read, or is woken.
#[test]
fn loom_io_event_vs_registration() {
    loom::model(|| {
        let desc = Arc::new(PollDesc::new(0));
        let d = desc.clone();
        let poller = thread::spawn(move || d.add_bits(READABLE));
        let got = block_on(std::future::poll_fn(|cx| {
            desc.poll_ready(Direction::Read, cx)
        }));
        assert!(got.is_ok());
        poller.join().unwrap();
    });
}

/// A task clearing the readiness it consumed (after `WouldBlock`) races a
/// new event: if the event came after the read, the clear must not erase
/// it, so the task does not sleep on data that is there.
#[test]
fn loom_io_clear_vs_new_event() {
    loom::model(|| {
        let desc = Arc::new(PollDesc::new(0));
        desc.add_bits(READABLE);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Ok(ev)) = desc.poll_ready(Direction::Read, &mut cx) else {
            panic!("ready after the first event");
        };
        let d = desc.clone();
        let poller = thread::spawn(move || d.add_bits(READABLE));
        // The operation "returned WouldBlock" for the first event.
        desc.clear_readiness(ev);
        poller.join().unwrap();
        // The second event's readiness survives whichever order.
        assert!(matches!(
            desc.poll_ready(Direction::Read, &mut cx),
            Poll::Ready(Ok(_))
        ));
    });
}
